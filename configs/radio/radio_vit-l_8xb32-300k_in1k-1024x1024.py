# AM-RADIO with a ViT-L/16 student; everything else as radio_vit-b_8xb32-300k_in1k-1024x1024.py.
#   bash tools/dist_train.sh configs/radio/radio_vit-l_8xb32-300k_in1k-1024x1024.py 8
_base_ = ['./radio_vit-b_8xb32-300k_in1k-1024x1024.py']
model = dict(student=dict(arch='large', drop_path_rate=0.1, grad_checkpointing=True))
