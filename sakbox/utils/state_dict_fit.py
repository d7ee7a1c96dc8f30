"""State dicts: unwrap them, read them, compare them with a model, load them strictly or not.

The one weight-loading path of sakbox: files are read by
:func:`~sakbox.utils.checkpoint.read_checkpoint`, the weights taken out of their
wrappers by :func:`extract_state_dict` (one rule for ``module.`` prefixes:
:func:`strip_wrapper_prefixes`) and compared with the model by
:func:`compare_state_dict`. Teachers and students load a component's file with
:func:`load_state_dict_file` + :func:`load_state_dict_strict` (every missing,
unexpected and mis-shaped key named); evaluation and inference load strictly (:func:`load_state_dict_checked` with
``strict=True``): a checkpoint that leaves a single model tensor unset fails
with a :class:`~sakbox.utils.checkpoint.CheckpointMismatchError` that names the
file, the counts, the first missing / unexpected / mis-shaped keys and, where it
can tell, where the file comes from and how to convert it. Training's
``load_from`` stays non-strict but is summarised by
:class:`~sakbox.engine.hooks.CheckpointLoadReportHook` from the same
:func:`compare_state_dict`.
"""
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.logging import print_log

from .checkpoint import CheckpointMismatchError, read_checkpoint
from .checkpoint_origin import checkpoint_origin_hint
from .pos_embed import resample_pos_embeds_in_state_dict

#: Key prefixes that neither side is compared on: teachers are frozen, built and
#: loaded from their own weights (distillers drop ``teachers.*`` keys on load).
IGNORED_PREFIXES = ('teachers.', )
#: Wrappers whose ``state_dict`` / ``model`` / ``module`` entry holds the weights.
WRAPPER_KEYS = ('state_dict', 'model', 'module')
#: Key prefixes of training wrappers (DDP, ``torch.compile``); see :func:`strip_wrapper_prefixes`.
_WRAPPER_PREFIXES = ('module.', '_orig_mod.')


@dataclass
class StateDictFit:
    """Comparison of a checkpoint's state dict with a model's.

    Attributes:
        source (str): The checkpoint file.
        model_name (str): The model's class name.
        num_model (int): Number of model tensors compared (``teachers.*`` excluded).
        loaded (List[str]): Model keys present in the checkpoint with the same shape.
        missing (List[str]): Model keys absent from the checkpoint.
        unexpected (List[str]): Checkpoint keys the model does not have.
        mismatched (List[Tuple[str, tuple, tuple]]): ``(key, checkpoint shape,
            model shape)`` of keys present on both sides with other shapes.
        ignored (List[str]): Checkpoint keys not compared (``teachers.*``).
        resampled (List[str]): Position embeddings resampled to the model's grid.
        state_dict (dict): The prepared state dict (``module.`` stripped,
            ignored keys dropped, position embeddings resampled).
    """

    source: str
    model_name: str
    num_model: int
    loaded: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    mismatched: List[Tuple[str, tuple, tuple]] = field(default_factory=list)
    ignored: List[str] = field(default_factory=list)
    resampled: List[str] = field(default_factory=list)
    state_dict: Dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def complete(self) -> bool:
        """Every model tensor is set and the checkpoint has nothing else."""
        return not (self.missing or self.unexpected or self.mismatched)

    def summary(self, limit: int = 5) -> str:
        """One line: ``loaded N of M model tensors; K missing (first: ...), ...``.

        Args:
            limit (int): Keys named per kind. Defaults to 5.

        Returns:
            str: The summary.
        """
        parts = [f'loaded {len(self.loaded)} of {self.num_model} model tensors']
        if self.missing:
            parts.append(f'{len(self.missing)} missing (first: {_first(self.missing, limit)})')
        if self.unexpected:
            parts.append(f'{len(self.unexpected)} unexpected (first: '
                         f'{_first(self.unexpected, limit)})')
        if self.mismatched:
            shapes = [f'{k}: checkpoint {tuple(c)} vs model {tuple(m)}'
                      for k, c, m in self.mismatched]
            parts.append(f'{len(self.mismatched)} with another shape (first: '
                         f'{_first(shapes, limit)})')
        if self.resampled:
            parts.append(f'resampled {", ".join(self.resampled)} to the model\'s grid')
        if self.ignored:
            parts.append(f'{len(self.ignored)} teachers.* keys ignored')
        return '; '.join(parts)

    def key_report(self, limit: int = 20) -> str:
        """Every problem key: ``missing keys: ...; unexpected keys: ...; shape mismatches: ...``.

        Args:
            limit (int): Keys named per kind. Defaults to 20.

        Returns:
            str: The report ('' for a complete fit).
        """
        parts = []
        if self.missing:
            parts.append(f'missing keys: {_fmt(self.missing, limit)}')
        if self.unexpected:
            parts.append(f'unexpected keys: {_fmt(self.unexpected, limit)}')
        if self.mismatched:
            shapes = [f'{k} (checkpoint {tuple(c)} vs model {tuple(m)})'
                      for k, c, m in self.mismatched]
            parts.append(f'shape mismatches: {_fmt(shapes, limit)}')
        return '; '.join(parts)


def _fmt(keys: Iterable[str], limit: int) -> str:
    keys = sorted(keys)
    more = f' ... (+{len(keys) - limit} more)' if len(keys) > limit else ''
    return ', '.join(keys[:limit]) + more


def _first(items: Sequence[str], limit: int) -> str:
    more = f', ... (+{len(items) - limit} more)' if len(items) > limit else ''
    return ', '.join(items[:limit]) + more


def extract_state_dict(checkpoint: Dict[str, Any]) -> Dict[str, Any]:
    """The weights of a checkpoint dict.

    MMEngine checkpoints keep them under ``state_dict``, the official SAK
    scripts under ``model``, some tools under ``module``; a dict of tensors is
    a state dict already. Nested wrappers are unwrapped.

    Args:
        checkpoint (dict): What :func:`sakbox.utils.read_checkpoint` returned.

    Returns:
        dict: The state dict (possibly the checkpoint itself).
    """
    obj = checkpoint
    while isinstance(obj, dict) and not all(hasattr(v, 'shape') for v in obj.values()):
        key = next((k for k in WRAPPER_KEYS if isinstance(obj.get(k), dict)), None)
        if key is None:
            break
        obj = obj[key]
    return obj


def strip_wrapper_prefixes(state_dict: Dict[str, Any]) -> Dict[str, Any]:
    """Remove the prefixes that training wrappers add to every key.

    The one rule of sakbox, timm's :func:`timm.models.clean_state_dict`: a
    leading ``module.`` (DataParallel / DDP) and ``_orig_mod.``
    (``torch.compile``), in either order, is removed from each key that has it.

    Args:
        state_dict (dict): Weights.

    Returns:
        dict: ``state_dict`` itself when no key has such a prefix, else a new dict.
    """
    if not any(k.startswith(_WRAPPER_PREFIXES) for k in state_dict):
        return state_dict
    from timm.models import clean_state_dict
    return clean_state_dict(state_dict)


def load_state_dict_file(path: str) -> Dict[str, torch.Tensor]:
    """Read the state dict of a ``.pth``/``.pt``/``.bin``/``.ckpt`` or ``.safetensors`` file.

    The file is read by :func:`sakbox.utils.read_checkpoint` (``weights_only=True``:
    pickled Python objects are refused, with a message naming them), unwrapped by
    :func:`extract_state_dict` (``state_dict`` / ``model`` / ``module`` entries,
    repeatedly) and cleaned by :func:`strip_wrapper_prefixes`.

    Args:
        path (str): Checkpoint file.

    Returns:
        Dict[str, Tensor]: Flat state dict on CPU.

    Raises:
        CheckpointError: The file is missing (a ``FileNotFoundError`` too) or
            cannot be read.
        ValueError: The file holds no state dict.
    """
    obj = extract_state_dict(read_checkpoint(path, map_location='cpu'))
    if isinstance(obj, dict) and not all(torch.is_tensor(v) for v in obj.values()):
        raise ValueError(f'{path} is not a state dict: top-level keys {sorted(obj)[:10]} '
                         f'hold non-tensors and none of {WRAPPER_KEYS} wraps one.')
    if not isinstance(obj, dict):
        raise ValueError(f'{path} holds a {type(obj).__name__}, not a state dict.')
    return dict(strip_wrapper_prefixes(obj))


def compare_state_dict(model: nn.Module, state_dict: Dict[str, Any], source: str = 'checkpoint',
                       ignore_prefixes: Sequence[str] = IGNORED_PREFIXES,
                       resample_pos_embeds: bool = True) -> StateDictFit:
    """Compare ``state_dict`` with ``model.state_dict()`` key by key and shape by shape.

    The state dict is prepared the way sakbox models load it: wrapper prefixes
    (``module.``, see :func:`strip_wrapper_prefixes`) are stripped,
    ``ignore_prefixes`` keys are set aside on both sides, and position
    embeddings on another square grid are resampled to the model's (as the
    distillers do on load). Nothing is loaded.

    Args:
        model (nn.Module): The (unwrapped) model.
        state_dict (dict): The checkpoint's weights (see :func:`extract_state_dict`).
        source (str): The file, for messages.
        ignore_prefixes (Sequence[str]): Key prefixes not compared.
        resample_pos_embeds (bool): Resample mismatching position embeddings
            (:func:`sakbox.utils.pos_embed.resample_pos_embeds_in_state_dict`).
            False for components whose loader resamples by its own rule.

    Returns:
        StateDictFit: The comparison; ``fit.state_dict`` is the prepared dict.
    """
    ignore = tuple(ignore_prefixes)
    prepared, ignored = {}, []
    for key, value in strip_wrapper_prefixes(state_dict).items():
        if ignore and key.startswith(ignore):
            ignored.append(key)
        else:
            prepared[key] = value
    # Entries a model supplies itself when an older checkpoint lacks them (the
    # router expert order of MultiTaskDistiller), as its load_state_dict does.
    fill = getattr(model, 'fill_state_dict_defaults', None)
    if callable(fill):
        fill(prepared)
    own = {k: v for k, v in model.state_dict().items() if not (ignore and k.startswith(ignore))}
    resampled = []
    if resample_pos_embeds:
        try:
            resampled = resample_pos_embeds_in_state_dict(model, prepared)
        except ValueError:  # a non-square grid: reported as a shape mismatch below
            resampled = []
    fit = StateDictFit(source=source, model_name=type(model).__name__, num_model=len(own),
                       ignored=ignored, resampled=resampled, state_dict=prepared)
    for key, target in own.items():
        if key not in prepared:
            fit.missing.append(key)
            continue
        value = prepared[key]
        shape, want = getattr(value, 'shape', None), getattr(target, 'shape', None)
        if shape is not None and want is not None and tuple(shape) != tuple(want):
            fit.mismatched.append((key, tuple(shape), tuple(want)))
        else:
            fit.loaded.append(key)
    fit.unexpected = [k for k in prepared if k not in own]
    return fit


def load_state_dict_checked(model: nn.Module, checkpoint: Dict[str, Any], source: str,
                            strict: bool = True, logger: Optional[Any] = 'current'
                            ) -> StateDictFit:
    """Load a checkpoint into ``model``: all of it (``strict``) or what fits, loudly.

    Args:
        model (nn.Module): The (unwrapped) model.
        checkpoint (dict): What :func:`sakbox.utils.read_checkpoint` returned.
        source (str): The file, quoted in messages.
        strict (bool): Fail unless every model tensor is set and the
            checkpoint holds nothing else. False loads the tensors that fit
            and logs a warning with the counts. Defaults to True.
        logger: Where the non-strict warning goes (see
            :func:`mmengine.logging.print_log`). Defaults to ``'current'``.

    Returns:
        StateDictFit: What was loaded.

    Raises:
        CheckpointMismatchError: ``strict`` and the checkpoint does not fit;
            the model is left untouched.
    """
    fit = compare_state_dict(model, extract_state_dict(checkpoint), source)
    if not fit.complete:
        hint = checkpoint_origin_hint(checkpoint, fit)
        if strict:
            raise CheckpointMismatchError(
                f'checkpoint {source} does not fit {fit.model_name}: {fit.summary(limit=8)}.'
                + (f'\n{hint}' if hint else '')
                + '\nTo load only the tensors that fit, pass --non-strict (tools/test.py, '
                'demo/image_demo.py) or strict=False (init_model, load_model_weights).',
                source)
        print_log(f'NON-STRICT LOAD of {source} into {fit.model_name}: {fit.summary()}. '
                  'The other tensors keep their initial (random) values.'
                  + (f'\n{hint}' if hint else ''), logger=logger, level=30)
    model.load_state_dict({k: fit.state_dict[k] for k in fit.loaded}, strict=False)
    return fit


def load_state_dict_strict(module: nn.Module, state_dict: Dict[str, torch.Tensor], source: str,
                           ignore_unexpected: Sequence[str] = (),
                           allow_missing: Sequence[str] = ()) -> StateDictFit:
    """Load a component's weights (a teacher's network, a stem), failing on any mismatch.

    The comparison is :func:`compare_state_dict`'s (without its position-embedding
    resampling: components resample by their own rule first); the error lists
    every problem key (:meth:`StateDictFit.key_report`).

    Args:
        module (nn.Module): Target module.
        state_dict (dict): Weights (already converted to the module's key names).
        source (str): What the weights come from (a file path), quoted in errors.
        ignore_unexpected (Sequence[str]): Key prefixes that may be present in the
            checkpoint but not in the module (e.g. a classifier the teacher drops).
        allow_missing (Sequence[str]): Key prefixes the module may have that the
            checkpoint lacks (e.g. routers that a stage-1 stem never had).

    Returns:
        StateDictFit: What was loaded (allowed absences and ignored keys left out).

    Raises:
        CheckpointMismatchError: Naming ``source`` and every missing, unexpected
            and mis-shaped key; the module is left untouched.
    """
    fit = compare_state_dict(module, state_dict, source, ignore_prefixes=(),
                             resample_pos_embeds=False)
    fit = dataclasses.replace(
        fit, missing=[k for k in fit.missing if not k.startswith(tuple(allow_missing))],
        unexpected=[k for k in fit.unexpected if not k.startswith(tuple(ignore_unexpected))])
    if not fit.complete:
        raise CheckpointMismatchError(
            f'Checkpoint {source} does not fit {fit.model_name}: {fit.key_report()}', source)
    module.load_state_dict({k: fit.state_dict[k] for k in fit.loaded}, strict=False)
    return fit
