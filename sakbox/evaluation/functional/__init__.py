"""Pure numpy/torch metric functions (per-image statistics and dataset scores)."""
from .bipartite import max_bipartite_matching_size, maximum_matching
from .boundary import (
    DATASET_MAX_DIST,
    boundary_counts,
    boundary_gt,
    boundary_metrics,
    boundary_thresholds,
    prepare_boundary_map,
)
from .boundary_match import BoundaryMatcher
from .boundary_ops import conv_tri, edge_nms, edge_orientation, seg2bmap, thin, thin_points
from .depth import DEPTH_STAT_NAMES, depth_metrics, depth_stats
from .multitask import (
    PRIMARY_METRICS,
    delta_m,
    is_lower_better,
    lower_is_better_names,
    metric_key,
)
from .normals import (
    NORMALS_STAT_NAMES,
    angular_error,
    histogram_median,
    normals_metrics,
    normals_stats,
)
from .saliency import saliency_metrics, saliency_stats, saliency_thresholds
from .segmentation import segmentation_areas, segmentation_metrics
from .summation import exact_sum

__all__ = [
    'DATASET_MAX_DIST', 'boundary_counts', 'boundary_gt', 'boundary_metrics',
    'boundary_thresholds', 'prepare_boundary_map', 'BoundaryMatcher',
    'max_bipartite_matching_size', 'maximum_matching', 'conv_tri', 'edge_nms', 'edge_orientation', 'seg2bmap',
    'thin', 'thin_points', 'DEPTH_STAT_NAMES', 'depth_metrics', 'depth_stats',
    'PRIMARY_METRICS', 'delta_m', 'is_lower_better', 'lower_is_better_names', 'metric_key',
    'NORMALS_STAT_NAMES', 'angular_error', 'histogram_median', 'normals_metrics',
    'normals_stats', 'saliency_metrics', 'saliency_stats', 'saliency_thresholds',
    'segmentation_areas', 'segmentation_metrics', 'exact_sum'
]
