# CPU demo of E-RADIO: radio_vit-tiny_1xb32-600it_synthetic-nyud-48x48.py with a tiny ERADIO
# student at 64 px
# (E-RADIO needs multiples of 32; its features are on a stride-16 grid).
#   python tools/analysis_tools/compute_phi_s_stats.py \
#       configs/radio/radio_eradio-tiny_1xb32-600it_synthetic-nyud-64x64.py \
#       --out work_dirs/phi_s/radio-tiny_synthetic-64.pth --num-batches 20
#   python tools/train.py configs/radio/radio_eradio-tiny_1xb32-600it_synthetic-nyud-64x64.py
_base_ = ['./radio_vit-tiny_1xb32-600it_synthetic-nyud-48x48.py']
img_size = 64
tiny_clip = dict(embed_dim=32, vision_cfg=dict(image_size=img_size, layers=2, width=64,
                                               patch_size=8, head_width=32),
                 text_cfg=dict(context_length=16, vocab_size=49408, width=32, heads=2, layers=1))
model = dict(
    student=dict(_delete_=True, type='ERADIO', dim=24, stem_dim=24, depths=(1, 1, 2, 1),
                 num_heads=(2, 4), window_size=4, embed_dim=96),
    teachers=dict(vit=dict(img_size=img_size),
                  clip=dict(img_size=img_size, model_kwargs=tiny_clip)),
    phi_s=dict(stats='work_dirs/phi_s/radio-tiny_synthetic-64.pth'))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', size=img_size, scale=(0.05, 0.6)),
    dict(type='MultiTaskRandomFlip', prob=0.5),
    dict(type='PackMultiTaskInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
custom_hooks = [
    dict(type='WeightsOnlyCheckpointHook'),
    dict(type='IterationSeedHook'),
    dict(type='MultiResolutionHook', resolutions=[32, img_size]),
]
