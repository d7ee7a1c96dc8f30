"""Frozen open_clip visual tower teacher (CLIP, OpenCLIP, DFN, SigLIP, ...)."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from sakbox.registry import MODELS
from sakbox.utils.pos_embed import resample_pos_embed
from sakbox.utils.state_dict_fit import load_state_dict_file, load_state_dict_strict

from ..utils.out_indices import resolve_out_indices
from .base_teacher import (
    DEFAULT_INPUT_NORM,
    IMAGENET_MEAN_255,
    IMAGENET_STD_255,
    BaseTeacher,
)


@MODELS.register_module()
class OpenCLIPTeacher(BaseTeacher):
    """The visual tower of any open_clip model as a frozen teacher.

    Works with open_clip's own ViT (OpenAI/LAION/DFN CLIP) and with timm-trunk
    towers (SigLIP ``'ViT-B-16-SigLIP'`` + ``'webli'``). Features are the
    intermediate block outputs (no final norm, no projection), prefix tokens
    dropped, reshaped to the patch grid. open_clip towers have fixed position
    tables, so inputs whose size differs from the tower's image size (``img_size``)
    are resized to it (bicubic); build the teacher with the training crop size to
    keep the student's geometry. open_clip is imported only when built.

    Args:
        model_name (str): open_clip model name, e.g. ``'ViT-B-16'``,
            ``'ViT-L-14'``, ``'ViT-B-16-SigLIP'``, or ``'hf-hub:org/repo'``.
        pretrained_tag (str, optional): open_clip pretrained tag (``'openai'``,
            ``'laion2b_s34b_b88k'``, ``'dfn2b'``, ``'webli'``...). Used to download
            weights when ``pretrained`` and for the default mean/std always.
        pretrained (bool): Download the ``pretrained_tag`` weights.
        checkpoint (str, optional): Local weights: a full open_clip state dict
            (``visual.*`` keys are taken, the text tower ignored) or the visual
            tower's own state dict. Position tables are resampled if needed.
        img_size (int | tuple, optional): Tower image size (``force_image_size``);
            None keeps the model's.
        out_indices (Sequence[int], optional): Blocks; None = SAK defaults by depth.
        input_mean, input_std (Sequence[float]): Student normalisation, RGB 0-255.
        input_norm (str): ``'student'`` feeds the student's normalised input as it
            is (the official SAK; set by every SAK config), ``'teacher'``
            (default) re-normalises it to ``mean``/``std``. See :class:`BaseTeacher`.
        mean, std (Sequence[float], optional): Teacher stats, RGB 0-255, used with
            ``input_norm='teacher'``; default from the tag's / model's open_clip
            preprocess config x 255.
        model_kwargs (dict, optional): Extra ``open_clip.create_model`` kwargs
            (e.g. tiny ``vision_cfg``/``text_cfg``/``embed_dim`` for tests).
        with_summary (bool): Keep the tower's final norm and projection so that
            :meth:`forward_with_summary` also returns CLIP's image embedding
            (RADIO's summary target). Native open_clip towers only.
    """

    def __init__(self,
                 model_name: str = 'ViT-B-16',
                 pretrained_tag: Optional[str] = None,
                 pretrained: bool = False,
                 checkpoint: Optional[str] = None,
                 img_size: Optional[Union[int, Tuple[int, int]]] = None,
                 out_indices: Optional[Sequence[int]] = None,
                 input_mean: Sequence[float] = IMAGENET_MEAN_255,
                 input_std: Sequence[float] = IMAGENET_STD_255,
                 input_norm: str = DEFAULT_INPUT_NORM,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 model_kwargs: Optional[dict] = None,
                 with_summary: bool = False) -> None:
        super().__init__(input_mean=input_mean, input_std=input_std, input_norm=input_norm)
        import open_clip
        self.model_name = model_name
        self.pretrained_tag = pretrained_tag
        use_hub = pretrained and checkpoint is None
        if use_hub and not pretrained_tag and not model_name.startswith(('hf-hub:',
                                                                         'local-dir:')):
            tags = open_clip.list_pretrained_tags_by_model(model_name)
            raise ValueError(f'OpenCLIPTeacher({model_name!r}): pretrained=True needs '
                             f'pretrained_tag, one of {tags}')
        kwargs = dict(model_kwargs or {})
        if img_size is not None:
            if 'vision_cfg' in kwargs:
                # model_kwargs replace the whole vision_cfg, force_image_size would be lost.
                kwargs['vision_cfg'] = dict(kwargs['vision_cfg'], image_size=img_size)
            else:
                kwargs['force_image_size'] = img_size
        # open_clip moves the model to `device` at the end of create_model: keep the
        # current default device so that weightless builds (meta device) work.
        kwargs.setdefault('device', torch.get_default_device())
        clip = open_clip.create_model(model_name, pretrained=pretrained_tag if use_hub else None,
                                      **kwargs)
        self.visual = clip.visual
        del clip  # the text tower is never needed
        self.is_timm_tower = hasattr(self.visual, 'trunk')
        if checkpoint is not None:
            self._load_checkpoint(checkpoint)
        if self.is_timm_tower:
            trunk = self.visual.trunk
            depth, width = len(trunk.blocks), trunk.embed_dim
            self.patch_size = tuple(trunk.patch_embed.patch_size)
        else:
            depth = len(self.visual.transformer.resblocks)
            width = self.visual.transformer.width
            self.patch_size = tuple(self.visual.patch_size)
        out_indices = resolve_out_indices(out_indices, depth)
        self.with_summary = bool(with_summary)
        if self.is_timm_tower and self.with_summary:
            raise ValueError(f'OpenCLIPTeacher({model_name!r}): with_summary=True needs a native '
                             'open_clip tower; this one is a timm trunk')
        if self.is_timm_tower:
            self.visual.trunk.prune_intermediate_layers(out_indices, prune_norm=True,
                                                        prune_head=True)
            if hasattr(self.visual, 'head'):
                self.visual.head = nn.Identity()
        else:
            self.visual.prune_intermediate_layers(out_indices, prune_norm=not self.with_summary,
                                                  prune_head=not self.with_summary)
        size = self.visual.image_size
        self.img_size = tuple(size) if isinstance(size, (tuple, list)) else (size, size)
        stats = dict(self.visual.preprocess_cfg)
        if pretrained_tag:
            tag_cfg = open_clip.get_pretrained_cfg(model_name, pretrained_tag)
            stats.update({k: tag_cfg[k] for k in ('mean', 'std') if tag_cfg.get(k)})
        mean, std = self.resolve_stats(mean, std, stats['mean'], stats['std'])
        self._init_teacher(mean, std, [width] * len(out_indices), out_indices)

    def _load_checkpoint(self, path: str) -> None:
        """Strictly load a full-CLIP or visual-only state dict into ``self.visual``."""
        state_dict = load_state_dict_file(path)
        if any(k.startswith('visual.') for k in state_dict):
            state_dict = {k[len('visual.'):]: v for k, v in state_dict.items()
                          if k.startswith('visual.')}
        own: Dict[str, Tensor] = self.visual.state_dict()
        for key in ('positional_embedding', 'trunk.pos_embed'):
            if key in state_dict and key in own and state_dict[key].shape != own[key].shape:
                if key == 'positional_embedding':
                    grid, prefix = self.visual.grid_size, 1
                else:
                    trunk = self.visual.trunk
                    grid = trunk.patch_embed.grid_size
                    prefix = 0 if trunk.no_embed_class else trunk.num_prefix_tokens
                # timm's default (antialiased) resampling, as timm's own CLIP filter.
                state_dict[key] = resample_pos_embed(state_dict[key], grid, prefix,
                                                     antialias=True, name=f'{path}: {key}')
        load_state_dict_strict(self.visual, state_dict, path)

    def preprocess(self, x: Tensor) -> Tensor:
        """Resize to the tower's image size if the input differs (fixed position tables)."""
        if tuple(x.shape[-2:]) != self.img_size:
            x = F.interpolate(x, self.img_size, mode='bicubic', align_corners=False,
                              antialias=True)
        return x

    @property
    def summary_dim(self) -> Optional[int]:
        """Width of the projected image embedding (None without ``with_summary``)."""
        if not self.with_summary:
            return None
        proj = getattr(self.visual, 'proj', None)
        if isinstance(proj, torch.Tensor):
            return int(proj.shape[1])
        return int(getattr(self.visual, 'output_dim', self.embed_dims[-1]))

    @torch.no_grad()
    def forward_with_summary(self, inputs: Tensor) -> Tuple[List[Tensor], Tensor]:
        """Feature levels and the projected image embedding, in one pass.

        The summary is what open_clip's ``encode_image`` returns (pooled,
        normed, projected; not L2-normalised), i.e. the vector that is matched
        against text embeddings for zero-shot classification.

        Args:
            inputs (Tensor): (B, 3, H, W) normalised by the student's preprocessor.

        Returns:
            tuple: ``num_levels`` maps (B, C_l, h_l, w_l) and the summary (B, D).
        """
        if not self.with_summary:
            raise RuntimeError('OpenCLIPTeacher was built with with_summary=False (its '
                               'projection head was pruned); build it with with_summary=True')
        x = self.network_input(inputs)
        out = self.visual.forward_intermediates(
            x, indices=self.out_indices, intermediates_only=False,
            normalize_intermediates=False, output_fmt='NCHW')
        feats = [f.contiguous() for f in out['image_intermediates']]
        return feats, out['image_features']

    def extract_features(self, x: Tensor) -> List[Tensor]:
        """Block outputs (B, C, img_size / p) without prefix tokens."""
        out = self.visual.forward_intermediates(
            x, indices=self.out_indices, intermediates_only=True,
            normalize_intermediates=False, output_fmt='NCHW')
        return list(out['image_intermediates'])
