# Synthetic scenes in the PASCAL-Context layout (people with parts, VOC furniture).
# Generate it first (about 160 images of 96x128, a few seconds):
#   python tools/dataset_converters/make_synthetic_scenes.py --layout pascal --out data/synthetic_pascal
# Same tasks, classes, pipelines and protocol as pascal_context.py (the full configs pad
# centred to crop_size in the data preprocessor), with 96x128 crops = the image size.
dataset_type = 'PASCALContextDataset'
data_root = 'data/synthetic_pascal'
tasks = ['semseg', 'human_parts', 'normals', 'edge', 'sal']
num_classes = 21
# sal has 2 channels as in the reference (2-way balanced cross-entropy).
task_channels = dict(semseg=21, human_parts=7, normals=3, edge=1, sal=2)
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
        ann_file='ImageSets/Context/train.txt',
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
        ann_file='ImageSets/Context/val.txt',
        tasks=tasks,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
