"""Tiny model settings shared by the teacher tests (fast random builds)."""

#: A 2-layer, 32-wide open_clip ViT-B-16 (vision and text towers) for ``model_kwargs``.
TINY_OPEN_CLIP = dict(
    vision_cfg=dict(layers=2, width=32, head_width=16, patch_size=16),
    text_cfg=dict(context_length=8, vocab_size=64, width=32, heads=2, layers=1),
    embed_dim=16)
