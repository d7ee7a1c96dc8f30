# SAK ViT-B on NYUD-v2 (configs/sak/sak_vit-b_nyud.py: student, teachers, routers, data,
# official schedule) with mmseg's ViT + UPerNet decoder (mmseg's upernet_vit-b16_mln recipe)
# instead of SAKHead: one mmseg MultiLevelNeck shared by every task (768 -> 768 channels,
# scales 4 / 2 / 1 / 0.5: strides 4 / 8 / 16 / 32 from the 16-pixel patches), an mmseg
# UPerHead per task (512 channels), and an mmseg FCNHead on semseg for an auxiliary loss
# (0.4 x the semseg loss, training only). docs/decoders.md explains the parts.
#   bash tools/dist_train.sh configs/sak/sak_vit-b-uperhead_8xb1-40k_nyud-448x576.py 8
# Four UPerHeads of 512 channels are much larger than four SAKHeads: 129.0M parameters (+
# 23.6M neck, 1.8M auxiliary head) against 23.6M (configs/sak/README.md, "mmseg decoders").
_base_ = ['./sak_vit-b_8xb1-40k_nyud-448x576.py']
# mmseg.models imports mmcv.ops, which mmcv-lite lacks: install sakbox's mmcv.ops shim
# (pure-PyTorch point_sample; every compiled op raises when used) before the model is built.
# With full mmcv installed the real mmcv.ops is used and this does nothing.
mmcv_ops_shim = True
# BN, not SyncBN, in the heads: torch's SyncBatchNorm raises for CPU tensors whenever a
# process group is up (so 2-process gloo runs on CPU-only machines would fail), while the
# inherited `sync_bn = 'torch'` converts every BN to SyncBN on CUDA machines (as the
# official run does) and is dropped on CPU ones. The pooling branch of UPerHead normalises
# 1x1 maps, so BatchNorm needs more than one image per norm: 1 image per GPU (the default
# here) works only with SyncBN over several GPUs; on one GPU or the CPU raise
# train_dataloader.batch_size to 2 or more.
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    neck=dict(type='mmseg.MultiLevelNeck', in_channels=[768] * 4, out_channels=768,
              scales=[4, 2, 1, 0.5]),
    # in_channels ([768] * 4 from the neck) and num_classes are filled in per task; the
    # loss of every head is the task's task_losses entry (an mmseg loss_decode is refused).
    decode_heads=dict(_delete_=True, type='mmseg.UPerHead', in_index=[0, 1, 2, 3],
                      pool_scales=(1, 2, 3, 6), channels=512, dropout_ratio=0.1,
                      norm_cfg=norm_cfg, align_corners=False),
    auxiliary_heads=dict(
        semseg=dict(type='mmseg.FCNHead', in_index=3, channels=256, num_convs=1,
                    concat_input=False, dropout_ratio=0.1, norm_cfg=norm_cfg,
                    align_corners=False)),
    auxiliary_loss_weight=0.4)
