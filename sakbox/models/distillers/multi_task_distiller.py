"""Stage 2 of SAK: multi-task learning with multi-teacher distillation."""
import inspect
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.structures import PixelData
from torch import Tensor

from sakbox.registry import MODELS
from sakbox.structures import MultiTaskDataSample, image_region

from ..decoders.component_cfg import select_task_cfg, student_levels
from ..decoders.head_builder import auxiliary_loss_weights, build_task_head
from ..decoders.neck_builder import build_necks
from ..utils import TASK_POSTPROCESS, postprocess_logits, resize_logits, stack_task_gt
from .base_distiller import BaseDistiller, ConfigType
from .expert_order import ExpertOrder, align_expert_order, fill_expert_order


@MODELS.register_module()
class MultiTaskDistiller(BaseDistiller):
    """SAK stage 2: student stem + routers + per-task heads, distilled from teachers.

    ``loss``: ``sum_t w_t * L_t + alpha * sum_{teacher, level} L_distill``
    returned as a flat dict (``loss_<task>`` already weighted by the task
    loss's ``loss_weight``; ``loss_distill_<teacher>_l<level>`` by alpha;
    ``loss_<task>_aux`` for a task with an auxiliary head: the same task loss
    on that head's logits, times ``auxiliary_loss_weight``).
    ``predict``: per-task predictions at each sample's ``ori_shape`` (the
    ``img_shape`` region at ``pad_offset`` cropped out of the padded logits,
    then bilinear resize of the logits).
    ``tensor``: per-task logits at the (padded) input size.

    The router weights of the last forward are kept in
    :attr:`last_router_weights` (``{'<task>.level<i>': (B, 1 + T)}``, experts
    in :attr:`expert_names` order) for :class:`RouterStatsHook`.

    Decoders (docs/decoders.md): per task, the student's levels go through
    the task's neck (if any), then its decode head (and auxiliary head).
    Heads and necks are sakbox components or mmseg ones (``type='mmseg.UPerHead'``,
    built in mmseg's scope; with mmcv-lite they need ``mmcv_ops_shim = True``).

    Args:
        student (dict): Stem config (e.g. ``SAKViT``); ``teacher_dims`` and
            ``tasks`` are filled in.
        decode_heads (dict): One head config for every task, or a dict
            ``{task: head config}``. Filled in when the head accepts them and
            they are missing: ``num_classes`` from ``task_channels``;
            ``in_channels`` from the widths of the levels it receives (the
            stem's ``embed_dims``, or the neck's ``out_channels``): an int, or
            for an mmseg head the width(s) its ``in_index`` selects;
            ``num_levels``. A head's own ``loss_decode`` is refused: every loss
            comes from ``task_losses``.
        task_losses (Dict[str, dict]): ``{task: loss config}`` with the task's
            weight as ``loss_weight``.
        tasks (Sequence[str]): Tasks to learn, e.g. ``['semseg', 'depth']``.
        task_channels (Dict[str, int]): Output channels per task.
        teachers (Dict[str, dict], optional): Teacher configs by name.
        distill_loss (dict): Per-level distillation loss config.
        distill_weight (float): alpha. Default: 1.0.
        teacher_loss_weights (Dict[str, float], optional): Per-teacher weights.
        data_preprocessor (dict | nn.Module, optional): Data preprocessor.
        build_teachers (bool): Build the teachers (training). Default: True.
        build_teachers_for_test (bool): What ``init_model`` / test-time
            builds use for ``build_teachers``. Default: False.
        save_teachers (bool): Keep teacher weights in checkpoints. Default: False.
        teacher_dims (dict, optional): Teacher widths when not built.
        teacher_init_seed (int, optional): Seed for random teachers.
        teacher_precision (str): ``'auto'`` (bf16 where supported), ``'bf16'``,
            ``'fp16'`` or ``'fp32'``: see :class:`BaseDistiller`.
        align_corners (bool): For the logits resizes. Default: False.
        test_cfg (dict, optional): ``dict(mode='whole')`` (default) or
            ``dict(mode='slide', crop_size=(h, w), stride=(sh, sw))``: ``predict``
            runs on sliding windows of the padded input and averages the logits
            where they overlap (see :class:`BaseDistiller`). ``tensor`` mode is
            always whole.
        neck (dict, optional): A config with ``type`` (one module shared by
            every task, applied to each task's levels, e.g. mmseg's
            ``MultiLevelNeck``), or ``{task: config}`` (tasks not listed get
            none). ``in_channels`` is filled in when missing.
        auxiliary_heads (Dict[str, dict], optional): ``{task: head config}``
            (built like ``decode_heads``, e.g. ``mmseg.FCNHead`` with
            ``in_index=2``), used only by ``loss``.
        auxiliary_loss_weight (float | Dict[str, float]): Weight of each
            auxiliary loss, or one per task (tasks left out: 0.4). Default: 0.4.
        init_cfg (dict | list, optional): MMEngine init config.
    """

    def __init__(self,
                 student: dict,
                 decode_heads: dict,
                 task_losses: Dict[str, dict],
                 tasks: Sequence[str],
                 task_channels: Dict[str, int],
                 teachers: Optional[Dict[str, dict]] = None,
                 distill_loss: dict = dict(type='FeatureDistillLoss'),
                 distill_weight: float = 1.0,
                 teacher_loss_weights: Optional[Dict[str, float]] = None,
                 data_preprocessor: Optional[ConfigType] = None,
                 build_teachers: bool = True,
                 build_teachers_for_test: bool = False,
                 save_teachers: bool = False,
                 teacher_dims: Optional[dict] = None,
                 teacher_init_seed: Optional[int] = None,
                 teacher_precision: str = 'auto',
                 align_corners: bool = False,
                 test_cfg: Optional[dict] = None,
                 neck: Optional[dict] = None,
                 auxiliary_heads: Optional[Dict[str, dict]] = None,
                 auxiliary_loss_weight: Union[float, Dict[str, float]] = 0.4,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(student=student, teachers=teachers, distill_loss=distill_loss,
                         distill_weight=distill_weight,
                         teacher_loss_weights=teacher_loss_weights,
                         data_preprocessor=data_preprocessor, build_teachers=build_teachers,
                         save_teachers=save_teachers, teacher_dims=teacher_dims,
                         teacher_init_seed=teacher_init_seed,
                         teacher_precision=teacher_precision, test_cfg=test_cfg,
                         init_cfg=init_cfg)
        self.tasks = self._check_tasks(tasks, task_channels, task_losses)
        self.task_channels = {t: int(task_channels[t]) for t in self.tasks}
        self.build_teachers_for_test = build_teachers_for_test
        self.align_corners = align_corners

        self.student = self.build_student(student, tasks=list(self.tasks))
        # Saved with the weights: a config written back sorted re-orders the teachers.
        self.expert_order = ExpertOrder(self.teacher_names)

        self._build_decoders(decode_heads, neck, auxiliary_heads, auxiliary_loss_weight)
        self.task_losses = nn.ModuleDict({t: MODELS.build(task_losses[t]) for t in self.tasks})
        self.last_router_weights: Dict[str, Tensor] = {}

    # ------------------------------------------------------------------ building
    @staticmethod
    def _check_tasks(tasks: Sequence[str], task_channels: Dict[str, int],
                     task_losses: Dict[str, dict]) -> List[str]:
        tasks = list(tasks)
        if not tasks or len(set(tasks)) != len(tasks):
            raise ValueError(f'tasks must be a non-empty list without repeats, got {tasks}')
        for t in tasks:
            if t not in TASK_POSTPROCESS:
                raise KeyError(f'unknown task {t!r}; known tasks: {sorted(TASK_POSTPROCESS)}')
            if t not in task_channels:
                raise KeyError(f'task {t!r} has no entry in task_channels '
                               f'({sorted(task_channels)})')
            if t not in task_losses:
                raise KeyError(f'task {t!r} has no entry in task_losses ({sorted(task_losses)})')
        extra = set(task_losses) - set(tasks)
        if extra:
            raise KeyError(f'task_losses has entries for tasks not in `tasks`: {sorted(extra)}')
        return tasks

    def _build_decoders(self, decode_heads: dict, neck: Optional[dict],
                        auxiliary_heads: Optional[Dict[str, dict]],
                        auxiliary_loss_weight: Union[float, Dict[str, float]]) -> None:
        """Necks, decode heads and auxiliary heads (``neck`` / ``necks`` /
        ``auxiliary_heads`` are None when not configured: checkpoint keys as before)."""
        self.neck, self.necks, levels = build_necks(neck, self.tasks,
                                                    student_levels(self.student))

        def heads(cfgs: dict, key: str, required: bool) -> nn.ModuleDict:
            built = nn.ModuleDict()
            for t in self.tasks:
                cfg = select_task_cfg(cfgs, t, key, required=required)
                if cfg is not None:
                    built[t] = build_task_head(cfg, task=t, num_classes=self.task_channels[t],
                                               levels=levels[t], where=f'{key}.{t}')
            return built

        self.decode_heads = heads(decode_heads, 'decode_heads', required=True)
        self.auxiliary_heads = None
        self.auxiliary_loss_weights: Dict[str, float] = {}
        if auxiliary_heads:
            unknown = sorted(set(auxiliary_heads) - set(self.tasks))
            if 'type' in auxiliary_heads or unknown:
                raise KeyError(f'auxiliary_heads must be {{task: head config}} for tasks in '
                               f'{self.tasks}, got keys {sorted(auxiliary_heads)}')
            self.auxiliary_heads = heads(auxiliary_heads, 'auxiliary_heads', required=False)
            self.auxiliary_loss_weights = auxiliary_loss_weights(
                auxiliary_loss_weight, list(self.auxiliary_heads))
        self._takes_size = {
            (key, t): 'input_size' in inspect.signature(h.forward).parameters
            for key, hs in (('decode_heads', self.decode_heads),
                            ('auxiliary_heads', self.auxiliary_heads or {}))
            for t, h in hs.items()}

    def fill_state_dict_defaults(self, state_dict: dict) -> None:
        """Give a checkpoint from before the expert order was saved the config's order.

        Called by :func:`sakbox.utils.state_dict_fit.compare_state_dict`, so that
        such a checkpoint still loads strictly, as ``load_state_dict`` loads it.

        Args:
            state_dict (dict): A state dict for this model (changed in place).
        """
        fill_expert_order(self.expert_order, state_dict)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):  # noqa: D102
        align_expert_order(self, state_dict, prefix, error_msgs)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    # ------------------------------------------------------------------- forward
    def forward(self, inputs: Tensor, data_samples: Optional[List] = None,
                mode: str = 'tensor'):
        """Dispatch to :meth:`loss`, :meth:`predict` or :meth:`_forward`.

        Args:
            inputs (Tensor): Normalised, padded batch (B, 3, H, W).
            data_samples (List[MultiTaskDataSample], optional): Samples.
            mode (str): ``'loss'``, ``'predict'`` or ``'tensor'``.
        """
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")

    def extract_feat(self, inputs: Tensor) -> dict:
        """Run the stem; record the router weights.

        Args:
            inputs (Tensor): (B, 3, H, W).

        Returns:
            dict: The stem's outputs (``distill``, ``task_feats``, ...).
        """
        out = self.student(inputs)
        if 'task_feats' not in out:
            raise KeyError(f'the student {type(self.student).__name__} returned no '
                           f'`task_feats` (keys: {sorted(out)}); was it built with tasks?')
        self.last_router_weights = OrderedDict(
            (k, (w.flatten(2).mean(-1) if w.dim() > 2 else w).detach())
            for k, w in out.get('router_weights', {}).items())
        return out

    def task_levels(self, task_feats: Dict[str, Sequence[Tensor]]
                    ) -> Dict[str, Sequence[Tensor]]:
        """Per task, the levels its heads receive (after the task's neck, if any).

        Args:
            task_feats (Dict[str, Sequence[Tensor]]): Per task, the student's levels.

        Returns:
            Dict[str, Sequence[Tensor]]: Per task, the heads' input levels.
        """
        levels = OrderedDict()
        for task in self.tasks:
            if task not in task_feats:
                raise KeyError(f'the student returned no features for task {task!r}; it has '
                               f'{sorted(task_feats)}')
            neck = self.neck
            if neck is None and self.necks is not None and task in self.necks:
                neck = self.necks[task]
            levels[task] = task_feats[task] if neck is None else list(neck(task_feats[task]))
        return levels

    def _run_heads(self, key: str, levels: Dict[str, Sequence[Tensor]],
                   input_size: Tuple[int, int]) -> Dict[str, Tensor]:
        """Run the heads of ``key`` (decode / auxiliary) and resize their logits."""
        logits = OrderedDict()
        for task, head in getattr(self, key).items():
            feats = levels[task]
            out = head(feats, input_size=input_size) if self._takes_size[(key, task)] \
                else head(feats)
            if not isinstance(out, Tensor):
                raise TypeError(f'{key}.{task} ({type(head).__name__}) returned '
                                f'{type(out).__name__}, not logits (B, K, h, w); heads with '
                                'several outputs (e.g. mmseg DAHead) are not supported')
            logits[task] = resize_logits(out, input_size, self.align_corners)
        return logits

    def decode(self, task_feats: Dict[str, Sequence[Tensor]],
               input_size: Tuple[int, int]) -> Dict[str, Tensor]:
        """Run every task's neck and decode head and resize its logits to ``input_size``.

        Args:
            task_feats (Dict[str, Sequence[Tensor]]): Per task, its levels.
            input_size (Tuple[int, int]): (H, W) of the (padded) input.

        Returns:
            Dict[str, Tensor]: Per task, logits (B, K_t, H, W).
        """
        return self._run_heads('decode_heads', self.task_levels(task_feats), input_size)

    def _forward(self, inputs: Tensor, data_samples=None) -> Dict[str, Tensor]:
        """Raw per-task logits (B, K_t, H, W) at the input size."""
        out = self.extract_feat(inputs)
        return self.decode(out['task_feats'], inputs.shape[-2:])

    def loss(self, inputs: Tensor, data_samples: List) -> Dict[str, Tensor]:
        """Task losses + distillation losses.

        Args:
            inputs (Tensor): (B, 3, H, W).
            data_samples (List[MultiTaskDataSample]): With ``gt_<task>``.

        Returns:
            Dict[str, Tensor]: ``loss_<task>``, ``loss_<task>_aux`` (tasks with an
            auxiliary head) and ``loss_distill_<teacher>_l<i>``.
        """
        if data_samples is None:
            raise ValueError('MultiTaskDistiller.loss needs data_samples with ground truth')
        size = tuple(inputs.shape[-2:])
        # Teachers first, as the official step: their activations are freed before the
        # student's (kept for backward) build up, which lowers the step's peak memory.
        distill = self.teacher_names and self.distill_weight > 0
        teacher_feats = self.get_teacher_feats(inputs, data_samples) if distill else None
        out = self.extract_feat(inputs)
        levels = self.task_levels(out['task_feats'])
        logits = self._run_heads('decode_heads', levels, size)
        aux = self._run_heads('auxiliary_heads', levels, size) if self.auxiliary_heads else {}
        losses = OrderedDict()
        for task in self.tasks:
            gt = stack_task_gt(data_samples, task, size).to(inputs.device)
            losses[f'loss_{task}'] = self.task_losses[task](logits[task], gt)
            if task in aux:
                losses[f'loss_{task}_aux'] = (self.auxiliary_loss_weights[task]
                                              * self.task_losses[task](aux[task], gt))
        if distill:
            losses.update(self.distill_losses(out['distill'], teacher_feats))
        return losses

    @torch.no_grad()
    def predict(self, inputs: Tensor, data_samples: Optional[List] = None) -> List:
        """Predict every task at each sample's original size.

        The logits of the padded input (whole, or stitched from sliding windows
        with ``test_cfg.mode='slide'``) are cropped to the sample's image
        (``img_shape`` at ``pad_offset``, see :mod:`sakbox.structures.padding`)
        and bilinearly resized to ``ori_shape``. In slide mode
        :attr:`last_router_weights` holds the router weights averaged over the
        windows.

        Args:
            inputs (Tensor): (B, 3, H, W).
            data_samples (List[MultiTaskDataSample], optional): Samples with
                ``img_shape`` / ``ori_shape`` / ``pad_offset``; created (whole
                input, no padding) when None.

        Returns:
            List[MultiTaskDataSample]: The samples with ``pred_<task>`` added
            (see :class:`MultiTaskDataSample` for shapes and dtypes).
        """
        H, W = inputs.shape[-2:]
        # The router weights of each window travel with its logits (averaged when sliding).
        out = self.inference(
            lambda x: dict(logits=self._forward(x), router_weights=self.last_router_weights),
            inputs)
        logits, self.last_router_weights = out['logits'], out['router_weights']
        if data_samples is None:
            data_samples = [MultiTaskDataSample(metainfo=dict(img_shape=(H, W), ori_shape=(H, W)))
                            for _ in range(inputs.shape[0])]
        for i, sample in enumerate(data_samples):
            top, left, h, w = image_region(sample.metainfo, (H, W))
            ori = tuple(sample.metainfo.get('ori_shape', (h, w)))[:2]
            for task in self.tasks:
                x = logits[task][i:i + 1, :, top:top + h, left:left + w]
                x = resize_logits(x, ori, self.align_corners)
                pred = postprocess_logits(task, x)[0]
                sample.set_field(PixelData(data=pred), f'pred_{task}', dtype=PixelData)
        return data_samples
