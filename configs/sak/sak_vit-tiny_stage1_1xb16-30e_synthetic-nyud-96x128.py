# SAK stage 1 on the CPU: the tiny student and the tiny random teachers of
# configs/_base_/models/sak_vit-tiny.py, distilled on the synthetic NYUD-v2 scenes read
# as a plain image folder (data/synthetic_nyud/images, 160 images of 96x128), with the
# official stage-1 recipe (RandomResizedCrop + flip, 16 images per batch, AdamW lr 1e-3,
# 30 epochs with 2 warm-up epochs then cosine; 300 iterations here). Online teachers;
# sak_vit-tiny_stage1_1xb16-cached-30e_synthetic-nyud-96x128.py reads their features from a
# cache instead.
#   python tools/dataset_converters/make_synthetic_scenes.py --layout nyud --out data/synthetic_nyud
#   python tools/train.py configs/sak/sak_vit-tiny_stage1_1xb16-30e_synthetic-nyud-96x128.py
_base_ = [
    '../_base_/models/sak_vit-tiny.py', '../_base_/datasets/imagenet.py',
    '../_base_/default_runtime.py'
]
img_size = (96, 128)  # (H, W)
data_root = 'data/synthetic_nyud'
model = dict(
    _delete_=True,
    type='MultiTeacherDistiller',
    data_preprocessor=_base_.data_preprocessor,
    student=dict(**_base_.student, img_size=img_size),
    teachers=_base_.teachers,
    teacher_init_seed=2024,
    distill_loss=_base_.model.distill_loss,
    distill_weight=1.0)

# Crops keep at least 35% of these small images (ImageNet's 8% would leave a few pixels).
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', size=img_size, scale=(0.35, 1.0), backend='pillow'),
    dict(type='MultiTaskRandomFlip', prob=0.5),
    dict(type='PackMultiTaskInputs'),
]
train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    dataset=dict(data_root=data_root, data_prefix=dict(img_path='images'),
                 pipeline=train_pipeline))

# The stage-1 schedule of sak_vit-b_stage1_8xb16-30e_in1k-384x384.py (official BB_s1.yml).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.01, betas=(0.9, 0.999)),
    clip_grad=None)
param_scheduler = [
    dict(type='LinearLR', start_factor=1.25e-4, by_epoch=True, begin=0, end=2,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=28, eta_min=1e-5, by_epoch=True, begin=2, end=30,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=30)
default_hooks = dict(
    logger=dict(interval=10, log_metric_by_epoch=True),
    checkpoint=dict(by_epoch=True, interval=10, max_keep_ckpts=1))
log_processor = dict(by_epoch=True)

val_dataloader = None
val_evaluator = None
val_cfg = None
test_dataloader = None
test_evaluator = None
test_cfg = None
