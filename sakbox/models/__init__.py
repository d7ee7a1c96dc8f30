"""Models: teachers, student stems, adapters, routers, decoders, losses, distillers.

Importing this package registers every model component in
:data:`sakbox.registry.MODELS` (the registry does it lazily on first lookup).
"""
from . import (
               adapters,
               data_preprocessors,
               decoders,
               distillers,
               losses,
               routers,
               stems,
               teachers,
               utils,
)
from .teachers import build_teachers

__all__ = ['adapters', 'data_preprocessors', 'decoders', 'distillers', 'losses', 'routers',
           'stems', 'teachers', 'utils', 'build_teachers']
