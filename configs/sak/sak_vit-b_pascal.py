# sak_vit-b_pascal.py is the stable public name of
# sak_vit-b_8xb1-40k_pascal-context-512x512.py (edit the recipe there).
_base_ = ['./sak_vit-b_8xb1-40k_pascal-context-512x512.py']
