# CPU demo of the light decoder (SAKLightHead) on the synthetic NYUD-v2 scenes: the same
# model, data and schedule as configs/sak/sak_vit-tiny_1xb4-600it_synthetic-nyud-96x128.py
# with only the task heads swapped. Compare the two heads over 3 seeds with
#   python tools/analysis_tools/compare_configs.py \
#       configs/sak/sak_vit-tiny_1xb4-600it_synthetic-nyud-96x128.py \
#       configs/sak/sak_vit-tiny-lighthead_1xb4-600it_synthetic-nyud-96x128.py --seeds 0 1 2
_base_ = ['./sak_vit-tiny_1xb4-600it_synthetic-nyud-96x128.py']
model = dict(
    decode_heads=dict(_delete_=True, type='SAKLightHead', fusion='sum', num_context=1,
                      fuse_stride=4, kernel_size=3, depthwise=True, num_refine=0))
