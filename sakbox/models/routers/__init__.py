"""Routers mixing the stem and the teacher-specific representations per task."""
from .mor_router import MoRRouter
from .spatial_mor_router import SpatialMoRRouter
from .sum_router import SumRouter

__all__ = ['MoRRouter', 'SpatialMoRRouter', 'SumRouter']
