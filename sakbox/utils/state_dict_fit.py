"""How well a checkpoint's state dict fits a model, and loading it strictly or not.

Evaluation and inference load strictly (:func:`load_state_dict_checked` with
``strict=True``): a checkpoint that leaves a single model tensor unset fails
with a :class:`~sakbox.utils.checkpoint.CheckpointMismatchError` that names the
file, the counts, the first missing / unexpected / mis-shaped keys and, where it
can tell, where the file comes from and how to convert it. Training's
``load_from`` stays non-strict but is summarised by
:class:`~sakbox.engine.hooks.CheckpointLoadReportHook` from the same
:func:`compare_state_dict`.
"""
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch.nn as nn
from mmengine.logging import print_log

from .checkpoint import CheckpointMismatchError
from .checkpoint_origin import checkpoint_origin_hint

#: Key prefixes that neither side is compared on: teachers are frozen, built and
#: loaded from their own weights (distillers drop ``teachers.*`` keys on load).
IGNORED_PREFIXES = ('teachers.', )
#: Wrappers whose ``state_dict`` / ``model`` / ``module`` entry holds the weights.
WRAPPER_KEYS = ('state_dict', 'model', 'module')


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


def compare_state_dict(model: nn.Module, state_dict: Dict[str, Any], source: str = 'checkpoint',
                       ignore_prefixes: Sequence[str] = IGNORED_PREFIXES) -> StateDictFit:
    """Compare ``state_dict`` with ``model.state_dict()`` key by key and shape by shape.

    The state dict is prepared the way sakbox models load it: a ``module.``
    prefix (DDP) is stripped from every key, ``ignore_prefixes`` keys are set
    aside on both sides, and position embeddings on another square grid are
    resampled to the model's (as the distillers do on load). Nothing is loaded.

    Args:
        model (nn.Module): The (unwrapped) model.
        state_dict (dict): The checkpoint's weights (see :func:`extract_state_dict`).
        source (str): The file, for messages.
        ignore_prefixes (Sequence[str]): Key prefixes not compared.

    Returns:
        StateDictFit: The comparison; ``fit.state_dict`` is the prepared dict.
    """
    ignore = tuple(ignore_prefixes)
    prepared, ignored = {}, []
    for key, value in state_dict.items():
        key = key[len('module.'):] if key.startswith('module.') else key
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
    # Lazy: sakbox.models is heavy and only needed once there is a model to load.
    from sakbox.models.utils.pos_embed import resample_pos_embeds_in_state_dict
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
