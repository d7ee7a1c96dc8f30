# The ViT-L version of sak_vit-b_8xb1-40k_nyud-448x576.py: ViT-L student and the official
# ViT-L teacher committee (configs/s1/LL_s1.yml): DINOv2-L (`vit_large_patch14_dinov2.lvd142m`), CLIP-L
# (`vit_large_patch14_clip_336`, official 'timmclip_large') and SAM-L
# (`samvit_large_patch16`), features after blocks 5, 11, 17, 23; all widths 1024.
_base_ = ['./sak_vit-b_8xb1-40k_nyud-448x576.py']
model = dict(
    student=dict(arch='vit_large_patch16_384'),
    teachers=dict(
        dinov2=dict(arch='vit_large_patch14_dinov2.lvd142m'),
        clip=dict(arch='vit_large_patch14_clip_336'),
        sam=dict(arch='samvit_large_patch16')))
