# sak_vit-b_stage1_8xb16-30e_in1k-384x384.py with cached teacher features (offline
# distillation): the DINOv2-B / CLIP-B / SAM-B features of K fixed 384x384 random-resized crops (+ flips) of
# every ImageNet image are computed once; training builds no teacher and reads them from
# fp16 memory-mapped shards (see docs/teacher_cache.md for the disk cost).
#   torchrun --nproc_per_node 8 tools/extract_teacher_features.py \
#       configs/sak/sak_vit-b_stage1_8xb16-cached-30e_in1k-384x384.py --views 4 --launcher pytorch
#   bash tools/dist_train.sh configs/sak/sak_vit-b_stage1_8xb16-cached-30e_in1k-384x384.py 8
_base_ = ['./sak_vit-b_stage1_8xb16-30e_in1k-384x384.py']
cache_dir = 'data/teacher_cache/sak_vit-b_stage1_8xb16-30e_in1k-384x384'
model = dict(build_teachers=False)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='SeededViewCrop', size=_base_.img_size, flip_prob=0.5, backend='pillow'),
    dict(type='PackMultiTaskInputs'),
]
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='TeacherFeatureCacheDataset',
        cache_dir=cache_dir,
        # checked against the teachers the cache was extracted with
        teachers=_base_.model.teachers,
        dataset=dict(
            type=_base_.dataset_type,
            data_root=_base_.data_root,
            data_prefix=dict(img_path='train'),
            pipeline=train_pipeline)))
