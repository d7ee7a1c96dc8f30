"""Reference predictors and reference values that a model's metrics are compared with."""
from .single_task import collect_baselines, primary_metric_keys
from .trivial import (
    build_baseline_datasets,
    majority_class,
    majority_miou,
    mean_depth,
    mean_depth_rmse,
    report_trivial_baselines,
    resolve_absent_class_iou,
    trivial_baselines,
)

__all__ = [
    'collect_baselines', 'primary_metric_keys', 'build_baseline_datasets', 'majority_class',
    'majority_miou', 'mean_depth', 'mean_depth_rmse', 'report_trivial_baselines',
    'resolve_absent_class_iou', 'trivial_baselines'
]
