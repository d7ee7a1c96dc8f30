# ImageNet-1k images for stage-1 (feature) distillation; labels are loaded when present
# but the distiller does not need them. Any ImageNet-style class-folder tree works
# (data/imagenet/{train,val}/<class>/<image>), as do flat folders or list files
# (see ImageFolderDataset and docs/datasets.md). The reference setting is 384x384
# RandomResizedCrop + flip for training and a plain 384x384 resize for validation, both
# resampled with Pillow as the official code's torchvision transforms on PIL images
# (antialiased when shrinking; backend='cv2' is faster and sharper).
dataset_type = 'ImageFolderDataset'
data_root = 'data/imagenet'
img_size = (384, 384)  # (H, W)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', size=img_size, backend='pillow'),
    dict(type='MultiTaskRandomFlip', prob=0.5),
    dict(type='PackMultiTaskInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiTaskResize', scale=img_size, keep_ratio=False, backend='pillow'),
    dict(type='PackMultiTaskInputs'),
]
train_dataloader = dict(
    batch_size=16,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='train'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='val'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
