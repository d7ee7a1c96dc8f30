"""Base class of the frozen teachers."""
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
from torch import Tensor

# ImageNet statistics in RGB 0-255: the student's default normalisation.
IMAGENET_MEAN_255 = (123.675, 116.28, 103.53)
IMAGENET_STD_255 = (58.395, 57.12, 57.375)


def _as_255(values: Sequence[float]) -> List[float]:
    """Convert 0-1 statistics (timm, open_clip, torchvision) to the 0-255 convention."""
    return [float(v) * 255. for v in values]


class BaseTeacher(nn.Module):
    """A frozen feature extractor that re-normalises the student's input.

    The data preprocessor normalises images once, with the *student's* mean/std.
    Each teacher undoes that and applies its own statistics:
    ``x_t = (x * input_std + input_mean - mean) / std``, all in RGB 0-255.
    Teachers stay in eval mode (``train()`` is a no-op), hold no trainable
    parameters and run under ``torch.no_grad()``.

    Subclasses build their network, then call :meth:`_init_teacher` and implement
    :meth:`extract_features`.

    Args:
        input_mean (Sequence[float]): Mean the student's inputs were normalised
            with, RGB 0-255. Defaults to ImageNet.
        input_std (Sequence[float]): Std the student's inputs were normalised
            with, RGB 0-255. Defaults to ImageNet.
    """

    def __init__(self,
                 input_mean: Sequence[float] = IMAGENET_MEAN_255,
                 input_std: Sequence[float] = IMAGENET_STD_255) -> None:
        super().__init__()
        self.input_mean = [float(v) for v in input_mean]
        self.input_std = [float(v) for v in input_std]
        self.embed_dims: List[int] = []
        self.out_indices: List = []

    def _init_teacher(self, mean: Sequence[float], std: Sequence[float],
                      embed_dims: List[int], out_indices: List) -> None:
        """Register the input conversion, record the levels and freeze everything.

        Args:
            mean (Sequence[float]): The teacher's own mean, RGB 0-255.
            std (Sequence[float]): The teacher's own std, RGB 0-255.
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
        """Re-normalise the student's input with the teacher's statistics.

        Args:
            inputs (Tensor): (B, 3, H, W) normalised with ``input_mean``/``input_std``.

        Returns:
            Tensor: (B, 3, H, W) normalised with ``mean``/``std``.
        """
        return inputs * self._scale.to(inputs.dtype) + self._shift.to(inputs.dtype)

    def extract_features(self, x: Tensor) -> List[Tensor]:
        """Run the network on teacher-normalised images.

        Args:
            x (Tensor): (B, 3, H, W) output of :meth:`convert_input`.

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
        if inputs.dim() != 4 or inputs.shape[1] != 3:
            raise ValueError(f'{type(self).__name__} expects (B, 3, H, W) inputs, got '
                             f'{tuple(inputs.shape)}')
        feats = self.extract_features(self.preprocess(self.convert_input(inputs)))
        return [f.contiguous() for f in feats]

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
                f'mean={getattr(self, "mean", None)}, std={getattr(self, "std", None)}')


def resolve_stats(mean: Optional[Sequence[float]], std: Optional[Sequence[float]],
                  default_mean_01: Sequence[float],
                  default_std_01: Sequence[float]) -> tuple:
    """Pick the teacher's statistics: user values (0-255) or library defaults (0-1).

    Args:
        mean (Sequence[float], optional): User mean, RGB 0-255.
        std (Sequence[float], optional): User std, RGB 0-255.
        default_mean_01 (Sequence[float]): Library mean in 0-1 (e.g. timm ``pretrained_cfg``).
        default_std_01 (Sequence[float]): Library std in 0-1.

    Returns:
        tuple: ``(mean, std)`` as lists in RGB 0-255.
    """
    mean = list(mean) if mean is not None else _as_255(default_mean_01)
    std = list(std) if std is not None else _as_255(default_std_01)
    return mean, std
