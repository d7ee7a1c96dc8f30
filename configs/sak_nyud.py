# SAK on NYUD-v2: ViT-B student, DINOv2-B / CLIP-B / SAM-B teachers, 448x576 crops,
# AdamW lr 2e-5 wd 1e-6, poly (0.9) decay over 40k iterations, gradient clipping 10,
# alpha = 1, validation every 4k iterations and the best checkpoint kept
# (see configs/sak/sak_vit-b_8xb1-40k_nyud-448x576.py, which this file is, and
# configs/sak/README.md).
#   bash tools/dist_train.sh configs/sak_nyud.py 8
# 8 GPUs x 1 image. The official total batch is 4 (2 GPUs x 2 images), which 8 GPUs
# cannot split evenly; `bash tools/dist_train.sh configs/sak_nyud.py 4` reproduces it.
_base_ = ['./sak/sak_vit-b_8xb1-40k_nyud-448x576.py']
