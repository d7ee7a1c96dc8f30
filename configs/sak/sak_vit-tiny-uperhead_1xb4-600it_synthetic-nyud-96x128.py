# The CPU demo configs/sak/sak_vit-tiny_synthetic-nyud.py (same student, teachers, data,
# crop and schedule) with mmseg's ViT + UPerNet decoder instead of SAKHead: one shared
# mmseg MultiLevelNeck turns every task's four router outputs (one stride, 12x16 tokens) into
# a pyramid, an mmseg UPerHead per task decodes it, and an mmseg FCNHead on semseg adds an
# auxiliary loss (0.4 x the semseg loss) during training. docs/decoders.md explains the parts.
#   python tools/dataset_converters/make_synthetic_scenes.py --layout nyud --out data/synthetic_nyud
#   python tools/train.py configs/sak/sak_vit-tiny-uperhead_1xb4-600it_synthetic-nyud-96x128.py
#   python tools/test.py configs/sak/sak_vit-tiny-uperhead_1xb4-600it_synthetic-nyud-96x128.py \
#       work_dirs/sak_vit-tiny-uperhead_synthetic-nyud/iter_600.pth
_base_ = ['./sak_vit-tiny_1xb4-600it_synthetic-nyud-96x128.py']
# mmseg.models imports mmcv.ops, which mmcv-lite lacks: install sakbox's mmcv.ops shim
# (pure-PyTorch point_sample; every compiled op raises when used) before the model is built.
mmcv_ops_shim = True
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    # The student's patch is 8 (not 16 as in mmseg's ViT-B), so the scales 2 / 1 / 0.5 / 0.25
    # give mmseg's strides 4 / 8 / 16 / 32. Its in_channels come from the student (64 x 4).
    neck=dict(type='mmseg.MultiLevelNeck', out_channels=64, scales=[2, 1, 0.5, 0.25]),
    # in_channels ([64] * 4, one per in_index) and num_classes are filled in per task; the
    # loss of every head is the task's task_losses entry (an mmseg loss_decode is refused).
    decode_heads=dict(_delete_=True, type='mmseg.UPerHead', in_index=[0, 1, 2, 3],
                      pool_scales=(1, 2, 3, 6), channels=32, dropout_ratio=0.1,
                      norm_cfg=norm_cfg, align_corners=False),
    auxiliary_heads=dict(
        semseg=dict(type='mmseg.FCNHead', in_index=2, channels=32, num_convs=1,
                    concat_input=False, dropout_ratio=0.1, norm_cfg=norm_cfg,
                    align_corners=False)),
    auxiliary_loss_weight=0.4)
