"""sakbox: merge vision foundation models (SAK, AM-RADIO) the OpenMMLab way.

Importing the package is cheap: it imports no model code, no ``mmcv.ops`` and
never touches the network. Components are imported lazily by the registries
(see :mod:`sakbox.registry`).
"""
from .version import __version__

__all__ = ['__version__']
