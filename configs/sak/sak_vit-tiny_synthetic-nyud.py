# sak_vit-tiny_synthetic-nyud.py is the stable public name of
# sak_vit-tiny_1xb4-600it_synthetic-nyud-96x128.py (edit the recipe there).
_base_ = ['./sak_vit-tiny_1xb4-600it_synthetic-nyud-96x128.py']
