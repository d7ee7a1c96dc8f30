"""Top-level models (MMEngine ``BaseModel``s)."""
from .base_distiller import BaseDistiller
from .multi_task_distiller import MultiTaskDistiller
from .multi_teacher_distiller import MultiTeacherDistiller
from .radio_distiller import RADIODistiller

__all__ = ['BaseDistiller', 'MultiTaskDistiller', 'MultiTeacherDistiller', 'RADIODistiller']
