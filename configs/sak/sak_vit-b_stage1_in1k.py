# sak_vit-b_stage1_in1k.py is the stable public name of
# sak_vit-b_stage1_8xb16-30e_in1k-384x384.py (edit the recipe there).
_base_ = ['./sak_vit-b_stage1_8xb16-30e_in1k-384x384.py']
