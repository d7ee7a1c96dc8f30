# A tiny SAK for CPU demos and tests: a 4-block, 64-dim ViT stem with 8x8 patches (a finer
# grid than 16x16 on 96x128 images) and three tiny teachers with the real DINOv2 / CLIP /
# SAM architectures (timm models shrunk by `model_kwargs`).
# Nothing is downloaded: every network starts from a random init. The teachers' inits
# are seeded (`teacher_init_seed`), so they are the same in every run and process.
tiny = dict(depth=4, embed_dim=64, num_heads=4)
data_preprocessor = dict(
    type='MultiTaskDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True)
student = dict(
    type='SAKViT',
    arch='vit_base_patch16_384',
    pretrained=False,
    model_kwargs=dict(tiny, patch_size=8),
    down_ratio=4,
    aligner='auto',
    router=dict(type='MoRRouter', noisy_gating=True))
# As in the official code, every teacher receives the student's ImageNet-normalised
# input as it is (input_norm='student'); the CLIP teacher's own stats are CLIP's.
teachers = dict(
    dinov2=dict(type='TimmViTTeacher', arch='vit_small_patch14_dinov2', pretrained=False,
                model_kwargs=tiny, input_norm='student'),
    clip=dict(type='TimmViTTeacher', arch='vit_base_patch16_clip_384', pretrained=False,
              model_kwargs=tiny, input_norm='student'),
    sam=dict(type='SAMTeacher', arch='samvit_base_patch16', long_side=128, pretrained=False,
             model_kwargs=dict(tiny, window_size=4, global_attn_indexes=(1, 3)),
             input_norm='student'))
model = dict(
    type='MultiTaskDistiller',
    data_preprocessor=data_preprocessor,
    student=student,
    teachers=teachers,
    teacher_init_seed=2024,
    decode_heads=dict(type='SAKHead', kernel_size=3),
    distill_loss=dict(type='FeatureDistillLoss', loss_type='cos+l1'),
    distill_weight=1.0,
    build_teachers=True,
    build_teachers_for_test=False,
    # 'whole': the network runs once on the padded input (the official protocol);
    # dict(mode='slide', crop_size=(h, w), stride=(sh, sw)) for inputs larger than
    # the training crop (docs/evaluation.md).
    test_cfg=dict(mode='whole'))
