"""Visualisation: colour maps for every task and the multi-task panel visualiser."""
from .colormaps import (
    colorize_depth,
    colorize_gray,
    colorize_labels,
    colorize_normals,
    default_palette,
    depth_legend,
    depth_range,
    soft_map_to_uint8,
)
from .multitask_visualizer import MultiTaskVisualizer

__all__ = [
    'MultiTaskVisualizer', 'colorize_labels', 'colorize_depth', 'colorize_normals',
    'colorize_gray', 'default_palette', 'depth_legend', 'depth_range', 'soft_map_to_uint8'
]
