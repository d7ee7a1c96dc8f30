"""On-disk cache of teacher features for offline (stage-1) distillation."""
from .extraction import (
    build_config_teachers,
    dataset_cfg_and_out,
    extract_teacher_features,
    extraction_pipeline,
)
from .extractor import TeacherFeatureExtractor
from .index import CacheIndex
from .reader import TeacherFeatureCache
from .writer import ShardWriter, shard_is_complete

__all__ = ['CacheIndex', 'TeacherFeatureCache', 'TeacherFeatureExtractor', 'ShardWriter',
           'shard_is_complete', 'build_config_teachers', 'dataset_cfg_and_out',
           'extract_teacher_features', 'extraction_pipeline']
