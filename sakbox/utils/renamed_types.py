"""Component types that sakbox renamed, and the config check that names the new type.

sakbox's registries are children of MMEngine's roots, like mmseg's. A sakbox type
registered under the same name as an mmseg one shadows it for every build under
``default_scope='sakbox'`` — including the builds an mmseg component makes itself (an
mmseg decode head's default ``loss_decode=dict(type='CrossEntropyLoss')`` resolved
to sakbox's loss, whose contract differs). sakbox's components therefore have names of
their own (:data:`RENAMED_TYPES`; ``tests/test_registry.py`` checks that no sakbox
name equals an mmseg one). A config that still writes an old name gets an error naming
the key, the new name and, for mmseg's component, the ``mmseg.`` spelling, instead of
MMEngine's "not in the registry".
"""
from typing import Any, Dict, List, Tuple

#: Old sakbox type name -> its new name.
RENAMED_TYPES: Dict[str, str] = {
    'CrossEntropyLoss': 'MultiTaskCrossEntropyLoss',
    'DPTHead': 'DPTTaskHead',
    'DepthMetric': 'DepthTaskMetric',
    'PhotoMetricDistortion': 'MultiTaskPhotoMetricDistortion',
}


def find_renamed_types(cfg: Any, path: str = 'cfg') -> List[Tuple[str, str, str]]:
    """List the places of ``cfg`` whose ``type`` is a renamed sakbox type.

    A dict under an explicit scope (``_scope_`` set, or a ``type`` written as
    ``'scope.Name'``) is another library's and is not reported, nor is anything
    inside it.

    Args:
        cfg: A config (dict / list / tuple tree, e.g. ``mmengine.Config``).
        path (str): Name of ``cfg`` in the reported key paths.

    Returns:
        list: ``(key path, old type, new type)`` for each hit, in traversal order.
    """
    hits: List[Tuple[str, str, str]] = []
    if isinstance(cfg, dict):
        typ = cfg.get('type')
        if '_scope_' in cfg or (isinstance(typ, str) and '.' in typ):
            return hits
        if isinstance(typ, str) and typ in RENAMED_TYPES:
            hits.append((f'{path}.type', typ, RENAMED_TYPES[typ]))
        for key, value in cfg.items():
            hits.extend(find_renamed_types(value, f'{path}.{key}'))
    elif isinstance(cfg, (list, tuple)):
        for i, value in enumerate(cfg):
            hits.extend(find_renamed_types(value, f'{path}[{i}]'))
    return hits


def check_renamed_types(cfg: Any, source: str = 'config') -> None:
    """Raise if ``cfg`` uses a renamed sakbox type (see :data:`RENAMED_TYPES`).

    Args:
        cfg: The config tree.
        source (str): The config's file, quoted in the message.

    Raises:
        ValueError: Naming every key path, the old and the new type.
    """
    hits = find_renamed_types(cfg.to_dict() if hasattr(cfg, 'to_dict') else cfg)
    if not hits:
        return
    lines = '\n'.join(f'  {where}: {old!r} -> {new!r} (mmseg\'s own: \'mmseg.{old}\')'
                      for where, old, new in hits)
    raise ValueError(f'{source} uses sakbox component types that were renamed so that they '
                     f'no longer shadow mmseg\'s:\n{lines}')
