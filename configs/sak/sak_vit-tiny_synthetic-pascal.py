# sak_vit-tiny_synthetic-pascal.py is the stable public name of
# sak_vit-tiny_1xb4-600it_synthetic-pascal-context-96x128.py (edit the recipe there).
_base_ = ['./sak_vit-tiny_1xb4-600it_synthetic-pascal-context-96x128.py']
