"""RADIO ViT student: a timm ViT with per-teacher summary tokens and CPE.

AM-RADIO (Ranzinger et al., CVPR 2024) distils several foundation models into
one ViT. Two details make it different from a plain timm ViT:

* **One summary (CLS) token per teacher** that has a summary output, plus
  optional register tokens, all prepended to the patch tokens.
* **Cropped position embeddings (CPE)**: the learned position grid covers a
  large image (``max_img_size``). In training each sample sees a random crop
  (random area, aspect ratio and offset) of that grid, resampled to the input's
  patch grid; in inference the whole grid is resized so that its longer side
  matches the input and the top-left ``(h, w)`` window is used. The model hence
  runs at any resolution and aspect ratio that is a multiple of the patch size.
"""
import math
from functools import partial
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from timm.layers import trunc_normal_
from timm.models.vision_transformer import Block
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from sakbox.registry import MODELS
from sakbox.utils.sizes import to_hw

from ..adaptor_heads.phi_s import PhiSNormalizer
from ..utils.renamed_args import GRAD_CHECKPOINTING_RENAMED, reject_renamed_args

#: (embed_dim, depth, num_heads) of the usual ViT sizes.
RADIO_ARCHS: Dict[str, Tuple[int, int, int]] = {
    'tiny': (192, 12, 3),
    'small': (384, 12, 6),
    'base': (768, 12, 12),
    'large': (1024, 24, 16),
    'huge': (1280, 32, 16),
}


class CPEPatchGenerator(nn.Module):
    """Patch embedding + cropped position embedding + prefix (summary/register) tokens.

    Args:
        patch_size (int): Patch size p.
        embed_dim (int): Token width C.
        max_img_size (int | tuple): Image size covered by the learned position grid;
            rounded up to a multiple of ``patch_size``.
        num_cls_tokens (int): Summary tokens (one per teacher with a summary).
        num_registers (int): Extra register tokens (discarded at the output).
        pos_dropout (float): Per-sample probability of dropping the position
            embedding in training (official RADIO uses 0.1).
        cpe (bool): Random crops of the grid in training. False: always resize.
        cpe_scale (tuple): Range of the crop's area fraction.
        cpe_aspect (tuple): Range of the crop's aspect ratio (log-uniform).
        normalize_patches (bool): LayerNorm on the tokens after embedding.
        patch_bias (bool): Bias in the patch projection.
    """

    def __init__(self, patch_size: int, embed_dim: int,
                 max_img_size: Union[int, Sequence[int]], num_cls_tokens: int = 1,
                 num_registers: int = 0, pos_dropout: float = 0.0, cpe: bool = True,
                 cpe_scale: Tuple[float, float] = (0.1, 1.0),
                 cpe_aspect: Tuple[float, float] = (3 / 4, 4 / 3),
                 normalize_patches: bool = False, patch_bias: bool = False) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.embed_dim = embed_dim
        self.grid_size = tuple(math.ceil(s / patch_size) for s in to_hw(max_img_size, 'max_img_size'))
        self.num_cls_tokens = num_cls_tokens
        self.num_registers = num_registers
        self.pos_dropout = pos_dropout
        self.cpe = cpe
        self.cpe_scale = cpe_scale
        self.cpe_aspect = cpe_aspect
        self.proj = nn.Conv2d(3, embed_dim, patch_size, patch_size, bias=patch_bias)
        num_pos = self.grid_size[0] * self.grid_size[1]
        self.pos_embed = nn.Parameter(torch.randn(1, num_pos, embed_dim) * embed_dim**-0.5)
        num_prefix = num_cls_tokens + num_registers
        self.cls_token = (nn.Parameter(torch.randn(num_prefix, embed_dim) * embed_dim**-0.5)
                          if num_prefix else None)
        self.norm = nn.LayerNorm(embed_dim) if normalize_patches else nn.Identity()

    @property
    def num_prefix_tokens(self) -> int:
        """Summary + register tokens in front of the patch tokens."""
        return self.num_cls_tokens + self.num_registers

    def _random_crop_grid(self, pos: Tensor, batch: int, hw: Tuple[int, int]) -> Tensor:
        """Resample a random crop of the (1, C, R, R') grid per sample -> (B, C, h, w)."""
        dev = pos.device
        lo, hi = (math.sqrt(s) for s in self.cpe_scale)
        scale = torch.rand(batch, 1, 1, device=dev) * (hi - lo) + lo
        a_lo, a_hi = (math.log(a) for a in self.cpe_aspect)
        aspect = torch.exp(torch.rand(batch, 1, 1, device=dev) * (a_hi - a_lo) + a_lo)
        scale_xy = torch.stack([scale * aspect, scale / aspect], -1).clamp(0, 1)
        offset = torch.rand(batch, 1, 1, 2, device=dev) * (1 - scale_xy)
        ys = torch.linspace(0, 1, hw[0], device=dev)
        xs = torch.linspace(0, 1, hw[1], device=dev)
        gy, gx = torch.meshgrid(ys, xs, indexing='ij')
        grid = torch.stack([gx, gy], -1)[None] * scale_xy + offset  # (B, h, w, 2) in [0, 1]
        return F.grid_sample(pos.float().expand(batch, -1, -1, -1), grid * 2 - 1,
                             mode='bilinear', padding_mode='zeros',
                             align_corners=True).to(pos.dtype)

    def get_pos_embed(self, batch: int, hw: Tuple[int, int]) -> Tensor:
        """Position embedding for an (h, w) patch grid.

        Args:
            batch (int): Batch size (training crops differ per sample).
            hw (tuple): Patch grid (h, w).

        Returns:
            Tensor: (B or 1, h * w, C).
        """
        if tuple(hw) == self.grid_size:
            return self.pos_embed
        pos = self.pos_embed.reshape(1, *self.grid_size, -1).permute(0, 3, 1, 2)
        if self.cpe and self.training:
            pos = self._random_crop_grid(pos, batch, hw)
        else:
            if self.cpe:  # resize the square grid to the long side, then take a window
                side = max(hw)
                pos = F.interpolate(pos.float(), size=(side, side), mode='bilinear',
                                    align_corners=False).to(pos.dtype)
            pos = pos[..., :hw[0], :hw[1]]
            if tuple(pos.shape[-2:]) != tuple(hw):
                pos = F.interpolate(pos.float(), size=hw, mode='bilinear',
                                    align_corners=False).to(pos.dtype)
        return pos.flatten(2).transpose(1, 2)

    def forward(self, x: Tensor) -> Tensor:
        """Embed an image.

        Args:
            x (Tensor): (B, 3, H, W), H and W multiples of ``patch_size``.

        Returns:
            Tensor: (B, num_prefix + h * w, C) tokens.
        """
        p = self.patch_size
        if x.shape[-2] % p or x.shape[-1] % p:
            h, w = (max(p, round(s / p) * p) for s in x.shape[-2:])
            raise ValueError(f'RADIO input of shape {tuple(x.shape)}: H and W must be multiples '
                             f'of the patch size {p} (nearest supported: {h}x{w})')
        tokens = self.proj(x)
        hw = tuple(tokens.shape[-2:])
        tokens = tokens.flatten(2).transpose(1, 2)
        pos = self.get_pos_embed(tokens.shape[0], hw)
        if self.training and self.pos_dropout > 0:
            keep = torch.rand(tokens.shape[0], 1, 1, device=x.device) >= self.pos_dropout
            pos = pos * keep.to(pos.dtype)
        tokens = tokens + pos
        if self.cls_token is not None:
            prefix = self.cls_token[None].expand(tokens.shape[0], -1, -1)
            tokens = torch.cat([prefix, tokens], dim=1)
        return self.norm(tokens)


@MODELS.register_module()
class RADIOViT(BaseModule):
    """AM-RADIO ViT student (timm blocks, CPE, per-teacher summary tokens).

    Args:
        arch (str | dict): One of :data:`RADIO_ARCHS` or
            ``dict(embed_dim, depth, num_heads)``.
        patch_size (int): Patch size.
        max_img_size (int | tuple): Image size the position grid covers (CPE). In
            training random crops of it are used; any input up to and beyond it works.
        cpe (bool): Enable the random crops (False: always resize the grid).
        num_cls_tokens (int): Summary tokens, normally one per teacher with a summary.
        num_registers (int): Register tokens.
        register_multiple (int, optional): Instead of ``num_registers``, add
            ``register_multiple - num_cls_tokens % register_multiple`` registers (the
            official RADIO rule: the prefix becomes a multiple of it, and a prefix that
            already is one gets ``register_multiple`` more).
        mlp_ratio (float): MLP hidden ratio.
        qkv_bias (bool): Bias in the qkv projection.
        layer_scale_init (float, optional): LayerScale init value (None: off).
        drop_path_rate (float): Stochastic depth, linearly increasing.
        pos_dropout (float): Position-embedding dropout (see :class:`CPEPatchGenerator`).
        cpe_scale (tuple): Crop area range. cpe_aspect (tuple): crop aspect range.
        normalize_patches (bool): LayerNorm after patch embedding.
        patch_bias (bool): Bias in the patch projection.
        final_norm (bool): LayerNorm on the final tokens (official RADIO drops it).
        out_indices (sequence[int], optional): Blocks whose outputs are returned as
            ``levels`` (negative counts from the end). Default: 4 evenly spaced.
        output_fmt (str): ``'NCHW'`` -> ``features`` (B, C, h, w); ``'NLC'`` -> (B, h*w, C).
        grad_checkpointing (bool): Gradient checkpointing of the blocks (recomputed in
            backward; also :meth:`set_grad_checkpointing`). The former name ``with_cp``
            raises a ``TypeError`` that names this one.
        feature_normalizer (bool): Apply a fixed affine map ``tx @ (x - mean)`` (buffers
            of a :class:`PhiSNormalizer`, identity until loaded) to ``features``, as the
            released RADIO checkpoints that carry a ``_feature_normalizer`` do.
        frozen (bool): Freeze every parameter and keep eval mode (linear probes).
        tasks (sequence[str], optional): When given (as ``MultiTaskDistiller`` does),
            the output also has ``task_feats`` = ``{task: levels}`` and ``stem_feats``,
            so the stem serves as a dense multi-task / linear-probe backbone.
        teacher_dims (dict, optional): Accepted for ``MultiTaskDistiller``; unused.
        init_cfg (dict, optional): MMEngine init config (e.g. ``Pretrained``).
    """

    def __init__(self, arch: Union[str, dict] = 'base', patch_size: int = 16,
                 max_img_size: Union[int, Sequence[int]] = 1024, cpe: bool = True,
                 num_cls_tokens: int = 1, num_registers: int = 0,
                 register_multiple: Optional[int] = None, mlp_ratio: float = 4.0,
                 qkv_bias: bool = True, layer_scale_init: Optional[float] = None,
                 drop_path_rate: float = 0.0, pos_dropout: float = 0.0,
                 cpe_scale: Tuple[float, float] = (0.1, 1.0),
                 cpe_aspect: Tuple[float, float] = (3 / 4, 4 / 3),
                 normalize_patches: bool = False, patch_bias: bool = False,
                 final_norm: bool = False, out_indices: Optional[Sequence[int]] = None,
                 output_fmt: str = 'NCHW', grad_checkpointing: bool = False,
                 feature_normalizer: bool = False, frozen: bool = False,
                 tasks: Optional[Sequence[str]] = None, teacher_dims: Optional[dict] = None,
                 init_cfg: Optional[dict] = None, **kwargs) -> None:
        reject_renamed_args('RADIOViT', kwargs, GRAD_CHECKPOINTING_RENAMED)
        super().__init__(init_cfg=init_cfg)
        if isinstance(arch, str):
            if arch not in RADIO_ARCHS:
                raise KeyError(f'RADIOViT: unknown arch {arch!r}; choose one of '
                               f'{sorted(RADIO_ARCHS)} or pass dict(embed_dim, depth, num_heads)')
            embed_dim, depth, num_heads = RADIO_ARCHS[arch]
        else:
            embed_dim, depth, num_heads = arch['embed_dim'], arch['depth'], arch['num_heads']
        if output_fmt not in ('NCHW', 'NLC'):
            raise ValueError(f"RADIOViT: output_fmt must be 'NCHW' or 'NLC', got {output_fmt!r}")
        if register_multiple and not num_registers:
            # As the official ClsToken: a prefix that is already a multiple still gets a
            # full set (8 summary tokens + 8 registers with register_multiple=8).
            num_registers = register_multiple - num_cls_tokens % register_multiple
        self.embed_dim = embed_dim
        self.depth = depth
        self.patch_size = patch_size
        self.output_fmt = output_fmt
        self.grad_checkpointing = grad_checkpointing
        self.patch_generator = CPEPatchGenerator(
            patch_size, embed_dim, max_img_size, num_cls_tokens=num_cls_tokens,
            num_registers=num_registers, pos_dropout=pos_dropout, cpe=cpe,
            cpe_scale=cpe_scale, cpe_aspect=cpe_aspect,
            normalize_patches=normalize_patches, patch_bias=patch_bias)
        dpr = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]  # meta-safe
        self.blocks = nn.Sequential(*[
            Block(embed_dim, num_heads, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias,
                  init_values=layer_scale_init, drop_path=dpr[i],
                  norm_layer=partial(nn.LayerNorm, eps=1e-6)) for i in range(depth)
        ])
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6) if final_norm else nn.Identity()
        self.feature_normalizer = PhiSNormalizer(embed_dim) if feature_normalizer else None
        if out_indices is None:
            out_indices = [round(depth * (i + 1) / 4) - 1 for i in range(4)]
        self.out_indices = sorted({i % depth for i in out_indices})
        self.level_channels = [embed_dim] * len(self.out_indices)
        self.tasks = list(tasks) if tasks is not None else None
        self.frozen = frozen
        for m in self.blocks.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        if frozen:
            self.requires_grad_(False)
            self.eval()

    def train(self, mode: bool = True) -> 'RADIOViT':
        """Set the mode; a ``frozen`` stem always stays in eval mode."""
        return super().train(mode and not self.frozen)

    @property
    def num_cls_tokens(self) -> int:
        """Summary tokens (B, num_cls_tokens, C) in the output."""
        return self.patch_generator.num_cls_tokens

    @property
    def num_prefix_tokens(self) -> int:
        """Summary + register tokens."""
        return self.patch_generator.num_prefix_tokens

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute each block in backward instead of keeping its activations (timm API)."""
        self.grad_checkpointing = enable

    def no_weight_decay(self) -> List[str]:
        """Parameter names that should not be weight-decayed."""
        return ['patch_generator.pos_embed', 'patch_generator.cls_token']

    def _run_blocks(self, x: Tensor, take: Sequence[int],
                    stop_early: bool = False) -> Tuple[Tensor, List[Tensor]]:
        outs = []
        last = max(take) if (stop_early and take) else self.depth - 1
        for i, blk in enumerate(self.blocks):
            if i > last:
                break
            if self.grad_checkpointing and torch.is_grad_enabled():
                x = checkpoint(blk, x, use_reentrant=False)
            else:
                x = blk(x)
            if i in take:
                outs.append(x)
        return x, outs

    def _split(self, tokens: Tensor, hw: Tuple[int, int], fmt: str,
               normalize: bool = False) -> Tuple[Tensor, Tensor]:
        summary = tokens[:, :self.num_cls_tokens]
        feats = tokens[:, self.num_prefix_tokens:]
        if normalize and self.feature_normalizer is not None:
            feats = self.feature_normalizer(feats)
        if fmt == 'NCHW':
            feats = feats.transpose(1, 2).reshape(tokens.shape[0], -1, *hw)
        return summary, feats

    def _grid(self, x: Tensor) -> Tuple[int, int]:
        return x.shape[-2] // self.patch_size, x.shape[-1] // self.patch_size

    def forward_features(self, x: Tensor) -> Tensor:
        """Return the final tokens (B, num_prefix + h*w, C) (after ``norm``)."""
        x, _ = self._run_blocks(self.patch_generator(x), [])
        return self.norm(x)

    def forward_intermediates(self, x: Tensor, indices: Optional[Union[int, Sequence[int]]] = None,
                              norm: bool = False, output_fmt: str = 'NCHW',
                              return_prefix_tokens: bool = False,
                              intermediates_only: bool = False, stop_early: bool = False):
        """timm-style intermediate outputs.

        Args:
            x (Tensor): (B, 3, H, W).
            indices (int | sequence[int], optional): Last n blocks (int) or block
                indices; default ``out_indices``.
            norm (bool): Apply the final norm to the intermediates.
            output_fmt (str): 'NCHW' -> (B, C, h, w); 'NLC' -> (B, h*w, C).
            return_prefix_tokens (bool): Return ``(summary (B, num_cls, C), feats)`` pairs.
            intermediates_only (bool): Only return the intermediates.
            stop_early (bool): Stop after the last requested block (only with
                ``intermediates_only``).

        Returns:
            list | tuple: intermediates, or ``(final_tokens, intermediates)``.
        """
        if indices is None:
            take = list(self.out_indices)
        elif isinstance(indices, int):
            take = list(range(self.depth - indices, self.depth))
        else:
            take = sorted(i % self.depth for i in indices)
        hw = self._grid(x)
        tokens, outs = self._run_blocks(self.patch_generator(x), take,
                                        stop_early=stop_early and intermediates_only)
        results = []
        for y in outs:
            summary, feats = self._split(self.norm(y) if norm else y, hw, output_fmt)
            results.append((summary, feats) if return_prefix_tokens else feats)
        if intermediates_only:
            return results
        return self.norm(tokens), results

    def forward(self, x: Tensor) -> Dict[str, Union[Tensor, List[Tensor]]]:
        """Run the student.

        Args:
            x (Tensor): (B, 3, H, W), H and W multiples of ``patch_size``.

        Returns:
            dict: ``summary`` (B, num_cls_tokens, C); ``features`` (B, C, h, w) (or
            (B, h*w, C) with ``output_fmt='NLC'``); ``levels`` list of (B, C, h, w)
            at ``out_indices`` (un-normed block outputs). With ``tasks``: also
            ``task_feats`` ``{task: levels}``, ``stem_feats`` (= levels), ``distill`` {}.
        """
        hw = self._grid(x)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            tokens, outs = self._run_blocks(self.patch_generator(x), self.out_indices)
            summary, feats = self._split(self.norm(tokens), hw, self.output_fmt, normalize=True)
        levels = [self._split(y, hw, 'NCHW')[1] for y in outs]
        out = dict(summary=summary, features=feats, levels=levels)
        if self.tasks is not None:
            out.update(task_feats={t: list(levels) for t in self.tasks}, stem_feats=levels,
                       distill={})
        return out
