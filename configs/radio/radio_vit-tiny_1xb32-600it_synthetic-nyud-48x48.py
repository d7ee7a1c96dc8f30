# CPU demo of AM-RADIO: a tiny RADIOViT distils three fixed, randomly initialised tiny
# teachers of different architectures (a timm ViT, an open_clip ViT tower, a timm ResNet)
# on random crops of the synthetic scene images, at 32 or 48 px per batch (CPE + summary
# tokens + PHI-S, as the full configs). A few minutes on 2 CPU cores:
#   python tools/dataset_converters/make_synthetic_scenes.py --layout nyud --out data/synthetic_nyud
#   python tools/analysis_tools/compute_phi_s_stats.py \
#       configs/radio/radio_vit-tiny_1xb32-600it_synthetic-nyud-48x48.py \
#       --out work_dirs/phi_s/radio-tiny_synthetic.pth --num-batches 20
#   python tools/train.py configs/radio/radio_vit-tiny_1xb32-600it_synthetic-nyud-48x48.py
# (tools/analysis_tools/radio_distill_check.py measures the same kind of run on held-out
# photos.) Teachers are random, so nothing here means anything beyond "it learns".
_base_ = ['../_base_/default_runtime.py']
img_size = 48
tiny_clip = dict(embed_dim=32, vision_cfg=dict(image_size=img_size, layers=2, width=64,
                                               patch_size=8, head_width=32),
                 text_cfg=dict(context_length=16, vocab_size=49408, width=32, heads=2, layers=1))
model = dict(
    type='RADIODistiller',
    data_preprocessor=dict(type='MultiTaskDataPreProcessor'),
    student=dict(type='RADIOViT', arch=dict(embed_dim=96, depth=4, num_heads=4), patch_size=8,
                 max_img_size=96),
    teachers=dict(
        # targets as the official DINOv2 wrapper: normed class / patch tokens
        vit=dict(type='TimmViTTeacher', arch='vit_small_patch16_224', img_size=img_size,
                 out_indices=[1, 2], with_summary=True, final_norm=True,
                 model_kwargs=dict(patch_size=8, embed_dim=48, depth=3, num_heads=3)),
        clip=dict(type='OpenCLIPTeacher', model_name='ViT-B-32', img_size=img_size,
                  with_summary=True,
                  out_indices=[0, 1], model_kwargs=tiny_clip),
        cnn=dict(type='TimmCNNTeacher', arch='resnet10t', out_indices=(1, 2))),
    teacher_options=dict(vit=dict(adaptor=dict(hidden_channels=192)),
                         clip=dict(adaptor=dict(hidden_channels=192)),
                         cnn=dict(adaptor=dict(hidden_channels=192))),
    phi_s=dict(stats='work_dirs/phi_s/radio-tiny_synthetic.pth', summary=True),
    teacher_init_seed=0,  # the same random teachers in every run and process
    build_teachers=True)

data_root = 'data/synthetic_nyud'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', size=img_size, scale=(0.05, 0.6)),
    dict(type='MultiTaskRandomFlip', prob=0.5),
    dict(type='PackMultiTaskInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='ImageFolderDataset', data_root=data_root,
                 data_prefix=dict(img_path='images'), pipeline=train_pipeline))

max_iters = 600
warmup_iters = 30
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.02, betas=(0.9, 0.999)),
    clip_grad=None)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='CosineAnnealingLR', T_max=max_iters - warmup_iters, eta_min=1e-5,
         by_epoch=False, begin=warmup_iters, end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
default_hooks = dict(logger=dict(interval=20),
                     checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
custom_hooks = [
    dict(type='WeightsOnlyCheckpointHook'),
    dict(type='IterationSeedHook'),
    dict(type='MultiResolutionHook', resolutions=[32, img_size]),
]
randomness = dict(seed=0)
