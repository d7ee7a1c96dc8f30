# Synthetic scenes in the NYUD-v2 layout: the CPU demo dataset.
# Generate it first (about 160 images of 96x128, a few seconds):
#   python tools/dataset_converters/make_synthetic_scenes.py --layout nyud --out data/synthetic_nyud
# Same tasks, classes, pipelines and protocol as nyud.py (the full configs pad centred
# to crop_size in the data preprocessor). The crop / pad size equals the image size
# (96x128), so the images themselves need no padding; smaller ones (`--size`) are padded
# centred exactly as NYUD's 425x560 images are padded to 448x576.
dataset_type = 'NYUDv2Dataset'
data_root = 'data/synthetic_nyud'
tasks = ['semseg', 'depth', 'normals', 'edge']
num_classes = 40
task_channels = dict(semseg=40, depth=1, normals=3, edge=1)
dataset_meta = dict(tasks=tasks, num_classes=num_classes, task_channels=task_channels)
crop_size = (96, 128)  # (H, W)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='RandomRescale', ratio_range=(0.5, 2.0)),
    dict(type='MultiTaskRandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='MultiTaskRandomFlip', prob=0.5),
    dict(type='MultiTaskPhotoMetricDistortion'),
    dict(type='AddIgnoreRegions'),
    dict(type='PackMultiTaskInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='AddIgnoreRegions'),
    dict(type='PackMultiTaskInputs'),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='gt_sets/train.txt',
        tasks=tasks,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='gt_sets/val.txt',
        tasks=tasks,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
