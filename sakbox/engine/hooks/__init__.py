"""Hooks."""
from .checkpoint_load_report_hook import CheckpointLoadReportHook
from .compile_hook import CompileHook
from .iteration_seed_hook import IterationSeedHook
from .multi_resolution_hook import MultiResolutionHook
from .router_stats_hook import RouterStatsHook, RouterWeightAccumulator
from .visualization_hook import MultiTaskVisualizationHook
from .weights_only_checkpoint_hook import WeightsOnlyCheckpointHook

__all__ = ['MultiTaskVisualizationHook', 'CompileHook', 'CheckpointLoadReportHook',
           'IterationSeedHook', 'MultiResolutionHook', 'RouterStatsHook', 'RouterWeightAccumulator',
           'WeightsOnlyCheckpointHook']
