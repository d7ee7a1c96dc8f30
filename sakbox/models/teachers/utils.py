"""Helpers shared by teachers and student stems: output levels and checkpoint files.

Checkpoint loading is deliberately strict: a file that does not fit the model
fails with an error that names the file and every missing, unexpected or
mis-shaped key, instead of silently leaving weights random.
"""
from typing import Callable, Dict, Iterable, List, Optional, Sequence

import torch
import torch.nn as nn

from sakbox.utils.checkpoint import CheckpointMismatchError, read_checkpoint
from sakbox.utils.state_dict_fit import WRAPPER_KEYS, extract_state_dict

# Output blocks of the official SAK for the usual ViT depths (S/B, L, H, g and
# SigLIP so400m). Other depths fall back to four evenly spaced blocks.
_OUT_INDICES_BY_DEPTH = {
    12: [2, 5, 8, 11],
    24: [5, 11, 17, 23],
    27: [6, 13, 20, 26],
    32: [7, 15, 23, 31],
    40: [9, 19, 29, 39],
}

# Keys under which training frameworks nest the actual state dict.


def default_out_indices(depth: int, num_levels: int = 4) -> List[int]:
    """Block indices whose outputs form the feature levels of a ViT.

    Args:
        depth (int): Number of transformer blocks.
        num_levels (int): Number of levels wanted. Defaults to 4.

    Returns:
        List[int]: Increasing block indices, the last one being ``depth - 1``.
        Depths 12/24/27/32/40 with 4 levels give the official SAK indices.

    Raises:
        ValueError: If ``depth < num_levels`` (pass ``out_indices`` explicitly).
    """
    if num_levels == 4 and depth in _OUT_INDICES_BY_DEPTH:
        return list(_OUT_INDICES_BY_DEPTH[depth])
    if depth < num_levels:
        raise ValueError(f'A ViT with {depth} blocks cannot give {num_levels} distinct '
                         'output levels by default; pass out_indices explicitly.')
    return [(k + 1) * depth // num_levels - 1 for k in range(num_levels)]


def resolve_out_indices(out_indices: Optional[Sequence[int]], depth: int) -> List[int]:
    """Check user ``out_indices`` (negative ones count from the end) or pick defaults.

    Args:
        out_indices (Sequence[int], optional): Block indices, or None for defaults.
        depth (int): Number of blocks of the model.

    Returns:
        List[int]: Non-negative, strictly increasing indices.
    """
    if out_indices is None:
        return default_out_indices(depth)
    resolved = [int(i) + depth if int(i) < 0 else int(i) for i in out_indices]
    if not resolved or any(i < 0 or i >= depth for i in resolved):
        raise ValueError(f'out_indices {list(out_indices)} out of range for a model with '
                         f'{depth} blocks.')
    if sorted(set(resolved)) != resolved:
        raise ValueError(f'out_indices must be strictly increasing, got {list(out_indices)}.')
    return resolved


def load_state_dict_file(path: str) -> Dict[str, torch.Tensor]:
    """Read a state dict from ``.pth``/``.pt``/``.bin``/``.ckpt`` or ``.safetensors``.

    Wrappers ``{'state_dict': ...}``, ``{'model': ...}`` and ``{'module': ...}`` are
    unwrapped (repeatedly) and a leading ``module.`` (DataParallel/DDP) is stripped.
    Files are read with ``weights_only=True`` by :func:`sakbox.utils.read_checkpoint`:
    pickled Python objects are refused, with a message naming them.

    Args:
        path (str): Checkpoint file.

    Returns:
        Dict[str, Tensor]: Flat state dict on CPU.

    Raises:
        CheckpointError: The file is missing (a ``FileNotFoundError`` too) or
            cannot be read.
    """
    obj = extract_state_dict(read_checkpoint(path, map_location='cpu'))
    if isinstance(obj, dict) and not all(torch.is_tensor(v) for v in obj.values()):
        raise ValueError(f'{path} is not a state dict: top-level keys {sorted(obj)[:10]} '
                         f'hold non-tensors and none of {WRAPPER_KEYS} wraps one.')
    if not isinstance(obj, dict):
        raise ValueError(f'{path} holds a {type(obj).__name__}, not a state dict.')
    if obj and all(k.startswith('module.') for k in obj):
        obj = {k[len('module.'):]: v for k, v in obj.items()}
    return dict(obj)


def _fmt(keys: Iterable[str], limit: int = 20) -> str:
    keys = sorted(keys)
    more = f' ... (+{len(keys) - limit} more)' if len(keys) > limit else ''
    return ', '.join(keys[:limit]) + more


def load_state_dict_strict(module: nn.Module,
                           state_dict: Dict[str, torch.Tensor],
                           source: str,
                           ignore_unexpected: Sequence[str] = (),
                           allow_missing: Sequence[str] = ()) -> None:
    """Load ``state_dict`` into ``module``, failing loudly on any mismatch.

    Args:
        module (nn.Module): Target module.
        state_dict (dict): Weights (already converted to the module's key names).
        source (str): What the weights come from (a file path), quoted in errors.
        ignore_unexpected (Sequence[str]): Key prefixes that may be present in the
            checkpoint but not in the module (e.g. a classifier the teacher drops).
        allow_missing (Sequence[str]): Key prefixes the module may have that the
            checkpoint lacks (e.g. routers that a stage-1 stem never had).

    Raises:
        CheckpointMismatchError: Naming ``source`` and every missing, unexpected
            and mis-shaped key.
    """
    own = module.state_dict()
    state_dict = {k: v for k, v in state_dict.items()
                  if k in own or not k.startswith(tuple(ignore_unexpected))}
    missing = [k for k in own
               if k not in state_dict and not k.startswith(tuple(allow_missing))]
    unexpected = [k for k in state_dict if k not in own]
    mismatched = [f'{k} (checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)})'
                  for k, v in state_dict.items() if k in own and v.shape != own[k].shape]
    if missing or unexpected or mismatched:
        parts = []
        if missing:
            parts.append(f'missing keys: {_fmt(missing)}')
        if unexpected:
            parts.append(f'unexpected keys: {_fmt(unexpected)}')
        if mismatched:
            parts.append(f'shape mismatches: {_fmt(mismatched)}')
        raise CheckpointMismatchError(
            f'Checkpoint {source} does not fit {type(module).__name__}: ' + '; '.join(parts))
    module.load_state_dict(state_dict, strict=False)


def timm_filter_fn(model: nn.Module) -> Optional[Callable]:
    """The checkpoint filter that timm itself uses for ``model``'s family.

    timm keeps one ``checkpoint_filter_fn`` per model module; it converts
    official-format checkpoints (OpenAI/OpenCLIP CLIP, DINOv2, SAM, ...) to timm
    key names and resamples position embeddings and patch kernels.

    Args:
        model (nn.Module): A model built by ``timm.create_model``.

    Returns:
        Callable or None: ``fn(state_dict, model) -> state_dict`` if the module has one.
    """
    import sys
    mod = sys.modules.get(type(model).__module__)
    return getattr(mod, 'checkpoint_filter_fn', None)


def load_timm_checkpoint(model: nn.Module, path: str) -> None:
    """Load a local file into a timm model through timm's own filter, strictly.

    Keys of the classifier named in ``model.pretrained_cfg['classifier']`` are
    ignored because teachers and stems are built without one.

    Args:
        model (nn.Module): A model built by ``timm.create_model`` (no features wrapper).
        path (str): Checkpoint file.
    """
    state_dict = load_state_dict_file(path)
    filter_fn = timm_filter_fn(model)
    if filter_fn is not None:
        state_dict = filter_fn(state_dict, model)
    classifier = (getattr(model, 'pretrained_cfg', None) or {}).get('classifier') or 'head'
    if isinstance(classifier, str):
        classifier = (classifier, )
    load_state_dict_strict(model, state_dict, path,
                           ignore_unexpected=tuple(f'{c}.' for c in classifier))
