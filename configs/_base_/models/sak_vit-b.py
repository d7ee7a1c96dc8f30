# SAK with a ViT-B student and the official ViT-B teacher committee (configs/s*/BB_*.yml):
#   stem   : timm `vit_base_patch16_384` (ImageNet weights), adapter bottleneck 1/4
#   dinov2 : timm `vit_base_patch14_dinov2.lvd142m`
#   clip   : timm `vit_base_patch16_clip_384` (official 'timmclip_base', timm's default tag)
#   sam    : timm `samvit_base_patch16`, input long side resized to 1024 and padded
# Features are taken after blocks 2, 5, 8, 11 of every ViT (official out_indices).
# All widths are 768, so no aligners are created (aligner='auto'), as the official.
# Dataset configs fill in `tasks`, `task_channels`, `task_losses` and the image size;
# configs/sak/sak_vit-l_*.py swap in the ViT-L student and teachers.
data_preprocessor = dict(
    type='MultiTaskDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True)
student = dict(
    type='SAKViT',
    arch='vit_base_patch16_384',
    pretrained=True,
    down_ratio=4,
    aligner='auto',
    router=dict(type='MoRRouter', noisy_gating=True))
# Every teacher receives the student's ImageNet-normalised input as it is
# (input_norm='student'), as the official code does; input_norm='teacher' would
# re-normalise it to each teacher's own stats (CLIP's for the CLIP teacher).
teachers = dict(
    dinov2=dict(type='TimmViTTeacher', arch='vit_base_patch14_dinov2.lvd142m', pretrained=True,
                input_norm='student'),
    clip=dict(type='TimmViTTeacher', arch='vit_base_patch16_clip_384', pretrained=True,
              input_norm='student'),
    sam=dict(type='SAMTeacher', arch='samvit_base_patch16', long_side=1024, pretrained=True,
             input_norm='student'))
model = dict(
    type='MultiTaskDistiller',
    data_preprocessor=data_preprocessor,
    student=student,
    teachers=teachers,
    decode_heads=dict(type='SAKHead', kernel_size=3),
    # 0.9 * cosine + 0.1 * smooth-L1 per level, maps resized to the larger grid.
    distill_loss=dict(type='FeatureDistillLoss', loss_type='cos+l1', cos_weight=0.9,
                      l1_weight=0.1),
    distill_weight=1.0,  # alpha
    build_teachers=True,  # tools/test.py and init_model switch this off
    build_teachers_for_test=False,
    # 'whole': the network runs once on the padded input (the official protocol);
    # dict(mode='slide', crop_size=(h, w), stride=(sh, sw)) for inputs larger than
    # the training crop (docs/evaluation.md).
    test_cfg=dict(mode='whole'))
