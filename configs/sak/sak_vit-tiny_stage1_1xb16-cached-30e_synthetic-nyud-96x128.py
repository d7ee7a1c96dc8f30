# sak_vit-tiny_stage1_1xb16-30e_synthetic-nyud-96x128.py with cached teacher features (offline
# distillation): the teachers are not built; TeacherFeatureCacheDataset serves, for one of K fixed views
# of each image, the crop the teachers saw (SeededViewCrop) and their fp16 features.
# Extract once, then train (see docs/teacher_cache.md):
#   python tools/extract_teacher_features.py \
#       configs/sak/sak_vit-tiny_stage1_1xb16-cached-30e_synthetic-nyud-96x128.py --views 4
#   python tools/train.py configs/sak/sak_vit-tiny_stage1_1xb16-cached-30e_synthetic-nyud-96x128.py
_base_ = ['./sak_vit-tiny_stage1_1xb16-30e_synthetic-nyud-96x128.py']
cache_dir = 'data/teacher_cache/sak_vit-tiny_stage1_1xb16-30e_synthetic-nyud-96x128'
model = dict(build_teachers=False)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='SeededViewCrop', size=_base_.img_size, scale=(0.35, 1.0), flip_prob=0.5,
         backend='pillow'),
    dict(type='PackMultiTaskInputs'),
]
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='TeacherFeatureCacheDataset',
        cache_dir=cache_dir,
        # checked against the teachers the cache was extracted with
        teachers=_base_.model.teachers,
        teacher_init_seed=_base_.model.teacher_init_seed,
        dataset=dict(
            type=_base_.dataset_type,
            data_root=_base_.data_root,
            data_prefix=dict(img_path='images'),
            pipeline=train_pipeline)))
