# AM-RADIO with a ViT-L/16 student; everything else as radio_vit-b_in1k.py.
#   bash tools/dist_train.sh configs/radio/radio_vit-l_in1k.py 8
_base_ = ['./radio_vit-b_in1k.py']
model = dict(student=dict(arch='large', drop_path_rate=0.1, grad_checkpointing=True))
