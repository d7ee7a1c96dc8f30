# Dense linear probe of a trained RADIO ViT-B on NYUD-v2: the student is frozen (eval
# mode, no gradients) and only a per-task linear head (BN + 1x1 conv on the last level,
# LinearHead) is trained for semseg / depth / normals / edge. No teacher is involved.
#   python tools/train.py configs/radio/radio_vit-b_1xb8-linear-probe-20k_nyud-448x576.py \
#       --cfg-options model.student.init_cfg.checkpoint=\
#           work_dirs/radio_vit-b_8xb32-300k_in1k-1024x1024/iter_300000.pth
# `prefix='student.'` takes the backbone of a RADIODistiller checkpoint. The student's
# arguments must match the checkpoint: radio_vit-b_8xb32-300k_in1k-1024x1024.py has 2
# summary tokens (clip, dinov2; SAM has no summary target) padded with 6 registers. For a converted official
# checkpoint use the `student` printed by tools/model_converters/radio_official_to_sakbox.py.
_base_ = ['../_base_/datasets/nyud.py', '../_base_/default_runtime.py']
crop_size = (448, 576)
model = dict(
    type='MultiTaskDistiller',
    data_preprocessor=dict(type='MultiTaskDataPreProcessor', mean=[122.771, 116.746, 104.094],
                           std=[68.501, 66.632, 70.323], bgr_to_rgb=True, size_divisor=16,
                           # the SAK NYUD protocol: centred padding to the crop size
                           size=crop_size, pad_position='center'),
    student=dict(type='RADIOViT', arch='base', patch_size=16, max_img_size=2048,
                 register_multiple=8, num_cls_tokens=2, frozen=True,
                 init_cfg=dict(type='Pretrained', prefix='student.',
                               checkpoint='work_dirs/radio_vit-b_8xb32-300k_in1k-1024x1024/'
                               'iter_300000.pth')),
    teachers=None,
    distill_loss=None,
    decode_heads=dict(type='LinearHead', in_index=-1),
    tasks=_base_.tasks,
    task_channels=_base_.task_channels,
    task_losses=dict(
        semseg=dict(type='MultiTaskCrossEntropyLoss', loss_weight=1.0),
        depth=dict(type='DepthL1Loss', loss_weight=1.0),
        normals=dict(type='NormalsL1Loss', loss_weight=10.0),
        edge=dict(type='BalancedBCELoss', pos_weight=0.95, loss_weight=50.0)),
    build_teachers=False)

max_iters = 20000
val_interval = 2000
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4, betas=(0.9, 0.999)))
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end=max_iters, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
train_dataloader = dict(batch_size=8)
val_evaluator = dict(type='MultiTaskMetric', tasks=_base_.tasks, dataset='nyud',
                     single_task_baselines=None)
test_evaluator = val_evaluator
default_hooks = dict(
    checkpoint=dict(by_epoch=False, interval=val_interval, save_best='semseg/mIoU',
                    rule='greater'),
    logger=dict(interval=50))
