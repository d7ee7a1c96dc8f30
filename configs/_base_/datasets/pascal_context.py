# PASCAL-Context multi-task (semseg / human_parts / normals / edge / sal),
# 4998 train + 5105 val (images at most 500x500). Layout: docs/datasets.md.
# Protocol of the official SAK code (docs/evaluation.md, "Test protocol"):
#   train: random scale 0.5-2.0, 512x512 crop (cat_max_ratio 0.75), flip, photometric
#          distortion; test: the full image.
#   Then, in the model's data preprocessor (set by the full configs as
#   `data_preprocessor=dict(size=crop_size, pad_position='center')`): normalise, pad
#   centred to 512x512 with 0 (= the mean colour; labels 255, normals 0), run the model
#   at exactly 512x512, crop the predictions back to the image.
# These pipelines do not pad: a model config without that preprocessor setting pads
# each batch at the bottom/right to its largest image ("image as it is", any size).
dataset_type = 'PASCALContextDataset'
data_root = 'data/PASCALContext'
tasks = ['semseg', 'human_parts', 'normals', 'edge', 'sal']
num_classes = 21
# sal has 2 channels as in the reference (2-way balanced cross-entropy).
task_channels = dict(semseg=21, human_parts=7, normals=3, edge=1, sal=2)
dataset_meta = dict(tasks=tasks, num_classes=num_classes, task_channels=task_channels)
crop_size = (512, 512)  # (H, W)

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
        ann_file='ImageSets/Context/train.txt',
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
        ann_file='ImageSets/Context/val.txt',
        tasks=tasks,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
