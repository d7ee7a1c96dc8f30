# sak_vit-b_nyud.py is the stable public name of
# sak_vit-b_8xb1-40k_nyud-448x576.py (edit the recipe there).
_base_ = ['./sak_vit-b_8xb1-40k_nyud-448x576.py']
