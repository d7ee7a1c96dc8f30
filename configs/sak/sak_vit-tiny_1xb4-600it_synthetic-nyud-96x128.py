# CPU demo: the tiny SAK (configs/_base_/models/sak_vit-tiny.py) on the synthetic NYUD-v2
# scenes (120 train / 40 val, 96x128). Trains and tests in a few minutes on 2 CPU cores:
#   python tools/dataset_converters/make_synthetic_scenes.py --layout nyud --out data/synthetic_nyud
#   python tools/train.py configs/sak/sak_vit-tiny_1xb4-600it_synthetic-nyud-96x128.py
#   python tools/test.py configs/sak/sak_vit-tiny_1xb4-600it_synthetic-nyud-96x128.py \
#       work_dirs/sak_vit-tiny_1xb4-600it_synthetic-nyud-96x128/iter_600.pth
_base_ = [
    '../_base_/models/sak_vit-tiny.py', '../_base_/datasets/synthetic_nyud.py',
    '../_base_/schedules/schedule_cosine_iter.py', '../_base_/default_runtime.py'
]
crop_size = (96, 128)
task_losses = dict(  # the official NYUD weights
    semseg=dict(type='MultiTaskCrossEntropyLoss', loss_weight=1.0),
    depth=dict(type='DepthL1Loss', loss_weight=1.0),
    normals=dict(type='NormalsL1Loss', loss_weight=10.0),
    edge=dict(type='BalancedBCELoss', pos_weight=0.95, loss_weight=50.0))
# Official protocol (docs/evaluation.md): pad centred to crop_size with 0 after
# normalisation, for training crops, validation and test alike.
model = dict(
    data_preprocessor=dict(size=crop_size, pad_position='center'),
    student=dict(img_size=crop_size),
    tasks=_base_.tasks,
    task_channels=_base_.task_channels,
    task_losses=task_losses)

max_iters = 600
warmup_iters = 50
optim_wrapper = dict(optimizer=dict(lr=2e-3, weight_decay=0.01), clip_grad=dict(max_norm=10))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='CosineAnnealingLR', T_max=max_iters - warmup_iters, eta_min=1e-5,
         by_epoch=False, begin=warmup_iters, end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
# Lighter augmentation than the real recipe: no random rescaling. Rescaling divides depth
# by the scale factor, and on these tiny scenes the model cannot tell the scale, so its L1
# optimum is the median over scales (a ~20% depth bias) and it needs far longer to learn.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='MultiTaskRandomFlip', prob=0.5),
    dict(type='MultiTaskPhotoMetricDistortion'),
    dict(type='AddIgnoreRegions'),
    dict(type='PackMultiTaskInputs'),
]
train_dataloader = dict(batch_size=4, num_workers=1, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=8, num_workers=1)
test_dataloader = val_dataloader

# Delta_m needs single-task baselines (none for synthetic data); edges are matched
# in-process (nproc=0): 40 small images do not pay for worker start-up.
val_evaluator = dict(type='MultiTaskMetric', tasks=_base_.tasks, dataset='nyud',
                     single_task_baselines=None,
                     task_metric_cfgs=dict(edge=dict(nproc=0)))
test_evaluator = val_evaluator
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1, save_best=None))
custom_hooks = [
    dict(type='WeightsOnlyCheckpointHook'),
    dict(type='IterationSeedHook'),
    dict(type='RouterStatsHook', interval=200),
]
randomness = dict(seed=0)
