"""Shared machinery of the distillers: frozen teachers kept out of the state dict.

Teachers are built by :func:`sakbox.models.teachers.build_teachers`; their targets
(online, in the teachers' own precision, or read from a feature cache) come from
:mod:`.teacher_targets`.
"""
import copy
from collections import OrderedDict
from typing import Callable, Dict, List, Mapping, Optional, Sequence, TypeVar, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import BaseModel
from torch import Tensor

from sakbox.registry import MODELS
from sakbox.utils.pos_embed import resample_pos_embeds_in_state_dict

from ..teachers.builder import DEFAULT_PREPROCESSOR, build_teacher_cfg, probe_teacher_dims
from ..teachers.builder import build_teachers as build_teacher_modules
from ..utils import check_test_cfg, slide_inference
from .teacher_targets import (
    as_float32,
    check_teacher_precision,
    stack_cached_teacher_feats,
    teacher_precision_context,
)

ConfigType = Union[dict, nn.Module]
TeacherDims = Dict[str, Union[List[int], int]]
Outputs = TypeVar('Outputs')


def resolve_teacher_dims(cfgs: Mapping[str, dict], given: Optional[TeacherDims] = None,
                         teachers: Optional[nn.ModuleDict] = None) -> Dict[str, List[int]]:
    """Per-level widths of every teacher: built ones, else given, else probed.

    Args:
        cfgs (Mapping[str, dict]): Built teacher configs by name.
        given (dict, optional): ``teacher_dims`` argument: a list per level, or
            one int for every level (kept as ``[int]`` here; the student expands
            it to its number of levels, see :meth:`BaseDistiller.build_student`).
        teachers (nn.ModuleDict, optional): Built teachers (their ``embed_dims`` win).

    Returns:
        Dict[str, List[int]]: Widths by teacher, in ``cfgs`` order.
    """
    dims: Dict[str, List[int]] = {}
    given = dict(given or {})
    for name, cfg in cfgs.items():
        if teachers is not None:
            dims[name] = list(teachers[name].embed_dims)
        elif name in given:
            d = given[name]
            dims[name] = list(d) if isinstance(d, (list, tuple)) else [int(d)]
        else:
            dims[name] = probe_teacher_dims(cfg, name)
    return dims


class BaseDistiller(BaseModel):
    """Student + frozen teachers + feature distillation.

    Teachers are built in ``__init__`` only when ``build_teachers=True``
    (training). They are **not** submodules: they live outside ``_modules``,
    so they are never in ``parameters()`` (hence never in the optimizer or
    DDP), never in ``state_dict()`` (unless ``save_teachers=True``), are not
    touched by ``init_weights()`` / ``train()``, and stay in eval mode and
    frozen. :meth:`_apply` moves them with the model (``.to()``,
    ``.cuda()``, ``.half()``). Checkpoints with or without ``teachers.*``
    keys load into models with or without teachers.

    Teachers are built by :func:`sakbox.models.teachers.build_teachers`
    (:attr:`teacher_cfgs` holds each one's built config, what a feature cache
    records). The student is built with ``teacher_dims`` filled from the teachers'
    ``embed_dims``; without built teachers the dims come from the
    ``teacher_dims`` argument or from building each teacher on the ``meta``
    device (no memory, no weights).

    Args:
        student (dict): Config of the student stem (e.g. ``SAKViT``).
        teachers (Dict[str, dict], optional): Teacher configs by name; the
            order fixes the expert order of the routers.
        distill_loss (dict): Config of the per-level distillation loss.
        distill_weight (float): alpha, multiplier of all distillation losses.
        teacher_loss_weights (Dict[str, float], optional): Extra per-teacher
            multipliers (default 1).
        data_preprocessor (dict | nn.Module, optional): Data preprocessor;
            default ``MultiTaskDataPreProcessor``.
        build_teachers (bool): Build (and load) the teachers. Default: True.
        save_teachers (bool): Put the teachers' weights in ``state_dict()``
            under ``teachers.<name>.``. Default: False.
        teacher_dims (Dict[str, List[int] | int], optional): Teacher widths
            used when the teachers are not built: one per level, or one int for
            every level (see :meth:`build_student`).
        teacher_init_seed (int, optional): Build teacher ``i`` under
            ``torch.manual_seed(teacher_init_seed + i)`` (in a forked RNG) so
            that randomly initialised teachers are identical in every run
            and process.
        teacher_precision (str): Precision of the teachers' forward passes,
            independent of the student's autocast: ``'auto'`` (default: bf16
            autocast where the device supports bf16 natively, else fp32),
            ``'bf16'``, ``'fp16'`` or ``'fp32'``. Teachers always run under
            ``torch.inference_mode``; their features are returned as float32.
        test_cfg (dict, optional): How ``predict`` runs the network:
            ``dict(mode='whole')`` (default: once on the padded input) or
            ``dict(mode='slide', crop_size=(h, w), stride=(sh, sw))`` (on sliding
            windows, outputs stitched; optional ``batch_windows``: windows per
            forward, default all). Checked here (:func:`check_test_cfg`); see
            :meth:`inference` and docs/evaluation.md.
        init_cfg (dict | list, optional): MMEngine init config.

    Cached teacher features: when every data sample carries a ``teacher_feats``
    data field (``{teacher: [(C_l, h_l, w_l), ...]}``, e.g. attached by
    :class:`~sakbox.datasets.TeacherFeatureCacheDataset`), :meth:`get_teacher_feats`
    uses them instead of running those teachers.
    """

    def __init__(self,
                 student: dict,
                 teachers: Optional[Dict[str, dict]] = None,
                 distill_loss: dict = dict(type='FeatureDistillLoss'),
                 distill_weight: float = 1.0,
                 teacher_loss_weights: Optional[Dict[str, float]] = None,
                 data_preprocessor: Optional[ConfigType] = None,
                 build_teachers: bool = True,
                 save_teachers: bool = False,
                 teacher_dims: Optional[Dict[str, Union[List[int], int]]] = None,
                 teacher_init_seed: Optional[int] = None,
                 teacher_precision: str = 'auto',
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        check_teacher_precision(teacher_precision)
        test_cfg = check_test_cfg(test_cfg, type(self).__name__)
        if data_preprocessor is None:
            data_preprocessor = copy.deepcopy(DEFAULT_PREPROCESSOR)
        if isinstance(data_preprocessor, dict):
            preproc_cfg = data_preprocessor
            data_preprocessor = MODELS.build(data_preprocessor)
        else:
            preproc_cfg = {}
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        #: The checked ``test_cfg`` (``mode``, ``crop_size``, ``stride``, ``batch_windows``).
        self.test_cfg = test_cfg
        teachers = dict(teachers or {})
        self.teacher_names: List[str] = list(teachers)
        self.distill_weight = float(distill_weight)
        self.teacher_loss_weights = dict(teacher_loss_weights or {})
        unknown = set(self.teacher_loss_weights) - set(teachers)
        if unknown:
            raise KeyError(f'teacher_loss_weights names unknown teachers {sorted(unknown)}; '
                           f'teachers are {self.teacher_names}')
        self.save_teachers = save_teachers
        self.teacher_precision = teacher_precision
        self.distill_loss = MODELS.build(distill_loss) if distill_loss else None

        #: The config each teacher is (or would be) built with, by name.
        self.teacher_cfgs = {name: build_teacher_cfg(cfg, preproc_cfg, name)
                             for name, cfg in teachers.items()}
        built = (build_teacher_modules(teachers, preproc_cfg, teacher_init_seed)
                 if build_teachers and teachers else None)
        # Kept outside `_modules` on purpose (see the class docstring).
        self.__dict__['_teachers'] = built
        self._given_teacher_dims = dict(teacher_dims or {})
        self.teacher_dims = resolve_teacher_dims(self.teacher_cfgs, teacher_dims, built)

    @property
    def teachers(self) -> Optional[nn.ModuleDict]:
        """The frozen teachers (None when not built)."""
        return self.__dict__.get('_teachers')

    @property
    def expert_names(self) -> List[str]:
        """Router expert order: ``['stem', *teacher_names]``."""
        return ['stem'] + self.teacher_names

    def build_student(self, student: dict, **fields) -> nn.Module:
        """Build the student with ``teacher_dims`` (and ``fields``, e.g. ``tasks``) filled in.

        A width given as one int (``teacher_dims={'t': 64}``) reaches the student
        as that int, which expands it to its number of levels; a student that
        exposes its ``teacher_dims`` then fixes :attr:`teacher_dims` per level.

        Args:
            student (dict): The student's config.
            **fields: Further config keys to set.

        Returns:
            nn.Module: The built student.
        """
        cfg = copy.deepcopy(dict(student))
        dims = copy.deepcopy(self.teacher_dims)
        for name, d in self._given_teacher_dims.items():
            if self.teachers is None and name in dims and not isinstance(d, (list, tuple)):
                dims[name] = int(d)
        cfg['teacher_dims'] = dims
        cfg.update(fields)
        built = MODELS.build(cfg)
        own = getattr(built, 'teacher_dims', None)
        if isinstance(own, Mapping) and set(own) == set(self.teacher_dims):
            self.teacher_dims = {name: list(own[name]) for name in self.teacher_dims}
        return built

    def inference(self, fn: Callable[[Tensor], Outputs], inputs: Tensor) -> Outputs:
        """Run ``fn`` the way ``test_cfg`` says: on the whole input or on sliding windows.

        Args:
            fn (Callable): Maps a batch ``(N, 3, h, w)`` to nested dicts / lists of
                tensors with ``N`` first: dense maps ``(N, C, h', w')`` proportional
                to the input, other tensors (summaries, vectors) per image.
            inputs (Tensor): ``(B, 3, H, W)``, the padded network input.

        Returns:
            ``fn(inputs)`` in ``'whole'`` mode; in ``'slide'`` mode the outputs of
            every window stitched (:func:`sakbox.models.utils.slide_inference`:
            dense maps averaged where windows overlap, other tensors averaged
            over the windows), in the same structure.
        """
        cfg = self.test_cfg
        if cfg['mode'] == 'whole':
            return fn(inputs)
        return slide_inference(fn, inputs, cfg['crop_size'], cfg['stride'],
                               batch_windows=cfg['batch_windows'])

    def teacher_context(self, device: torch.device):
        """Inference mode + the teachers' own autocast (see ``teacher_precision``).

        The context replaces any autocast active around it (e.g. the student's
        fp16 autocast), so the teachers' precision only depends on
        ``teacher_precision``.

        Args:
            device (torch.device): Device the teachers run on.

        Returns:
            A context manager yielding the dtype the teachers' matrix work runs in.
        """
        return teacher_precision_context(self.teacher_precision, device)

    def forward_teachers(self, inputs: Tensor,
                         names: Optional[Sequence[str]] = None) -> Dict[str, List[Tensor]]:
        """Run the teachers on the (student-normalised) batch.

        Args:
            inputs (Tensor): (B, 3, H, W).
            names (Sequence[str], optional): Teachers to run (default: all).

        Returns:
            Dict[str, List[Tensor]]: Per teacher, its levels (B, C_l, h, w), float32.
        """
        names = self.teacher_names if names is None else list(names)
        if self.teachers is None:
            raise RuntimeError(
                f'{type(self).__name__} was built with build_teachers=False, but features of '
                f'teachers {names} are needed (distillation loss) and the data samples carry '
                'no cached `teacher_feats` for them; set model.build_teachers=True, '
                'distill_weight=0, or train from a teacher feature cache '
                '(tools/extract_teacher_features.py)')
        with self.teacher_context(inputs.device):
            feats = {name: list(self.teachers[name](inputs)) for name in names}
        return {name: as_float32(levels) for name, levels in feats.items()}

    def get_teacher_feats(self, inputs: Tensor,
                          data_samples: Optional[Sequence] = None) -> Dict[str, List[Tensor]]:
        """Distillation targets: cached features where the samples carry them, else online.

        Args:
            inputs (Tensor): (B, 3, H, W) batch normalised by the data preprocessor.
            data_samples (Sequence, optional): Samples; when every one has a
                ``teacher_feats`` field (``{teacher: [(C_l, h_l, w_l), ...]}``),
                those teachers are read from it instead of being run.

        Returns:
            Dict[str, List[Tensor]]: Per teacher (in ``teacher_names`` order), its
            levels (B, C_l, h_l, w_l), float32 on ``inputs.device``.
        """
        cached = stack_cached_teacher_feats(data_samples, inputs.shape[0], self.teacher_dims,
                                            inputs.device)
        missing = [n for n in self.teacher_names if n not in cached]
        online = self.forward_teachers(inputs, missing) if missing else {}
        return OrderedDict((n, cached[n] if n in cached else online[n])
                           for n in self.teacher_names)

    def distill_losses(self, student_feats: Dict[str, Sequence[Tensor]],
                       teacher_feats: Dict[str, Sequence[Tensor]]) -> Dict[str, Tensor]:
        """Weighted per-teacher, per-level distillation losses.

        Args:
            student_feats (Dict[str, Sequence[Tensor]]): Student path outputs.
            teacher_feats (Dict[str, Sequence[Tensor]]): Teacher levels.

        Returns:
            Dict[str, Tensor]: ``loss_distill_<teacher>_l<level>`` (level from 0),
            multiplied by ``distill_weight`` and the teacher's weight.
        """
        losses = OrderedDict()
        for name in self.teacher_names:
            if name not in student_feats:
                raise KeyError(f'the student returned no distillation features for teacher '
                               f'{name!r}; it has {sorted(student_feats)}')
            weight = self.distill_weight * self.teacher_loss_weights.get(name, 1.0)
            for i, loss in enumerate(self.distill_loss(student_feats[name], teacher_feats[name])):
                losses[f'loss_distill_{name}_l{i}'] = weight * loss
        return losses

    # ------------------------------------------------- device / state dict plumbing
    def _apply(self, fn, recurse: bool = True):  # noqa: D102
        super()._apply(fn, recurse)
        if self.teachers is not None:
            self.teachers._apply(fn)
        return self

    def _save_to_state_dict(self, destination, prefix, keep_vars):  # noqa: D102
        super()._save_to_state_dict(destination, prefix, keep_vars)
        if self.save_teachers and self.teachers is not None:
            for k, v in self.teachers.state_dict(keep_vars=keep_vars).items():
                destination[f'{prefix}teachers.{k}'] = v

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):  # noqa: D102
        key_prefix = f'{prefix}teachers.'
        teacher_sd = OrderedDict(
            (k[len(key_prefix):], state_dict.pop(k)) for k in list(state_dict)
            if k.startswith(key_prefix))
        if teacher_sd and self.teachers is not None:
            result = self.teachers.load_state_dict(teacher_sd, strict=False)
            missing_keys.extend(key_prefix + k for k in result.missing_keys)
            unexpected_keys.extend(key_prefix + k for k in result.unexpected_keys)
        elif teacher_sd:
            print_log(f'{type(self).__name__}: ignoring {len(teacher_sd)} teacher weights in '
                      'the checkpoint (teachers are not built)', logger='current')
        # A stage-1 stem trained at another resolution: resample its position embedding.
        for key in resample_pos_embeds_in_state_dict(self, state_dict, prefix):
            print_log(f'{type(self).__name__}: resampled {key} to the model\'s grid',
                      logger='current')
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)
