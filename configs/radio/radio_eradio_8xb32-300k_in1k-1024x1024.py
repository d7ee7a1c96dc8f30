# E-RADIO: the efficient hybrid student (conv stages at strides 4/8, multi-resolution
# windowed-attention stages at 16/32, a stride-16 neck), with the teachers, losses, PHI-S
# and schedule of radio_vit-b_8xb32-300k_in1k-1024x1024.py. Inputs must be multiples of 32.
#   bash tools/dist_train.sh configs/radio/radio_eradio_8xb32-300k_in1k-1024x1024.py 8
_base_ = ['./radio_vit-b_8xb32-300k_in1k-1024x1024.py']
img_size = (1024, 1024)  # loaded crops (SAM's 1024 px pass); the low-res pass: 256-512
model = dict(
    student=dict(_delete_=True, type='ERADIO', dim=128, stem_dim=64, depths=(2, 3, 6, 4),
                 num_heads=(8, 16), window_size=16, sr_ratios=(2, 1), embed_dim=768,
                 drop_path_rate=0.1))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', size=img_size, scale=(0.25, 1.0)),
    dict(type='MultiTaskRandomFlip', prob=0.5),
    dict(type='PackMultiTaskInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
custom_hooks = [
    dict(type='WeightsOnlyCheckpointHook'),
    dict(type='IterationSeedHook'),
    dict(type='MultiResolutionHook', resolutions=[256, 384, 512]),
]
