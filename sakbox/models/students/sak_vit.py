"""SAK student stem: teacher-agnostic ViT + teacher-specific adapter paths + routers."""
import copy
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor
from torch.utils.checkpoint import checkpoint as torch_checkpoint

from sakbox.registry import MODELS

from ..adapters import TeacherAdapterPath, init_sak_weights
from ..utils.out_indices import resolve_out_indices
from ..utils.timm_models import create_timm_model
from .sak_vit_utils import apply_lora, load_stem_checkpoint, normalize_teacher_dims


def tokens_to_map(tokens: Tensor, h: int, w: int) -> Tensor:
    """(B, h * w, C) -> (B, C, h, w)."""
    return tokens.reshape(tokens.shape[0], h, w, -1).permute(0, 3, 1, 2).contiguous()


@MODELS.register_module()
class SAKViT(BaseModule):
    """The SAK stem: a teacher-agnostic timm ViT with teacher-specific adapter paths.

    Beside the ViT blocks, every teacher has a :class:`TeacherAdapterPath`
    (``r_0 = A_0(embed)``, ``r_{i+1} = A_{i+1}(r_i + x_i)``). At the output
    blocks each path is LayerNorm-ed per teacher per level and, where needed,
    linearly aligned to the teacher's width: these are the distillation
    outputs. Per task and level a router mixes ``[stem tokens, normed path_1,
    ..., path_T]`` (before the aligners) into the task features. The ViT has no
    final norm. Inputs whose H or W is not a multiple of the patch size are
    zero-padded bottom/right (zero = the mean colour after normalisation), so
    the grid is ``ceil(H / p) x ceil(W / p)``.

    Args:
        teacher_dims (Dict[str, int | List[int]]): Teacher name -> channels (one
            int for all levels or one per level), in the distiller's teacher order.
        tasks (Sequence[str], optional): Tasks that get routed features; None in
            stage 1 (no routers, no ``task_feats``).
        arch (str): timm ViT name. Defaults to ``'vit_base_patch16_384'``.
        img_size (int | tuple, optional): Size the position embedding is built for
            (the training crop, e.g. ``(448, 576)``); other sizes are resampled
            on the fly (``dynamic_img_size``). None keeps the arch default.
        pretrained (bool): timm hub weights for the ViT.
        vit_checkpoint (str, optional): Local ViT weights (timm/official format).
        out_indices (Sequence[int], optional): Output blocks; None = SAK defaults.
        down_ratio (int): Adapter bottleneck ratio. Defaults to 4.
        aligner (str | bool): ``'auto'`` adds a Linear where the teacher's width
            differs from the stem's at that level; True everywhere; False nowhere
            (a width mismatch then raises ValueError).
        router (dict, optional): Router config built per task per level with
            ``in_channels`` and ``num_experts`` filled in, e.g.
            ``dict(type='MoRRouter', noisy_gating=True)`` or ``dict(type='SumRouter')``.
            None: ``stem + sum(paths)`` shared by all tasks (official 'none').
        freeze_stem (bool): Freeze the ViT (paths, norms, aligners, routers train).
        freeze_all_but_routers (bool): Train only the routers (official ``freeze``).
        lora (dict, optional): ``peft.LoraConfig`` kwargs injected into the ViT
            (``target_modules`` defaults to ``['qkv']``); needs ``peft``. With
            ``tasks`` the whole ViT is trained as well, as the official stage 2.
        grad_checkpointing (bool): Recompute blocks and adapters in backward.
        checkpoint (str, optional): A SAKViT checkpoint (e.g. stage 1) loaded now;
            the position embedding is resampled and missing routers are allowed.
        checkpoint_prefix (str, optional): Key prefix of the stem in ``checkpoint``
            (auto-detected from ``*vit.pos_embed`` when None).
        model_kwargs (dict, optional): Extra ``timm.create_model`` kwargs (e.g.
            ``depth``, ``embed_dim``, ``num_heads``, ``drop_path_rate``).
        init_cfg (dict, optional): ``dict(type='Pretrained', checkpoint=..., prefix=...)``
            loads a SAKViT checkpoint in :meth:`init_weights` like ``checkpoint``.
    """

    def __init__(self,
                 teacher_dims: Dict[str, Union[int, Sequence[int]]],
                 tasks: Optional[Sequence[str]] = None,
                 arch: str = 'vit_base_patch16_384',
                 img_size: Optional[Union[int, Tuple[int, int]]] = None,
                 pretrained: bool = False,
                 vit_checkpoint: Optional[str] = None,
                 out_indices: Optional[Sequence[int]] = None,
                 down_ratio: int = 4,
                 aligner: Union[str, bool] = 'auto',
                 router: Optional[dict] = dict(type='MoRRouter', noisy_gating=True),
                 freeze_stem: bool = False,
                 freeze_all_but_routers: bool = False,
                 lora: Optional[dict] = None,
                 grad_checkpointing: bool = False,
                 checkpoint: Optional[str] = None,
                 checkpoint_prefix: Optional[str] = None,
                 model_kwargs: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if aligner not in ('auto', True, False):
            raise ValueError(f"aligner must be 'auto', True or False, got {aligner!r}")
        if freeze_stem and lora:
            raise ValueError('freeze_stem and lora are exclusive: LoRA trains the stem.')
        kwargs = dict(num_classes=0, dynamic_img_size=True, **(model_kwargs or {}))
        if img_size is not None:
            kwargs['img_size'] = img_size
        self.vit = create_timm_model(arch, pretrained, vit_checkpoint, **kwargs)
        if not isinstance(self.vit.patch_drop, nn.Identity):
            raise ValueError('SAKViT needs every patch token for dense outputs: '
                             'patch_drop_rate must be 0.')
        depth = len(self.vit.blocks)
        # Keep every block; drop the final norm, fc_norm, pooling and head.
        self.vit.prune_intermediate_layers(list(range(depth)), prune_norm=True, prune_head=True)
        self.arch = arch
        self.embed_dim = int(self.vit.embed_dim)
        self.patch_size = tuple(self.vit.patch_embed.patch_size)
        self.num_prefix_tokens = int(self.vit.num_prefix_tokens)
        self.out_indices = resolve_out_indices(out_indices, depth)
        num_levels = len(self.out_indices)
        self.teacher_dims = normalize_teacher_dims(teacher_dims, num_levels)
        self.teacher_names = list(self.teacher_dims)
        self.tasks = list(tasks) if tasks is not None else None
        self.grad_checkpointing = grad_checkpointing

        self.paths = nn.ModuleDict({
            t: TeacherAdapterPath(self.embed_dim, depth, down_ratio) for t in self.teacher_names})
        self.out_norms = nn.ModuleDict({
            t: nn.ModuleList(nn.LayerNorm(self.embed_dim) for _ in range(num_levels))
            for t in self.teacher_names})
        self.aligners = nn.ModuleDict({
            t: nn.ModuleList(self._make_aligner(t, lvl, aligner) for lvl in range(num_levels))
            for t in self.teacher_names})
        self.out_norms.apply(init_sak_weights)
        self.aligners.apply(init_sak_weights)

        self.router_cfg = copy.deepcopy(router)
        self.routers = None
        if self.tasks is not None and router is not None:
            num_experts = 1 + len(self.teacher_names)
            self.routers = nn.ModuleDict({
                task: nn.ModuleList(
                    MODELS.build(dict(router, in_channels=self.embed_dim,
                                      num_experts=num_experts)) for _ in range(num_levels))
                for task in self.tasks})

        if lora:
            self.vit = apply_lora(self.vit, lora)
            if self.tasks is not None:
                # Official stage 2: fine-tune the whole ViT together with LoRA.
                self.vit.requires_grad_(True)
        if freeze_stem:
            self.vit.requires_grad_(False)
        if freeze_all_but_routers:
            for name, param in self.named_parameters():
                param.requires_grad_(name.startswith('routers.'))
        if checkpoint is not None:
            self.load_checkpoint(checkpoint, prefix=checkpoint_prefix)

    def _make_aligner(self, teacher: str, level: int, aligner: Union[str, bool]) -> nn.Module:
        dim = self.teacher_dims[teacher][level]
        if aligner is True or (aligner == 'auto' and dim != self.embed_dim):
            return nn.Linear(self.embed_dim, dim)
        if dim != self.embed_dim:
            raise ValueError(
                f'Teacher {teacher!r} level {level} has {dim} channels but the stem has '
                f'{self.embed_dim}; aligners are off (aligner=False): use aligner=True or '
                "'auto'.")
        return nn.Identity()

    @property
    def embed_dims(self) -> List[int]:
        """List[int]: Channels of each level of ``task_feats`` / ``stem_feats``."""
        return [self.embed_dim] * len(self.out_indices)

    @property
    def num_levels(self) -> int:
        """int: Number of output levels."""
        return len(self.out_indices)

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute each block and its adapters in backward (saves activations)."""
        self.grad_checkpointing = enable

    def load_checkpoint(self, path: str, prefix: Optional[str] = None) -> None:
        """Load a SAKViT state dict (see :func:`load_stem_checkpoint`)."""
        load_stem_checkpoint(self, path, prefix)

    def init_weights(self) -> None:
        """Load ``init_cfg`` ``Pretrained`` weights; never re-initialise the ViT.

        MMEngine's default would call timm's own ``init_weights`` on the ViT and
        wipe pretrained weights, so everything is initialised in ``__init__``.
        """
        cfg = self.init_cfg
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            self.load_checkpoint(cfg['checkpoint'], prefix=cfg.get('prefix'))
        elif cfg:
            raise ValueError(f"SAKViT supports only init_cfg=dict(type='Pretrained', "
                             f'checkpoint=...), got {cfg}')
        self._is_init = True

    def _block_step(self, index: int, x: Tensor, *residuals: Tensor) -> Tuple[Tensor, ...]:
        """Block ``index`` of the stem, then the matching adapter of every path."""
        x = self.vit.blocks[index](x)
        return (x, ) + tuple(
            self.paths[t].forward_block(index, r, x) for t, r in zip(self.teacher_names,
                                                                      residuals))

    def forward(self, inputs: Tensor) -> Dict[str, Union[Dict, List[Tensor]]]:
        """Run the stem.

        Args:
            inputs (Tensor): (B, 3, H, W) normalised images.

        Returns:
            dict: ``'distill'`` {teacher: [(B, C_t, h, w)] per level};
            ``'stem_feats'`` [(B, C, h, w)]; with tasks also ``'task_feats'``
            {task: [(B, C, h, w)]} and, with routers, ``'router_weights'``
            {f'{task}.level{i}': (B, 1 + T)} (``(B, 1 + T, h, w)`` for spatial
            routers). ``h = ceil(H / p)``, ``w = ceil(W / p)``.
        """
        b, _, height, width = inputs.shape
        ph, pw = self.patch_size
        pad_h, pad_w = (-height) % ph, (-width) % pw
        if pad_h or pad_w:
            inputs = F.pad(inputs, (0, pad_w, 0, pad_h))
        h, w = (height + pad_h) // ph, (width + pad_w) // pw

        vit = self.vit
        x = vit.norm_pre(vit.patch_drop(vit._pos_embed(vit.patch_embed(inputs))))
        residuals = tuple(self.paths[t].forward_embed(x) for t in self.teacher_names)

        out = dict(distill={t: [] for t in self.teacher_names}, stem_feats=[])
        if self.tasks is not None:
            out['task_feats'] = {task: [] for task in self.tasks}
            if self.routers is not None:
                out['router_weights'] = {}
        p = self.num_prefix_tokens
        use_ckpt = self.grad_checkpointing and torch.is_grad_enabled()
        for i in range(len(vit.blocks)):
            if use_ckpt:
                x, *residuals = torch_checkpoint(self._block_step, i, x, *residuals,
                                                 use_reentrant=False)
            else:
                x, *residuals = self._block_step(i, x, *residuals)
            if i not in self.out_indices:
                continue
            level = self.out_indices.index(i)
            stem_map = tokens_to_map(x[:, p:], h, w)
            out['stem_feats'].append(stem_map)
            experts = [stem_map]
            for t, r in zip(self.teacher_names, residuals):
                normed = self.out_norms[t][level](r[:, p:])
                out['distill'][t].append(tokens_to_map(self.aligners[t][level](normed), h, w))
                experts.append(tokens_to_map(normed, h, w))
            if self.tasks is None:
                continue
            if self.routers is None:
                mixed = experts[0]
                for e in experts[1:]:
                    mixed = mixed + e
                for task in self.tasks:
                    out['task_feats'][task].append(mixed)
                continue
            for task in self.tasks:
                mixed, weights = self.routers[task][level](stem_map, experts)
                out['task_feats'][task].append(mixed)
                out['router_weights'][f'{task}.level{level}'] = weights
        return out
