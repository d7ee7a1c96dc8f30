# SAK ViT-B on NYUD-v2 with the light decoder (SAKLightHead) for every task instead of the
# official-equivalent SAKHead: per-level linear 768 -> 768 summed at the 28x36 grid, one
# residual dense 3x3 block there, bilinear resize to stride 4, depthwise 3x3 + BN + GELU,
# 1x1 classifier. Everything else is
# configs/sak/sak_vit-b_8xb1-40k_nyud-448x576.py
# (= configs/sak_nyud.py, which keeps the official head). Cost at 448x576: see
# configs/sak/README.md ("Light decoder head").
#   bash tools/dist_train.sh configs/sak/sak_vit-b-lighthead_8xb1-40k_nyud-448x576.py 8
_base_ = ['./sak_vit-b_8xb1-40k_nyud-448x576.py']
model = dict(
    decode_heads=dict(_delete_=True, type='SAKLightHead', fusion='sum', num_context=1,
                      fuse_stride=4, kernel_size=3, depthwise=True, num_refine=0))
