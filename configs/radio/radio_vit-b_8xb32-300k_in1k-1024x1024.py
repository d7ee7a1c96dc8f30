# AM-RADIO with a ViT-B/16 student, distilled on ImageNet-1k images (labels unused) from
# the AM-RADIO v2 teacher committee:
#   clip   : DFN CLIP ViT-H/14-378 (open_clip `ViT-H-14-378-quickgelu`, tag `dfn5b`)
#   dinov2 : DINOv2 ViT-g/14 with registers (timm `vit_giant_patch14_reg4_dinov2.lvd142m`);
#            targets as the official DinoWrapper: normed class token (summary) and normed
#            patch tokens (dense)
#   sam    : SAM ViT-H (timm `samvit_huge_patch16`, long side 1024 + pad), dense target only,
#            distilled at high resolution as RADIOv2.5: a second student pass at 1024 px on
#            8 of the 32 images per GPU (our share), so that the student's 64x64 grid meets
#            SAM's 64x64 grid; CLIP and DINOv2 see the low-resolution pass
# Student: one summary token per teacher (+ registers up to 8), cropped position
# embeddings over a 2048x2048 grid (random crops in training), the low-resolution pass at
# a size drawn per batch by MultiResolutionHook from the 1024 px crops; per-teacher
# 2-layer MLP adaptors; summary: cosine loss, dense: 0.9 cos + 0.1 smooth-L1 per token on
# the teacher's grid; teacher features standardised with PHI-S.
#
# 1) PHI-S statistics (once; teachers only, a few hundred batches are plenty):
#   python tools/analysis_tools/compute_phi_s_stats.py \
#       configs/radio/radio_vit-b_8xb32-300k_in1k-1024x1024.py \
#       --out work_dirs/phi_s/radio_in1k_teachers.pth --num-batches 200
# 2) Train:  bash tools/dist_train.sh configs/radio/radio_vit-b_8xb32-300k_in1k-1024x1024.py 8
# Schedule: our choice for an ImageNet-1k budget (AdamW 1e-3, wd 0.02, 8 x 32 images,
# 300k iterations, 5k warm-up + cosine); the paper trains longer on DataComp-1B.
_base_ = ['../_base_/datasets/imagenet.py', '../_base_/default_runtime.py']
img_size = (1024, 1024)  # loaded crops: SAM's pass; the other teachers' pass is resized
# RADIO's input conditioning: OpenAI-CLIP statistics (also what converted checkpoints use).
data_preprocessor = dict(
    type='MultiTaskDataPreProcessor',
    mean=[122.771, 116.746, 104.094],
    std=[68.501, 66.632, 70.323],
    bgr_to_rgb=True)
teachers = dict(
    clip=dict(type='OpenCLIPTeacher', model_name='ViT-H-14-378-quickgelu',
              pretrained_tag='dfn5b', pretrained=True, with_summary=True),
    dinov2=dict(type='TimmViTTeacher', arch='vit_giant_patch14_reg4_dinov2.lvd142m',
                pretrained=True, with_summary=True, final_norm=True),
    sam=dict(type='SAMTeacher', arch='samvit_huge_patch16', long_side=1024, pretrained=True))
teacher_options = dict(
    # Summary targets are the teachers' own: CLIP's projected image embedding (needed for
    # zero-shot), DINOv2's normed class token.
    clip=dict(adaptor=dict(hidden_channels=1536, num_inner=1)),
    dinov2=dict(input_size=448, adaptor=dict(hidden_channels=1536, num_inner=1)),
    sam=dict(summary=False, student_input_size=1024, student_batch=8,
             adaptor=dict(hidden_channels=1536, num_inner=1)))
model = dict(
    type='RADIODistiller',
    data_preprocessor=data_preprocessor,
    student=dict(type='RADIOViT', arch='base', patch_size=16, max_img_size=2048,
                 register_multiple=8, pos_dropout=0.1, drop_path_rate=0.0),
    teachers=teachers,
    teacher_options=teacher_options,
    summary_loss=dict(type='SummaryCosineLoss'),
    distill_loss=dict(type='FeatureDistillLoss', loss_type='cos+l1', cos_weight=0.9,
                      l1_weight=0.1, cos_mode='token'),
    feature_match='teacher',
    phi_s=dict(stats='work_dirs/phi_s/radio_in1k_teachers.pth', summary=False),
    # widths of the teachers' levels, so that test-time builds need no teacher
    teacher_dims=dict(clip=[1280] * 4, dinov2=[1536] * 4, sam=[1280] * 4),
    build_teachers=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', size=img_size, scale=(0.25, 1.0)),
    dict(type='MultiTaskRandomFlip', prob=0.5),
    dict(type='PackMultiTaskInputs'),
]
train_dataloader = dict(batch_size=32, dataset=dict(pipeline=train_pipeline))
val_dataloader = None
val_evaluator = None
val_cfg = None
test_dataloader = None
test_evaluator = None
test_cfg = None

max_iters = 300000
warmup_iters = 5000
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.02, betas=(0.9, 0.999)),
    paramwise_cfg=dict(custom_keys={'pos_embed': dict(decay_mult=0.0),
                                    'cls_token': dict(decay_mult=0.0)}),
    clip_grad=None)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='CosineAnnealingLR', T_max=max_iters - warmup_iters, eta_min=1e-6,
         by_epoch=False, begin=warmup_iters, end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=10000, max_keep_ckpts=3),
                     logger=dict(interval=50))
custom_hooks = [
    dict(type='WeightsOnlyCheckpointHook'),
    dict(type='IterationSeedHook'),
    # multi-resolution training: one size per batch, the same on every rank
    dict(type='MultiResolutionHook', resolutions=[224, 320, 432]),
]
