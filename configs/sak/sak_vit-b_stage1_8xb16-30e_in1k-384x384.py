# SAK stage 1: distil DINOv2-B / CLIP-B / SAM-B into the ViT-B stem and its adapter
# paths on ImageNet-1k (official configs/s1/BB_s1.yml): 384x384 RandomResizedCrop + flip,
# 16 images per GPU on 8 GPUs (128 in all), AdamW lr 1e-3, wd 0.01, 30 epochs with 2
# warm-up epochs then cosine, no gradient clipping.
#   bash tools/dist_train.sh configs/sak/sak_vit-b_stage1_8xb16-30e_in1k-384x384.py 8
# Like the official, there is no validation metric: the distillation losses are logged.
_base_ = [
    '../_base_/models/sak_vit-b.py', '../_base_/datasets/imagenet.py',
    '../_base_/default_runtime.py'
]
img_size = (384, 384)
model = dict(
    _delete_=True,
    type='MultiTeacherDistiller',
    data_preprocessor=_base_.data_preprocessor,
    student=dict(**_base_.student, img_size=img_size),
    teachers=_base_.teachers,
    distill_loss=_base_.model.distill_loss,
    distill_weight=1.0)
model['teachers']['dinov2']['img_size'] = img_size
model['teachers']['clip']['img_size'] = img_size

# Official stage-1 schedule (BB_s1.yml + train_s1.py): AdamW lr 1e-3, wd 0.01, 30 epochs,
# 2 warm-up epochs (from 1.25e-7) then cosine to 1e-5 (train_s1.py's lr_min), no gradient
# clipping; updated every iteration (the official steps per epoch). (Written here rather than taken
# from _base_/schedules/schedule_cosine_30e.py, whose `default_hooks` / `log_processor`
# duplicate default_runtime.py's keys, which MMEngine refuses among bases.)
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
    checkpoint=dict(by_epoch=True, interval=1, max_keep_ckpts=3),
    logger=dict(log_metric_by_epoch=True))
log_processor = dict(by_epoch=True)

train_dataloader = dict(batch_size=16)
val_dataloader = None
val_evaluator = None
val_cfg = None
test_dataloader = None
test_evaluator = None
test_cfg = None
