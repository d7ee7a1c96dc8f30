"""Base class of the frozen teachers."""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch import Tensor

# ImageNet statistics in RGB 0-255: the student's default normalisation.
IMAGENET_MEAN_255 = (123.675, 116.28, 103.53)
IMAGENET_STD_255 = (58.395, 57.12, 57.375)


def _as_255(values: Sequence[float]) -> List[float]:
    """Convert 0-1 statistics (timm, open_clip, torchvision) to the 0-255 convention."""
    return [float(v) * 255. for v in values]


#: What a teacher's network receives (``input_norm``): the student's normalised input
#: as it is (the official SAK), or that input re-normalised to the teacher's own stats.
INPUT_NORMS = ('student', 'teacher')
#: The class default of ``input_norm``: pretrained networks see the statistics they were
#: trained with (AM-RADIO's rule). SAK configs set ``input_norm='student'`` explicitly.
DEFAULT_INPUT_NORM = 'teacher'


def check_input_norm(value, where: str) -> str:
    """Validate an ``input_norm`` value.

    Args:
        value: The value given in the config.
        where (str): What it belongs to, quoted in the error (e.g. ``'teachers.clip'``).

    Returns:
        str: ``value``, one of :data:`INPUT_NORMS`.

    Raises:
        ValueError: If ``value`` is not one of :data:`INPUT_NORMS`.
    """
    if not isinstance(value, str) or value not in INPUT_NORMS:
        raise ValueError(f'{where}: input_norm must be one of {INPUT_NORMS} (\'student\': the '
                         "student's normalised input as it is, the official SAK; 'teacher': "
                         f"re-normalised to the teacher's own mean/std), got {value!r}")
    return value


def fill_input_norm(cfg: dict, where: str = 'teacher') -> dict:
    """A teacher config with its ``input_norm`` spelled out (the class default if unset).

    Used wherever a teacher config is recorded or compared (distillers, the
    teacher-feature cache), so that a config that leaves ``input_norm`` to the
    class default and one that sets it agree, and a cache records what its
    teachers received. Configs of classes that are not :class:`BaseTeacher`
    (or not registered) are returned unchanged.

    Args:
        cfg (dict): Teacher config with a ``type``.
        where (str): Name for errors, e.g. ``'teachers.clip'``.

    Returns:
        dict: A copy of ``cfg``, with ``input_norm`` for :class:`BaseTeacher` types.
    """
    cfg = dict(cfg)
    if 'input_norm' in cfg:
        check_input_norm(cfg['input_norm'], where)
        return cfg
    kind = cfg.get('type')
    if isinstance(kind, str):
        from sakbox.registry import MODELS
        try:
            kind = MODELS.get(kind)
        except KeyError:  # not registered: building it will report that
            return cfg
    if isinstance(kind, type) and issubclass(kind, BaseTeacher):
        cfg['input_norm'] = DEFAULT_INPUT_NORM
    return cfg


class BaseTeacher(nn.Module):
    """A frozen feature extractor fed with the student's normalised input.

    The data preprocessor normalises images once, with the *student's*
    mean/std (``input_mean``/``input_std``). ``input_norm`` chooses what the
    teacher's network receives:

    * ``'student'``: that input as it is (the official SAK: every teacher
      sees the ImageNet-normalised batch, plus its own geometric transform).
    * ``'teacher'`` (default): re-normalised to the teacher's own statistics,
      ``x_t = (x * input_std + input_mean - mean) / std``, all in RGB 0-255;
      ``mean``/``std`` are the subclass's library defaults (timm
      ``pretrained_cfg``, open_clip, torchvision) unless given.

    Teachers stay in eval mode (``train()`` is a no-op), hold no trainable
    parameters and run under ``torch.no_grad()``.

    Subclasses build their network, pick their statistics with
    :meth:`resolve_stats`, then call :meth:`_init_teacher` and implement
    :meth:`extract_features`.

    Args:
        input_mean (Sequence[float]): Mean the student's inputs were normalised
            with, RGB 0-255. Defaults to ImageNet.
        input_std (Sequence[float]): Std the student's inputs were normalised
            with, RGB 0-255. Defaults to ImageNet.
        input_norm (str): ``'student'`` or ``'teacher'`` (see above). Defaults to
            ``'teacher'``.
    """

    def __init__(self,
                 input_mean: Sequence[float] = IMAGENET_MEAN_255,
                 input_std: Sequence[float] = IMAGENET_STD_255,
                 input_norm: str = DEFAULT_INPUT_NORM) -> None:
        super().__init__()
        self.input_norm = check_input_norm(input_norm, type(self).__name__)
        self.input_mean = [float(v) for v in input_mean]
        self.input_std = [float(v) for v in input_std]
        self.embed_dims: List[int] = []
        self.out_indices: List = []

    def resolve_stats(self, mean: Optional[Sequence[float]], std: Optional[Sequence[float]],
                      default_mean_01: Sequence[float],
                      default_std_01: Sequence[float]) -> Tuple[List[float], List[float]]:
        """The statistics the network's input is normalised with.

        Args:
            mean (Sequence[float], optional): User teacher mean, RGB 0-255.
            std (Sequence[float], optional): User teacher std, RGB 0-255.
            default_mean_01 (Sequence[float]): Library mean in 0-1 (e.g. timm
                ``pretrained_cfg``).
            default_std_01 (Sequence[float]): Library std in 0-1.

        Returns:
            tuple: ``(mean, std)`` lists in RGB 0-255: the user's values or the
            library's with ``input_norm='teacher'``, ``input_mean``/``input_std``
            with ``input_norm='student'``.

        Raises:
            ValueError: ``mean``/``std`` given with ``input_norm='student'``
                (they would be ignored).
        """
        if self.input_norm == 'student':
            given = [k for k, v in (('mean', mean), ('std', std)) if v is not None]
            if given:
                raise ValueError(
                    f"{type(self).__name__}: input_norm='student' feeds the student's "
                    f'normalised input as it is, so {"/".join(given)} would be ignored; drop '
                    f"{'them' if len(given) > 1 else 'it'} or set input_norm='teacher'")
            return list(self.input_mean), list(self.input_std)
        mean = list(mean) if mean is not None else _as_255(default_mean_01)
        std = list(std) if std is not None else _as_255(default_std_01)
        return mean, std

    def _init_teacher(self, mean: Sequence[float], std: Sequence[float],
                      embed_dims: List[int], out_indices: List) -> None:
        """Register the input conversion, record the levels and freeze everything.

        Args:
            mean (Sequence[float]): Mean the network's input is normalised with,
                RGB 0-255 (from :meth:`resolve_stats`).
            std (Sequence[float]): Std the network's input is normalised with.
            embed_dims (List[int]): Channels of each output level.
            out_indices (List): What each level is taken from (blocks, stages, nodes).
        """
        for name, vals in (('input_mean', self.input_mean), ('input_std', self.input_std),
                           ('mean', mean), ('std', std)):
            if len(vals) != 3:
                raise ValueError(f'{type(self).__name__}: {name} needs 3 RGB values, got '
                                 f'{list(vals)}')
        self.mean = [float(v) for v in mean]
        self.std = [float(v) for v in std]
        in_mean, in_std = torch.tensor(self.input_mean), torch.tensor(self.input_std)
        mean_t, std_t = torch.tensor(self.mean), torch.tensor(self.std)
        # One affine map instead of two: x_t = x * scale + shift. Not persistent so
        # that teacher checkpoints stay pure network weights.
        self.register_buffer('_scale', (in_std / std_t).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('_shift', ((in_mean - mean_t) / std_t).view(1, 3, 1, 1),
                             persistent=False)
        self.embed_dims = [int(c) for c in embed_dims]
        self.out_indices = list(out_indices)
        for p in self.parameters():
            p.requires_grad_(False)
        self.train(False)

    @property
    def num_levels(self) -> int:
        """int: Number of feature levels returned by :meth:`forward`."""
        return len(self.embed_dims)

    def convert_input(self, inputs: Tensor) -> Tensor:
        """The network's input: the student's as it is, or re-normalised (``input_norm``).

        Args:
            inputs (Tensor): (B, 3, H, W) normalised with ``input_mean``/``input_std``.

        Returns:
            Tensor: (B, 3, H, W) normalised with ``mean``/``std``: ``inputs`` itself
            with ``input_norm='student'``.
        """
        if self.input_norm == 'student':
            return inputs
        return inputs * self._scale.to(inputs.dtype) + self._shift.to(inputs.dtype)

    def extract_features(self, x: Tensor) -> List[Tensor]:
        """Run the network on teacher-normalised images.

        Args:
            x (Tensor): (B, 3, H, W) output of :meth:`convert_input` and :meth:`preprocess`.

        Returns:
            List[Tensor]: ``num_levels`` maps (B, C_l, h_l, w_l).
        """
        raise NotImplementedError(f'{type(self).__name__} must implement extract_features')

    def preprocess(self, x: Tensor) -> Tensor:
        """Teacher-specific resizing/padding applied after normalisation (none here)."""
        return x

    @torch.no_grad()
    def forward(self, inputs: Tensor) -> List[Tensor]:
        """Extract the teacher's feature levels.

        Args:
            inputs (Tensor): (B, 3, H, W) normalised by the student's preprocessor.

        Returns:
            List[Tensor]: ``num_levels`` maps (B, C_l, h_l, w_l), C_l = ``embed_dims[l]``.
        """
        feats = self.extract_features(self.network_input(inputs))
        return [f.contiguous() for f in feats]

    def network_input(self, inputs: Tensor) -> Tensor:
        """What the network sees: :meth:`convert_input`, then :meth:`preprocess`.

        Args:
            inputs (Tensor): (B, 3, H, W) normalised by the student's preprocessor.

        Returns:
            Tensor: The network's input.

        Raises:
            ValueError: ``inputs`` is not (B, 3, H, W).
        """
        if inputs.dim() != 4 or inputs.shape[1] != 3:
            raise ValueError(f'{type(self).__name__} expects (B, 3, H, W) inputs, got '
                             f'{tuple(inputs.shape)}')
        return self.preprocess(self.convert_input(inputs))

    def train(self, mode: bool = True) -> 'BaseTeacher':
        """Keep the teacher in eval mode whatever ``mode`` asks (dropout/BN frozen)."""
        return super().train(False)

    def init_weights(self) -> None:
        """Do nothing: weights come from ``pretrained``/``checkpoint``.

        MMEngine's ``BaseModule.init_weights`` calls ``init_weights`` of child modules;
        without this no-op it could reach the wrapped network's own random init.
        """

    def extra_repr(self) -> str:  # noqa: D102
        return (f'embed_dims={self.embed_dims}, out_indices={self.out_indices}, '
                f'input_norm={self.input_norm!r}, mean={getattr(self, "mean", None)}, '
                f'std={getattr(self, "std", None)}')

