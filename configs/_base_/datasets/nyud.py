# NYUD-v2 multi-task (semseg / depth / normals / edge), 795 train + 654 val; the
# multi-task release's images are 425x560 (docs/datasets.md). Layout: docs/datasets.md.
# Protocol of the official SAK code (docs/evaluation.md, "Test protocol"):
#   train: random scale 0.5-2.0, 448x576 crop (cat_max_ratio 0.75), flip, photometric
#          distortion; test: the full image.
#   Then, in the model's data preprocessor (set by the full configs as
#   `data_preprocessor=dict(size=crop_size, pad_position='center')`): normalise, pad
#   centred to crop_size with 0 (= the mean colour; labels 255, depth 0, normals 0),
#   run the model at exactly 448x576, crop the predictions back to the image.
# These pipelines do not pad: a model config without that preprocessor setting pads
# each batch at the bottom/right to its largest image ("image as it is", any size).
dataset_type = 'NYUDv2Dataset'
data_root = 'data/NYUDv2'
tasks = ['semseg', 'depth', 'normals', 'edge']
num_classes = 40
task_channels = dict(semseg=40, depth=1, normals=3, edge=1)
dataset_meta = dict(tasks=tasks, num_classes=num_classes, task_channels=task_channels)
crop_size = (448, 576)  # (H, W)

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
    batch_size=2,
    num_workers=4,
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
    batch_size=1,
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
