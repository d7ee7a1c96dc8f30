"""Models: teachers, students, adapters, adaptor heads, routers, decoders, losses, distillers.

Importing this package registers every model component in
:data:`sakbox.registry.MODELS` (the registry does it lazily on first lookup).
"""
from . import (
               adapters,
               adaptor_heads,
               data_preprocessors,
               decoders,
               distillers,
               losses,
               routers,
               students,
               teachers,
               utils,
)
from .teachers import build_teachers

__all__ = ['adaptor_heads', 'adapters', 'data_preprocessors', 'decoders', 'distillers',
           'losses', 'routers', 'students', 'teachers', 'utils', 'build_teachers']
