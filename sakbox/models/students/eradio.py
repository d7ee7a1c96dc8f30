"""E-RADIO: the efficient hybrid CNN-transformer student of AM-RADIO.

Layout (AM-RADIO, Sec. "Efficient student"): a stride-4 convolutional stem,
two stages of residual conv blocks (strides 4 and 8), then two transformer
stages (strides 16 and 32) of *multi-resolution windowed attention*: each
block runs windowed attention once on a sub-sampled map (wide context, the
cheap substitute for global attention) and once at full resolution; a
depthwise conv before full-resolution attention supplies position
information, so no position embedding ties the model to one input size. A
light neck sums the projected stride-16 and (up-sampled) stride-32 stages
into one stride-16 map — the grid of a ViT/16, so the same adaptors and
distiller serve both students.
"""
import contextlib
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from timm.layers import DropPath, Mlp, trunc_normal_
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from sakbox.registry import MODELS

from ..utils.renamed_args import GRAD_CHECKPOINTING_RENAMED, reject_renamed_args


def conv_bn(cin: int, cout: int, k: int = 3, s: int = 1, groups: int = 1) -> nn.Sequential:
    """Conv (no bias) + BatchNorm, padded to keep the size at stride 1."""
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout))


@contextlib.contextmanager
def _bn_stats_frozen(module: nn.Module) -> Iterator[None]:
    """Keep the BatchNorm running statistics of ``module`` unchanged inside the context.

    Gradient checkpointing re-runs a block's forward in backward; without this,
    every BatchNorm in it would update its running statistics twice per step.
    """
    norms = [m for m in module.modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    saved = [(m.momentum, m.num_batches_tracked.clone()) for m in norms]
    for m in norms:
        m.momentum = 0.0  # running = 1 * running + 0 * batch statistic
    try:
        yield
    finally:
        for m, (momentum, count) in zip(norms, saved):
            m.momentum = momentum
            m.num_batches_tracked.copy_(count)


def checkpoint_block(block: nn.Module, x: Tensor) -> Tensor:
    """``block(x)`` recomputed in backward, BatchNorm statistics updated once."""
    return checkpoint(block, x, use_reentrant=False,
                      context_fn=lambda: (contextlib.nullcontext(), _bn_stats_frozen(block)))


class ConvBlock(nn.Module):
    """Residual block: conv-BN-GELU-conv-BN + identity."""

    def __init__(self, dim: int, drop_path: float = 0.0) -> None:
        super().__init__()
        self.conv1 = conv_bn(dim, dim)
        self.act = nn.GELU()
        self.conv2 = conv_bn(dim, dim)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        return x + self.drop_path(self.conv2(self.act(self.conv1(x))))


class WindowAttention(nn.Module):
    """Multi-head attention inside (ws x ws) windows with a learned relative position bias.

    Args:
        dim (int): Width. num_heads (int): Heads. window_size (int): Window side.
    """

    def __init__(self, dim: int, num_heads: int, window_size: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.window_size = ws = window_size
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.rel_pos_bias = nn.Parameter(torch.zeros((2 * ws - 1)**2, num_heads))
        trunc_normal_(self.rel_pos_bias, std=0.02)
        coords = torch.stack(torch.meshgrid(torch.arange(ws), torch.arange(ws),
                                            indexing='ij')).flatten(1)  # (2, N)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + ws - 1
        self.register_buffer('rel_index', rel[..., 0] * (2 * ws - 1) + rel[..., 1],
                             persistent=False)

    def forward(self, x: Tensor, key_mask: Optional[Tensor] = None) -> Tensor:
        """Attend within windows.

        Args:
            x (Tensor): (B * nW, N, C) window tokens, N = ws * ws.
            key_mask (Tensor, optional): (B * nW, N) bool, False for padded tokens.

        Returns:
            Tensor: (B * nW, N, C).
        """
        bw, n, c = x.shape
        q, k, v = self.qkv(x).reshape(bw, n, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        bias = self.rel_pos_bias[self.rel_index].permute(2, 0, 1)[None].to(q.dtype)
        if key_mask is not None:
            bias = bias.masked_fill(~key_mask[:, None, None, :], float('-inf'))
        x = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        return self.proj(x.transpose(1, 2).reshape(bw, n, c))


class MultiResAttentionBlock(nn.Module):
    """Windowed transformer block run at ``1 / subsample`` of the input resolution.

    ``subsample > 1``: strided conv down, windowed attention + MLP, transposed conv
    up (wide context). ``subsample == 1``: a depthwise conv (position information),
    then windowed attention + MLP at full resolution. Output ``0.5 * (y + x)``.

    Args:
        dim (int): Width. num_heads (int): Heads. window_size (int): Window side.
        subsample (int): Resolution reduction of this block.
        mlp_ratio (float): MLP ratio. drop_path (float): Stochastic depth.
    """

    def __init__(self, dim: int, num_heads: int, window_size: int, subsample: int = 1,
                 mlp_ratio: float = 4.0, drop_path: float = 0.0) -> None:
        super().__init__()
        self.window_size = window_size
        self.subsample = subsample
        if subsample > 1:
            self.down = nn.Conv2d(dim, dim, subsample, subsample)
            self.up = nn.ConvTranspose2d(dim, dim, subsample, subsample)
        else:
            self.pos_conv = conv_bn(dim, dim, groups=dim)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, num_heads, window_size)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def _windows(self, x: Tensor) -> Tuple[Tensor, Optional[Tensor], Tuple[int, int]]:
        b, c, h, w = x.shape
        ws = self.window_size
        ph, pw = (-h) % ws, (-w) % ws
        mask = None
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph))
            valid = torch.zeros(1, 1, h + ph, w + pw, dtype=torch.bool, device=x.device)
            valid[..., :h, :w] = True
            mask = self._partition(valid, ws).squeeze(-1).expand(b, -1, -1)
            mask = mask.reshape(-1, ws * ws)
        return self._partition(x, ws), mask, (h + ph, w + pw)

    @staticmethod
    def _partition(x: Tensor, ws: int) -> Tensor:
        b, c, h, w = x.shape
        x = x.reshape(b, c, h // ws, ws, w // ws, ws).permute(0, 2, 4, 3, 5, 1)
        return x.reshape(b, (h // ws) * (w // ws), ws * ws, c)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        skip = x
        if self.subsample > 1:  # pad to a multiple of the sub-sampling (odd or tiny maps)
            r = self.subsample
            x = self.down(F.pad(x, (0, (-x.shape[-1]) % r, 0, (-x.shape[-2]) % r)))
        else:
            x = x + self.pos_conv(x)
        b, c, h, w = x.shape
        win, mask, (hp, wp) = self._windows(x)
        ws, nw = self.window_size, win.shape[1]
        t = win.reshape(b * nw, ws * ws, c)
        t = t + self.drop_path(self.attn(self.norm1(t), mask))
        t = t + self.drop_path(self.mlp(self.norm2(t)))
        x = t.reshape(b, hp // ws, wp // ws, ws, ws, c).permute(0, 5, 1, 3, 2, 4)
        x = x.reshape(b, c, hp, wp)[..., :h, :w]
        if self.subsample > 1:
            x = self.up(x)[..., :skip.shape[-2], :skip.shape[-1]]
        return 0.5 * x + 0.5 * skip


@MODELS.register_module()
class ERADIO(BaseModule):
    """E-RADIO student stem with the :class:`RADIOViT` output contract.

    Args:
        dim (int): Width of stage 0 (stage i has ``dim * 2**i``).
        stem_dim (int): Width after the first stem conv.
        depths (sequence[int]): Blocks per stage (4 stages).
        num_heads (sequence[int]): Heads of the transformer stages (2 and 3).
        window_size (int): Attention window side (feature-map tokens).
        sr_ratios (sequence[int]): Sub-sampling of the attention blocks, cycled
            within a stage, e.g. ``(2, 1)``: wide then local attention.
        mlp_ratio (float): MLP ratio. drop_path_rate (float): Stochastic depth.
        embed_dim (int): Width of the stride-16 output ``features`` (neck).
        num_cls_tokens (int): Summary slots in the output; E-RADIO's summary is the
            mean-pooled ``features``, repeated per slot (as in the official model).
        frozen (bool): Freeze the stem and keep it in eval mode.
        grad_checkpointing (bool): Gradient checkpointing of every stage block
            (recomputed in backward, BatchNorm statistics still updated once per step;
            also :meth:`set_grad_checkpointing`). The former name ``with_cp`` raises a
            ``TypeError`` that names this one.
        tasks (sequence[str], optional): Also return ``task_feats`` = ``{task: levels}``.
        teacher_dims (dict, optional): Accepted for ``MultiTaskDistiller``; unused.
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self, dim: int = 96, stem_dim: int = 64, depths: Sequence[int] = (2, 3, 6, 4),
                 num_heads: Sequence[int] = (4, 8), window_size: int = 8,
                 sr_ratios: Sequence[int] = (2, 1), mlp_ratio: float = 4.0,
                 drop_path_rate: float = 0.0, embed_dim: int = 768, num_cls_tokens: int = 1,
                 frozen: bool = False, grad_checkpointing: bool = False,
                 tasks: Optional[Sequence[str]] = None,
                 teacher_dims: Optional[dict] = None, init_cfg: Optional[dict] = None,
                 **kwargs) -> None:
        reject_renamed_args('ERADIO', kwargs, GRAD_CHECKPOINTING_RENAMED)
        super().__init__(init_cfg=init_cfg)
        if len(depths) != 4 or len(num_heads) != 2:
            raise ValueError(f'ERADIO: depths needs 4 entries and num_heads 2, got '
                             f'{list(depths)} and {list(num_heads)}')
        self.embed_dim = embed_dim
        self.patch_size = 16  # grid of `features`
        self.num_cls_tokens = num_cls_tokens
        self.level_channels = [dim * 2**i for i in range(4)]
        self.out_indices = [0, 1, 2, 3]
        self.tasks = list(tasks) if tasks is not None else None
        self.frozen = frozen
        self.grad_checkpointing = grad_checkpointing
        self.stem = nn.Sequential(conv_bn(3, stem_dim, s=2), nn.ReLU(),
                                  conv_bn(stem_dim, dim, s=2), nn.ReLU())
        total = sum(depths)
        dpr = [drop_path_rate * i / max(total - 1, 1) for i in range(total)]  # meta-safe
        self.stages = nn.ModuleList()
        self.downsamples = nn.ModuleList()
        for i, (depth, ch) in enumerate(zip(depths, self.level_channels)):
            rates = dpr[sum(depths[:i]):sum(depths[:i + 1])]
            if i < 2:
                blocks = [ConvBlock(ch, r) for r in rates]
            else:
                blocks = [MultiResAttentionBlock(ch, num_heads[i - 2], window_size,
                                                 sr_ratios[j % len(sr_ratios)], mlp_ratio, r)
                          for j, r in enumerate(rates)]
            self.stages.append(nn.Sequential(*blocks))
            if i < 3:
                self.downsamples.append(nn.Sequential(nn.BatchNorm2d(ch),
                                                      nn.Conv2d(ch, ch * 2, 3, 2, 1)))
        self.neck = nn.ModuleList([
            nn.Sequential(nn.Conv2d(ch, ch, 3, 1, 1, groups=ch), nn.BatchNorm2d(ch),
                          nn.Conv2d(ch, embed_dim, 1)) for ch in self.level_channels[2:]
        ])
        self.norm = nn.LayerNorm(embed_dim)
        self.apply(self._init)
        if frozen:
            self.requires_grad_(False)
            self.eval()

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    def train(self, mode: bool = True) -> 'ERADIO':
        """Set the mode; a ``frozen`` stem always stays in eval mode."""
        return super().train(mode and not self.frozen)

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute each stage block in backward instead of keeping its activations."""
        self.grad_checkpointing = enable

    def _run_stage(self, stage: nn.Sequential, x: Tensor) -> Tensor:
        if not (self.grad_checkpointing and torch.is_grad_enabled()):
            return stage(x)
        for block in stage:
            x = checkpoint_block(block, x)
        return x

    def forward_levels(self, x: Tensor) -> List[Tensor]:
        """Stage outputs before down-sampling: 4 maps (B, dim * 2**i, H / 2**(i+2), ...)."""
        if x.shape[-2] % 32 or x.shape[-1] % 32:
            h, w = (max(32, round(s / 32) * 32) for s in x.shape[-2:])
            raise ValueError(f'ERADIO input of shape {tuple(x.shape)}: H and W must be '
                             f'multiples of 32 (nearest supported: {h}x{w})')
        x = self.stem(x)
        levels = []
        for i, stage in enumerate(self.stages):
            x = self._run_stage(stage, x)
            levels.append(x)
            if i < 3:
                x = self.downsamples[i](x)
        return levels

    def forward(self, x: Tensor) -> Dict[str, Union[Tensor, List[Tensor]]]:
        """Run the student.

        Args:
            x (Tensor): (B, 3, H, W), H and W multiples of 32.

        Returns:
            dict: ``summary`` (B, num_cls_tokens, embed_dim), ``features``
            (B, embed_dim, H/16, W/16), ``levels`` (4 stage maps, strides 4-32).
        """
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            levels = self.forward_levels(x)
            feats = self.neck[0](levels[2])
            up = self.neck[1](levels[3])
            feats = feats + F.interpolate(up, size=feats.shape[-2:], mode='nearest')
            feats = self.norm(feats.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
            summary = feats.mean(dim=(2, 3))[:, None].expand(-1, self.num_cls_tokens, -1)
        out = dict(summary=summary, features=feats, levels=levels)
        if self.tasks is not None:
            out.update(task_feats={t: list(levels) for t in self.tasks}, stem_feats=levels,
                       distill={})
        return out
