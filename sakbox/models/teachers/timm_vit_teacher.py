"""Frozen timm ViT teachers: supervised ViTs, DINOv2, CLIP (timm ports), ..."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from sakbox.registry import MODELS

from ..utils.out_indices import resolve_out_indices
from ..utils.timm_models import create_timm_model
from .base_teacher import (
    DEFAULT_INPUT_NORM,
    IMAGENET_MEAN_255,
    IMAGENET_STD_255,
    BaseTeacher,
)


@MODELS.register_module()
class TimmViTTeacher(BaseTeacher):
    """Any timm plain ViT as a frozen teacher (DINOv2, CLIP ports, supervised ViTs).

    Features are the outputs of blocks ``out_indices`` without the final norm
    (as the official SAK), prefix tokens (class/register) dropped, reshaped to
    the patch grid. The model is built with ``dynamic_img_size=True`` so any
    input size works: position embeddings are resampled to the input's grid and
    inputs are used at the student's resolution (a patch-14 model on a 448x576
    crop gives a 32x41 grid, the 2 px remainder being dropped). Blocks after
    the last output index, the final norm and the head are pruned.

    Args:
        arch (str): timm name, e.g. ``'vit_base_patch14_dinov2'``,
            ``'vit_base_patch16_clip_384'``, ``'vit_base_patch16_384'``.
        img_size (int | tuple, optional): Size the position embeddings are built
            for (usually the training crop). None keeps the arch's default.
        out_indices (Sequence[int], optional): Blocks to return; None picks the
            official SAK blocks for the depth (12 -> 2,5,8,11; 24 -> 5,11,17,23;
            32 -> 7,15,23,31; 40 -> 9,19,29,39).
        pretrained (bool): Load timm's hub weights. Defaults to False.
        checkpoint (str, optional): Local weights (timm or official
            DINOv2/OpenAI-CLIP/OpenCLIP format, via timm's ``checkpoint_filter_fn``).
        input_mean (Sequence[float]): Student normalisation mean, RGB 0-255.
        input_std (Sequence[float]): Student normalisation std, RGB 0-255.
        input_norm (str): ``'student'`` feeds the student's normalised input as it
            is (the official SAK; set by every SAK config), ``'teacher'``
            (default) re-normalises it to ``mean``/``std``. See :class:`BaseTeacher`.
        mean (Sequence[float], optional): Teacher mean, RGB 0-255, used with
            ``input_norm='teacher'``. Defaults to timm's ``pretrained_cfg['mean']`` x 255.
        std (Sequence[float], optional): Teacher std, RGB 0-255 (same rules).
        model_kwargs (dict, optional): Extra ``timm.create_model`` kwargs (e.g.
            ``depth``/``embed_dim``/``num_heads`` for tiny tests).
        final_norm (bool): Apply the model's final norm to the returned levels. With
            the last block as the last level this is DINOv2's ``x_norm_patchtokens``,
            the dense target of the official RADIO ``DinoWrapper``. Default False (SAK:
            un-normed block outputs).
        with_summary (bool): Keep the final norm and provide
            :meth:`forward_with_summary`: the normed class token of the last level
            (DINOv2's ``x_norm_clstoken``, RADIO's DINOv2 summary target).
    """

    def __init__(self,
                 arch: str,
                 img_size: Optional[Union[int, Tuple[int, int]]] = None,
                 out_indices: Optional[Sequence[int]] = None,
                 pretrained: bool = False,
                 checkpoint: Optional[str] = None,
                 input_mean: Sequence[float] = IMAGENET_MEAN_255,
                 input_std: Sequence[float] = IMAGENET_STD_255,
                 input_norm: str = DEFAULT_INPUT_NORM,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 model_kwargs: Optional[dict] = None, final_norm: bool = False,
                 with_summary: bool = False) -> None:
        super().__init__(input_mean=input_mean, input_std=input_std, input_norm=input_norm)
        if arch.split('.')[0].startswith('samvit'):
            raise ValueError(f'{arch} is a SAM image encoder: use SAMTeacher, which applies '
                             "SAM's resize-and-pad input rule.")
        self.arch = arch
        kwargs = dict(num_classes=0, dynamic_img_size=True, **(model_kwargs or {}))
        if img_size is not None:
            kwargs['img_size'] = img_size
        self.model = create_timm_model(arch, pretrained, checkpoint, **kwargs)
        if not hasattr(self.model, 'forward_intermediates') or not hasattr(self.model, 'blocks'):
            raise TypeError(f'{arch} ({type(self.model).__name__}) is not a timm ViT with '
                            'blocks/forward_intermediates; use TimmCNNTeacher for CNNs.')
        out_indices = resolve_out_indices(out_indices, len(self.model.blocks))
        self.final_norm, self.with_summary = bool(final_norm), bool(with_summary)
        if self.with_summary and getattr(self.model, 'cls_token', None) is None:
            raise ValueError(f'{arch}: with_summary=True needs a class token; this model '
                             'has none')
        self.model.prune_intermediate_layers(
            out_indices, prune_norm=not (self.final_norm or self.with_summary), prune_head=True)
        cfg = self.model.pretrained_cfg
        mean, std = self.resolve_stats(mean, std, cfg.get('mean', (0.485, 0.456, 0.406)),
                                  cfg.get('std', (0.229, 0.224, 0.225)))
        self.patch_size = tuple(self.model.patch_embed.patch_size)
        self._init_teacher(mean, std, [self.model.embed_dim] * len(out_indices), out_indices)

    def preprocess(self, x: Tensor) -> Tensor:
        """Drop the bottom/right pixels beyond a multiple of the patch size.

        The official SAK builds the teacher for the crop size, whose patch
        convolution then ignores the remainder (a patch-14 teacher on 576 px sees
        574); cropping reproduces that with a dynamic-size model.
        """
        h, w = x.shape[-2:]
        ph, pw = self.patch_size
        return x[..., :h - h % ph, :w - w % pw]

    def extract_features(self, x: Tensor) -> List[Tensor]:
        """Block outputs at ``out_indices`` as (B, C, H // p, W // p) maps."""
        return self.model.forward_intermediates(
            x, indices=self.out_indices, intermediates_only=True, norm=self.final_norm,
            output_fmt='NCHW')

    @property
    def summary_dim(self) -> Optional[int]:
        """Width of the normed class token (None without ``with_summary``)."""
        return self.model.embed_dim if self.with_summary else None

    @torch.no_grad()
    def forward_with_summary(self, inputs: Tensor) -> Tuple[List[Tensor], Tensor]:
        """Feature levels and the normed class token of the last level, in one pass.

        Args:
            inputs (Tensor): (B, 3, H, W) normalised by the student's preprocessor.

        Returns:
            tuple: ``num_levels`` maps (B, C, h, w) and the summary (B, C).
        """
        if not self.with_summary:
            raise RuntimeError(f'{self.arch}: built with with_summary=False (its final norm '
                               'may be pruned); build it with with_summary=True')
        x = self.network_input(inputs)
        pairs = self.model.forward_intermediates(
            x, indices=self.out_indices, intermediates_only=True, norm=False,
            output_fmt='NCHW', return_prefix_tokens=True)
        norm = self.model.norm
        summary = norm(pairs[-1][1][:, 0])  # class token first, registers after
        feats = []
        for f, _ in pairs:
            if self.final_norm:  # the norm is per token: apply it on (B, h, w, C)
                f = norm(f.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
            feats.append(f.contiguous())
        return feats, summary
