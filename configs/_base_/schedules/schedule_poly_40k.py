# SAK stage-2 schedule: AdamW, poly (power 0.9) decay over 40k iterations,
# gradient clipping at 10, validation every 4k iterations. (Checkpoint and
# logger intervals live in the runtime config / the full config: MMEngine
# refuses a key set by two `_base_` files.)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-5, weight_decay=1e-6, betas=(0.9, 0.999)),
    clip_grad=dict(max_norm=10, norm_type=2),
)
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end=40000, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=40000, val_interval=4000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
