# SAK stage-1 schedule (official train_s1.py): AdamW lr 1e-3, wd 0.01, 2 warm-up epochs
# from 1.25e-7, then cosine decay to 1e-5 at epoch 30 (epoch-based; per-iteration updates).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.01, betas=(0.9, 0.999)),
    clip_grad=None,
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1.25e-4, by_epoch=True, begin=0, end=2,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=28, eta_min=1e-5, by_epoch=True, begin=2, end=30,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=30, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
