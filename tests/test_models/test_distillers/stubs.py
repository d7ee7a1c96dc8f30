"""Tiny stand-ins that follow docs/architecture.md (stem, teacher, preprocessor).

They let the distillers be tested on their own, independently of the real
SAKViT / teachers / MultiTaskDataPreProcessor.
"""
from typing import Dict, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from sakbox.registry import MODELS
from sakbox.structures import MultiTaskDataSample


@MODELS.register_module(name='StubTeacher', force=True)
class StubTeacher(nn.Module):
    """Frozen conv pyramid: ``num_levels`` maps (B, dim, H / patch, W / patch)."""

    def __init__(self, dim: int = 8, patch: int = 4, num_levels: int = 2,
                 pretrained: bool = False, checkpoint: Optional[str] = None,
                 input_mean=None, input_std=None) -> None:
        super().__init__()
        self.embed_dims = [dim] * num_levels
        self.input_mean = input_mean
        self.convs = nn.ModuleList(nn.Conv2d(3, dim, patch, patch) for _ in range(num_levels))
        self.requires_grad_(False)

    def train(self, mode: bool = True):  # noqa: D102
        return super().train(False)

    @torch.no_grad()
    def forward(self, x):  # noqa: D102
        return [c(x) for c in self.convs]


@MODELS.register_module(name='StubStem', force=True)
class StubStem(nn.Module):
    """Patch embed + per-level linear, per-teacher adapter paths and global routers."""

    def __init__(self, teacher_dims: Dict[str, List[int]], tasks: Optional[List[str]] = None,
                 embed_dims: int = 8, patch: int = 8, num_levels: int = 2) -> None:
        super().__init__()
        self.embed_dims = embed_dims
        self.out_indices = list(range(num_levels))
        self.teacher_names = list(teacher_dims)
        self.tasks = tasks
        self.patch_embed = nn.Conv2d(3, embed_dims, patch, patch)
        self.levels = nn.ModuleList(nn.Conv2d(embed_dims, embed_dims, 1)
                                    for _ in range(num_levels))
        self.paths = nn.ModuleDict({
            t: nn.ModuleList(nn.Conv2d(embed_dims, d[i] if isinstance(d, list) else d, 1)
                             for i in range(num_levels))
            for t, d in teacher_dims.items()})
        e = 1 + len(teacher_dims)
        self.routers = nn.ModuleDict({
            f'{task}_{i}': nn.Linear(embed_dims, e)
            for task in (tasks or []) for i in range(num_levels)})

    def forward(self, x):  # noqa: D102
        x = self.patch_embed(x)
        out = dict(distill={t: [] for t in self.teacher_names}, stem_feats=[])
        if self.tasks:
            out.update(task_feats={t: [] for t in self.tasks}, router_weights={})
        for i, lvl in enumerate(self.levels):
            x = F.gelu(lvl(x))
            out['stem_feats'].append(x)
            paths = [self.paths[t][i](x) for t in self.teacher_names]
            for t, p in zip(self.teacher_names, paths):
                out['distill'][t].append(p)
            for task in self.tasks or []:
                w = self.routers[f'{task}_{i}'](x.mean((2, 3))).softmax(-1)  # (B, E)
                experts = torch.stack([x] + paths, 1)  # needs equal widths
                out['task_feats'][task].append((experts * w[:, :, None, None, None]).sum(1))
                out['router_weights'][f'{task}.level{i}'] = w
        return out


def make_batch(batch: int = 2, size=(32, 48), tasks=('semseg', 'depth', 'normals', 'edge'),
               seed: int = 0, img_shape=None, ori_shape=None):
    """Normalised inputs (B, 3, H, W) and data samples with every task's GT."""
    g = torch.Generator().manual_seed(seed)
    H, W = size
    h, w = img_shape or size
    inputs = torch.randn(batch, 3, H, W, generator=g)
    samples = []
    for _ in range(batch):
        s = MultiTaskDataSample(metainfo=dict(img_shape=(h, w), ori_shape=ori_shape or (h, w),
                                              img_path='stub.png'))
        for task in tasks:
            if task in ('semseg', 'human_parts'):
                s.set_gt(task, torch.randint(0, 3, (1, h, w), generator=g))
            elif task in ('edge', 'sal'):
                s.set_gt(task, torch.randint(0, 2, (1, h, w), generator=g))
            elif task == 'depth':
                s.set_gt(task, torch.rand(1, h, w, generator=g) + 0.5)
            elif task == 'normals':
                s.set_gt(task, F.normalize(torch.randn(3, h, w, generator=g), dim=0))
        samples.append(s)
    return inputs, samples


def distiller_cfg(tasks=('semseg', 'depth', 'normals', 'edge'), build_teachers=True, **kw):
    """A tiny MultiTaskDistiller config on the stand-ins."""
    channels = dict(semseg=3, depth=1, normals=3, edge=1, sal=2, human_parts=3)
    losses = dict(semseg=dict(type='MultiTaskCrossEntropyLoss'),
                  human_parts=dict(type='MultiTaskCrossEntropyLoss', loss_weight=2),
                  sal=dict(type='MultiTaskCrossEntropyLoss', balanced=True, loss_weight=5),
                  depth=dict(type='DepthL1Loss'),
                  normals=dict(type='NormalsL1Loss', loss_weight=10),
                  edge=dict(type='BalancedBCELoss', loss_weight=50))
    cfg = dict(
        type='MultiTaskDistiller',
        student=dict(type='StubStem', embed_dims=8),
        teachers=dict(t1=dict(type='StubTeacher', dim=8, patch=4),
                      t2=dict(type='StubTeacher', dim=8, patch=8)),
        decode_heads=dict(type='SAKHead', patch_size=8),
        task_losses={t: losses[t] for t in tasks},
        tasks=list(tasks),
        task_channels={t: channels[t] for t in tasks},
        data_preprocessor=dict(type='mmengine.BaseDataPreprocessor'),
        build_teachers=build_teachers,
        teacher_init_seed=7)
    cfg.update(kw)
    return cfg


def stage1_cfg(**kw):
    """A MultiTeacherDistiller config on the stand-ins (two teachers, two levels)."""
    cfg = dict(type='MultiTeacherDistiller', student=dict(type='StubStem', embed_dims=8),
               teachers=dict(t1=dict(type='StubTeacher', dim=8, patch=4),
                             t2=dict(type='StubTeacher', dim=8, patch=8)),
               data_preprocessor=dict(type='mmengine.BaseDataPreprocessor'),
               teacher_init_seed=7)
    cfg.update(kw)
    return cfg
