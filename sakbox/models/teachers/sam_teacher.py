"""Frozen SAM image encoder teacher (timm ``samvit_*``)."""
import math
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from sakbox.registry import MODELS
from sakbox.utils.state_dict_fit import load_state_dict_file, load_state_dict_strict

from ..utils.out_indices import resolve_out_indices
from ..utils.timm_models import timm_filter_fn
from .base_teacher import (
    DEFAULT_INPUT_NORM,
    IMAGENET_MEAN_255,
    IMAGENET_STD_255,
    BaseTeacher,
)
from .sam_rel_pos_attention import REL_POS_ATTN_MODES, use_blocked_rel_pos_attention


def resize_longest_side_and_pad(x: Tensor, long_side: int) -> Tensor:
    """SAM's input rule: resize so the long side is ``long_side``, zero-pad bottom/right.

    Matches the official SAK preprocessing: bicubic resize (no antialias) to
    ``round(h * s), round(w * s)`` with ``s = long_side / max(h, w)``, then zeros
    (the mean colour after normalisation) to a ``long_side`` square.

    Args:
        x (Tensor): (B, 3, H, W) normalised images.
        long_side (int): Target long side, 1024 for SAM.

    Returns:
        Tensor: (B, 3, long_side, long_side).
    """
    h, w = x.shape[-2:]
    scale = long_side / max(h, w)
    new_h, new_w = int(h * scale + 0.5), int(w * scale + 0.5)
    if (new_h, new_w) != (h, w):
        x = F.interpolate(x, (new_h, new_w), mode='bicubic', align_corners=False)
    return F.pad(x, (0, long_side - new_w, 0, long_side - new_h))


def resize_sam_state_dict(state_dict: Dict[str, Tensor],
                          model_state: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """Fit SAM's absolute and relative position tables to another input size.

    SAM weights are made for 1024x1024; a model built for ``long_side`` != 1024
    needs its (1, H, W, C) position embedding resized bicubically and its
    (2S - 1, head_dim) relative position tables resized linearly (as official SAK).

    Args:
        state_dict (dict): timm-format SAM weights.
        model_state (dict): The target model's state dict (for the shapes).

    Returns:
        dict: Weights with resized tables.
    """
    out = {}
    for k, v in state_dict.items():
        target = model_state.get(k)
        if target is not None and v.shape != target.shape:
            if k == 'pos_embed':
                v = F.interpolate(v.permute(0, 3, 1, 2), size=target.shape[1:3],
                                  mode='bicubic', align_corners=False).permute(0, 2, 3, 1)
            elif 'rel_pos' in k and v.shape[1] == target.shape[1]:
                v = F.interpolate(v.t().unsqueeze(0), size=target.shape[0],
                                  mode='linear').squeeze(0).t()
        out[k] = v
    return out


@MODELS.register_module()
class SAMTeacher(BaseTeacher):
    """SAM ViT image encoder (timm ``samvit_{base,large,huge}_patch16``) as a teacher.

    Inputs (normalised as ``input_norm`` says) are resized so the long side is
    ``long_side`` and zero-padded bottom/right to a square, exactly as the
    official SAK (zero is the mean colour of either normalisation). The
    intermediate block outputs are returned without the neck. Like the
    official, the full padded grid is kept by default (64x64 for 1024);
    ``crop_valid=True`` crops each map to the tokens that cover the image.

    Args:
        arch (str): timm SAM name. Defaults to ``'samvit_base_patch16'``.
        long_side (int): Resize target of the long side (the model's img_size).
            Defaults to 1024; tiny tests use e.g. 64.
        crop_valid (bool): Crop the features to the non-padded region.
        out_indices (Sequence[int], optional): Blocks; None = SAK defaults by depth.
        pretrained (bool): Load timm's hub weights.
        checkpoint (str, optional): Local weights, timm or official SAM format
            (``image_encoder.*`` keys); position tables are resized if needed.
        input_mean, input_std (Sequence[float]): Student normalisation, RGB 0-255.
        input_norm (str): ``'student'`` feeds the student's normalised input as it
            is (the official SAK; set by every SAK config), ``'teacher'``
            (default) re-normalises it to ``mean``/``std``. See :class:`BaseTeacher`.
        mean, std (Sequence[float], optional): Teacher stats, RGB 0-255, used with
            ``input_norm='teacher'``; default timm ``pretrained_cfg`` x 255 (SAM uses
            the ImageNet statistics).
        model_kwargs (dict, optional): Extra ``timm.create_model`` kwargs.
        rel_pos_attn (str): How the attentions with SAM's relative-position bias
            run. ``'blocked'`` (default): by query blocks, without materialising the
            (B * heads, N, N) bias (faster and smaller; equal to timm's to float
            rounding); ``'timm'``: timm's own forward, bit for bit. See
            :mod:`sakbox.models.teachers.sam_rel_pos_attention`.
    """

    def __init__(self,
                 arch: str = 'samvit_base_patch16',
                 long_side: int = 1024,
                 crop_valid: bool = False,
                 out_indices: Optional[Sequence[int]] = None,
                 pretrained: bool = False,
                 checkpoint: Optional[str] = None,
                 input_mean: Sequence[float] = IMAGENET_MEAN_255,
                 input_std: Sequence[float] = IMAGENET_STD_255,
                 input_norm: str = DEFAULT_INPUT_NORM,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 model_kwargs: Optional[dict] = None,
                 rel_pos_attn: str = 'blocked') -> None:
        super().__init__(input_mean=input_mean, input_std=input_std, input_norm=input_norm)
        if rel_pos_attn not in REL_POS_ATTN_MODES:
            raise ValueError(f'SAMTeacher: rel_pos_attn must be one of {REL_POS_ATTN_MODES}, '
                             f'got {rel_pos_attn!r}')
        import timm
        self.arch = arch
        self.long_side = int(long_side)
        self.crop_valid = crop_valid
        kwargs = dict(num_classes=0, img_size=self.long_side, **(model_kwargs or {}))
        # Hub weights are made for 1024: load them into a 1024 model, resize below.
        load_hub = pretrained and checkpoint is None
        self.model = timm.create_model(arch, pretrained=load_hub and self.long_side == 1024,
                                       **kwargs)
        if load_hub and self.long_side != 1024:
            ref = timm.create_model(arch, pretrained=True, **dict(kwargs, img_size=1024))
            self.model.load_state_dict(
                resize_sam_state_dict(ref.state_dict(), self.model.state_dict()))
            del ref
        if checkpoint is not None:
            state_dict = load_state_dict_file(checkpoint)
            state_dict = timm_filter_fn(self.model)(state_dict, self.model)
            state_dict = resize_sam_state_dict(state_dict, self.model.state_dict())
            load_state_dict_strict(self.model, state_dict, checkpoint,
                                   ignore_unexpected=('head.', ))
        out_indices = resolve_out_indices(out_indices, len(self.model.blocks))
        # prune_norm drops the neck (SAM's "norm"), as the official does.
        self.model.prune_intermediate_layers(out_indices, prune_norm=True, prune_head=True)
        self.rel_pos_attn = rel_pos_attn
        use_blocked_rel_pos_attention(self.model, rel_pos_attn)
        cfg = self.model.pretrained_cfg
        mean, std = self.resolve_stats(mean, std, cfg.get('mean', (0.485, 0.456, 0.406)),
                                  cfg.get('std', (0.229, 0.224, 0.225)))
        self.patch_size = tuple(self.model.patch_embed.patch_size)
        self._init_teacher(mean, std, [self.model.embed_dim] * len(out_indices), out_indices)

    def valid_grid(self, height: int, width: int) -> tuple:
        """Token grid (h, w) covering the image part of the padded SAM input.

        Args:
            height (int): Input height before the resize.
            width (int): Input width before the resize.

        Returns:
            tuple: ``(h, w)`` with ``h, w <= long_side / patch``.
        """
        scale = self.long_side / max(height, width)
        valid_h, valid_w = int(height * scale + 0.5), int(width * scale + 0.5)
        return (math.ceil(valid_h / self.patch_size[0]), math.ceil(valid_w / self.patch_size[1]))

    def preprocess(self, x: Tensor) -> Tensor:
        """Resize the long side to ``long_side`` and zero-pad to a square."""
        return resize_longest_side_and_pad(x, self.long_side)

    def extract_features(self, x: Tensor) -> List[Tensor]:
        """Block outputs (B, C, long_side / 16, long_side / 16) of the padded input."""
        return self.model.forward_intermediates(
            x, indices=self.out_indices, intermediates_only=True, norm=False)

    @torch.no_grad()
    def forward(self, inputs: Tensor) -> List[Tensor]:
        """Extract SAM features of the student's input.

        Args:
            inputs (Tensor): (B, 3, H, W) normalised by the student's preprocessor.

        Returns:
            List[Tensor]: (B, C, long_side / 16, long_side / 16) maps, or the valid
            ``(B, C, ceil(H * s / 16), ceil(W * s / 16))`` part if ``crop_valid``.
        """
        feats = super().forward(inputs)
        if self.crop_valid:
            gh, gw = self.valid_grid(*inputs.shape[-2:])
            feats = [f[:, :, :gh, :gw].contiguous() for f in feats]
        return feats
