# Runtime defaults shared by every sakbox config.
default_scope = 'sakbox'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # Keeps the last `max_keep_ckpts` checkpoints and the best one by
    # `save_best`; written atomically (see sakbox.engine.AtomicLocalBackend).
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=2000,
        max_keep_ckpts=3,
        save_best=None,
        rule=None,
        backend_args=dict(backend='atomic_local')),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)

custom_hooks = [
    # torch>=2.6 loads checkpoints with weights_only=True: store the message
    # hub as tensors so `--resume` works without unsafe unpickling.
    dict(type='WeightsOnlyCheckpointHook'),
    # Per-iteration seeding: a resumed run draws the same noise as an
    # uninterrupted one (bitwise-equal weights on CPU with deterministic=True).
    dict(type='IterationSeedHook'),
]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
# CPU runs keep freed tensor memory for the next step instead of unmapping it
# (sakbox.utils.cpu_malloc; 'default' leaves glibc as it is). A top-level key, not in
# env_cfg: MMEngine's strategies pass env_cfg on as keyword arguments.
cpu_malloc = 'retain'

vis_backends = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
visualizer = dict(type='MultiTaskVisualizer', vis_backends=vis_backends, name='visualizer')

log_processor = dict(by_epoch=False, window_size=50)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
