"""SAK's in-backbone adapters: the bottleneck adapter and the teacher-specific adapter path."""
from .bottleneck_adapter import BottleneckAdapter, init_sak_weights
from .teacher_adapter_path import TeacherAdapterPath

__all__ = ['BottleneckAdapter', 'TeacherAdapterPath', 'init_sak_weights']
