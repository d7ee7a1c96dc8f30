"""SAM attention with its decomposed relative-position bias, without materialising the bias.

timm's SAM attention (``timm.models.vision_transformer_sam.Attention``) builds the
decomposed bias ``rel_h[:, :, :, :, None] + rel_w[:, :, :, None, :]`` as a dense
(B * heads, N, N) tensor and hands it to ``scaled_dot_product_attention`` as a mask:
for SAM-B's global blocks at 1024 px that is (B * 12, 4096, 4096), written once and
read once per block. :func:`rel_pos_attention` computes the same attention by blocks of
queries instead: each block's logits are one matrix product, the two bias terms are
added to them in place by broadcasting, and the softmax and the product with V follow,
so no tensor larger than a block of logits is ever made. Each block covers a few
hundred query rows of one attention map, so it stays in cache.

One SAM-B global block at batch 2 (24 maps of 4096 x 4096) on a 2-core AVX512-BF16
CPU: 0.36 s blocked against 1.02 s for timm's in bf16, 0.99 s against 1.19 s in fp32,
and the fp32 step of ``configs/sak_nyud.py`` peaks 1.5 GiB lower
(``docs/benchmarks.md``). The results agree with timm's to float rounding (1e-5 in
fp32 on the tests' tiny SAM); ``rel_pos_attn='timm'`` keeps timm's forward, bit for
bit.
"""
from typing import Optional

import torch
import torch.nn as nn
from timm.models.vision_transformer_sam import Attention as TimmSAMAttention
from timm.models.vision_transformer_sam import get_rel_pos
from torch import Tensor

#: Values of the SAM teacher's ``rel_pos_attn`` option.
REL_POS_ATTN_MODES = ('blocked', 'timm')

#: Elements of one block of logits (maps * rows * N_k); 2**21 is 4 MiB in bf16.
DEFAULT_BLOCK_ELEMENTS = 2**21


def rel_pos_attention(q: Tensor, k: Tensor, v: Tensor, rel_h: Tensor, rel_w: Tensor,
                      scale: float, block_elements: int = DEFAULT_BLOCK_ELEMENTS) -> Tensor:
    """``softmax(scale * q k^T + bias) v`` with SAM's decomposed bias, by query blocks.

    The bias of query ``i`` and key ``j = y * k_w + x`` is ``rel_h[:, i, y] +
    rel_w[:, i, x]``. Every block of queries is computed in the dtype of ``q``.

    Args:
        q (Tensor): Queries (B, N_q, D).
        k (Tensor): Keys (B, N_k, D) on a (k_h, k_w) grid, N_k = k_h * k_w.
        v (Tensor): Values (B, N_k, D_v).
        rel_h (Tensor): Height terms (B, N_q, k_h).
        rel_w (Tensor): Width terms (B, N_q, k_w).
        scale (float): Logit scale (``head_dim ** -0.5``).
        block_elements (int): Upper bound of maps * rows * N_k per block of logits
            (at least one row of one map).

    Returns:
        Tensor: (B, N_q, D_v), in the dtype of the logits (that of ``q`` and ``k``).

    Raises:
        ValueError: Shapes that disagree.
    """
    b, n_q, _ = q.shape
    n_k, k_h, k_w = k.shape[1], rel_h.shape[-1], rel_w.shape[-1]
    if (k_h * k_w != n_k or rel_h.shape[:2] != (b, n_q) or rel_w.shape[:2] != (b, n_q)
            or v.shape[:2] != (b, n_k)):
        raise ValueError(
            f'rel_pos_attention: q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}, '
            f'rel_h {tuple(rel_h.shape)}, rel_w {tuple(rel_w.shape)} do not fit: expected '
            '(B, N_q, D), (B, k_h * k_w, D), (B, k_h * k_w, D_v), (B, N_q, k_h), (B, N_q, k_w)')
    # A block covers `rows` queries of `group` attention maps: whole maps at a time
    # when they are small (windowed blocks), a few hundred rows of one map when
    # they are large (global blocks), so each block of logits stays in cache.
    rows = max(1, min(n_q, block_elements // n_k))
    group = max(1, min(b, block_elements // (rows * n_k)))
    q = q * scale
    k_t = k.transpose(-2, -1)
    out = None
    for g0 in range(0, b, group):
        g1 = min(b, g0 + group)
        for r0 in range(0, n_q, rows):
            r1 = min(n_q, r0 + rows)
            logits = torch.bmm(q[g0:g1, r0:r1], k_t[g0:g1]).view(g1 - g0, r1 - r0, k_h, k_w)
            logits += rel_h[g0:g1, r0:r1, :, None].to(logits.dtype)
            logits += rel_w[g0:g1, r0:r1, None, :].to(logits.dtype)
            probs = torch.softmax(logits.view(g1 - g0, r1 - r0, n_k), dim=-1)
            block = torch.bmm(probs, v[g0:g1].to(probs.dtype))
            if out is None:
                out = block.new_empty(b, n_q, block.shape[-1])
            out[g0:g1, r0:r1] = block
    return out


def decomposed_rel_terms(q: Tensor, rel_pos_h: Tensor, rel_pos_w: Tensor, q_size: tuple,
                         k_size: tuple) -> tuple:
    """The two terms of SAM's decomposed relative-position bias, as timm computes them.

    Args:
        q (Tensor): Queries (B, q_h * q_w, D), unscaled.
        rel_pos_h (Tensor): Height table (L_h, D).
        rel_pos_w (Tensor): Width table (L_w, D).
        q_size (tuple): (q_h, q_w).
        k_size (tuple): (k_h, k_w).

    Returns:
        tuple: ``rel_h`` (B, q_h * q_w, k_h) and ``rel_w`` (B, q_h * q_w, k_w).
    """
    (q_h, q_w), (k_h, k_w) = q_size, k_size
    r_q = q.reshape(q.shape[0], q_h, q_w, q.shape[-1])
    rel_h = torch.einsum('bhwc,hkc->bhwk', r_q, get_rel_pos(q_h, k_h, rel_pos_h))
    rel_w = torch.einsum('bhwc,wkc->bhwk', r_q, get_rel_pos(q_w, k_w, rel_pos_w))
    return rel_h.reshape(q.shape[0], q_h * q_w, k_h), rel_w.reshape(q.shape[0], q_h * q_w, k_w)


class BlockedRelPosAttention(TimmSAMAttention):
    """timm's SAM ``Attention`` with the relative-position attention by query blocks.

    :func:`use_blocked_rel_pos_attention` switches the class of timm's attention
    modules to this subclass, so parameters, buffers and ``state_dict`` keys stay
    timm's. Attention maps of at most ``block_elements`` elements (SAM's windowed
    blocks) and training with attention dropout (the blocks have none) take
    timm's forward.
    """

    block_elements: int = DEFAULT_BLOCK_ELEMENTS

    def forward(self, x: Tensor) -> Tensor:
        """Attention of a (B, H, W, C) map, as timm's SAM attention.

        Args:
            x (Tensor): (B, H, W, C).

        Returns:
            Tensor: (B, H, W, C).
        """
        if not self._use_blocked(x):
            return super().forward(x)
        bsz, h, w, _ = x.shape
        n = h * w
        qkv = self.qkv(x.reshape(bsz, n, -1)).view(bsz, n, 3, self.num_heads, -1)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).reshape(3, bsz * self.num_heads, n, -1).unbind(0)
        q, k = self.q_norm(q), self.k_norm(k)
        rel_h, rel_w = decomposed_rel_terms(q, self.rel_pos_h, self.rel_pos_w, (h, w), (h, w))
        out = rel_pos_attention(q, k, v, rel_h, rel_w, self.scale, self.block_elements)
        out = out.view(bsz, self.num_heads, n, -1).transpose(1, 2).reshape(bsz, n, -1)
        return self.proj_drop(self.proj(out)).view(bsz, h, w, -1)

    def _use_blocked(self, x: Tensor) -> bool:
        # Maps that fit one block (windowed attention: 196 x 196 for SAM) take timm's
        # path: their dense bias is no larger than the logits, and timm's one fused
        # call beats many small broadcast adds.
        n = x.shape[1] * x.shape[2]
        return (self.use_rel_pos and n * n > self.block_elements
                and not (self.training and self.attn_drop.p > 0))


def use_blocked_rel_pos_attention(model: nn.Module, mode: str = 'blocked',
                                  block_elements: Optional[int] = None) -> int:
    """Switch the relative-position attentions of a timm SAM model to query blocks.

    Args:
        model (nn.Module): A timm ``VisionTransformerSAM`` (or any module holding
            timm SAM ``Attention`` modules; subclasses of it are left alone).
        mode (str): ``'blocked'`` (switch to blocks) or ``'timm'`` (timm's forward).
        block_elements (int, optional): Elements per block of logits; default
            :data:`DEFAULT_BLOCK_ELEMENTS`.

    Returns:
        int: Number of attention modules that take the blocked path afterwards
        (``'timm'`` switches modules back and returns 0).

    Raises:
        ValueError: An unknown ``mode`` or a non-positive ``block_elements``.
    """
    if mode not in REL_POS_ATTN_MODES:
        raise ValueError(f'rel_pos_attn must be one of {REL_POS_ATTN_MODES}, got {mode!r}')
    if block_elements is not None and block_elements <= 0:
        raise ValueError(f'block_elements must be positive, got {block_elements}')
    target = BlockedRelPosAttention if mode == 'blocked' else TimmSAMAttention
    switched = 0
    for module in model.modules():
        if type(module) in (TimmSAMAttention, BlockedRelPosAttention) and module.use_rel_pos:
            module.__class__ = target
            if block_elements is not None:
                module.block_elements = int(block_elements)
            switched += int(mode == 'blocked')
    return switched
