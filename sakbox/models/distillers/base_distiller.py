"""Shared machinery of the distillers: frozen teachers kept out of the state dict."""
import copy
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import BaseModel
from torch import Tensor

from sakbox.registry import MODELS

from ..utils.pos_embed import resample_pos_embeds_in_state_dict

ConfigType = Union[dict, nn.Module]
#: Default data preprocessor of every distiller.
DEFAULT_PREPROCESSOR = dict(type='MultiTaskDataPreProcessor')


def _freeze(module: nn.Module) -> nn.Module:
    module.requires_grad_(False)
    module.eval()
    return module


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

    The student is built with ``teacher_dims`` filled from the teachers'
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
            used when the teachers are not built.
        teacher_init_seed (int, optional): Build teacher ``i`` under
            ``torch.manual_seed(teacher_init_seed + i)`` (in a forked RNG) so
            that randomly initialised teachers are identical in every run
            and process.
        init_cfg (dict | list, optional): MMEngine init config.
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
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = copy.deepcopy(DEFAULT_PREPROCESSOR)
        if isinstance(data_preprocessor, dict):
            preproc_cfg = data_preprocessor
            data_preprocessor = MODELS.build(data_preprocessor)
        else:
            preproc_cfg = {}
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        teachers = dict(teachers or {})
        self.teacher_names: List[str] = list(teachers)
        self.distill_weight = float(distill_weight)
        self.teacher_loss_weights = dict(teacher_loss_weights or {})
        unknown = set(self.teacher_loss_weights) - set(teachers)
        if unknown:
            raise KeyError(f'teacher_loss_weights names unknown teachers {sorted(unknown)}; '
                           f'teachers are {self.teacher_names}')
        self.save_teachers = save_teachers
        self.distill_loss = MODELS.build(distill_loss) if distill_loss else None

        cfgs = {name: self._teacher_cfg(cfg, preproc_cfg) for name, cfg in teachers.items()}
        built: Optional[nn.ModuleDict] = None
        if build_teachers and cfgs:
            built = nn.ModuleDict()
            for i, (name, cfg) in enumerate(cfgs.items()):
                seed = None if teacher_init_seed is None else teacher_init_seed + i
                built[name] = _freeze(self._build_seeded(cfg, seed))
        # Kept outside `_modules` on purpose (see the class docstring).
        self.__dict__['_teachers'] = built
        self.teacher_dims = self._resolve_teacher_dims(cfgs, teacher_dims)

    # ------------------------------------------------------------------ teachers
    @staticmethod
    def _teacher_cfg(cfg: dict, preproc_cfg: dict) -> dict:
        cfg = copy.deepcopy(dict(cfg))
        # Teachers undo the student's normalisation: pass it on unless set.
        for src, dst in (('mean', 'input_mean'), ('std', 'input_std')):
            if preproc_cfg.get(src) is not None and dst not in cfg:
                cfg[dst] = list(preproc_cfg[src])
        return cfg

    @staticmethod
    def _build_seeded(cfg: dict, seed: Optional[int]) -> nn.Module:
        if seed is None:
            return MODELS.build(cfg)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return MODELS.build(cfg)

    def _resolve_teacher_dims(self, cfgs: Dict[str, dict],
                              given: Optional[dict]) -> Dict[str, List[int]]:
        dims: Dict[str, List[int]] = {}
        given = dict(given or {})
        for name, cfg in cfgs.items():
            if self.teachers is not None:
                dims[name] = list(self.teachers[name].embed_dims)
            elif name in given:
                d = given[name]
                dims[name] = list(d) if isinstance(d, (list, tuple)) else [int(d)]
            else:
                dims[name] = self._probe_teacher_dims(name, cfg)
        return dims

    @staticmethod
    def _probe_teacher_dims(name: str, cfg: dict) -> List[int]:
        """Read ``embed_dims`` of a teacher built without weights (meta device)."""
        cfg = copy.deepcopy(cfg)
        cfg['pretrained'] = False
        cfg['checkpoint'] = None
        try:
            with torch.device('meta'):
                teacher = MODELS.build(cfg)
        except Exception:  # some wrappers cannot be built on meta: use the CPU
            teacher = MODELS.build(cfg)
        try:
            return list(teacher.embed_dims)
        except AttributeError as e:
            raise AttributeError(f'teacher {name!r} ({cfg.get("type")}) has no `embed_dims`; '
                                 'pass `teacher_dims` to the distiller') from e

    @property
    def teachers(self) -> Optional[nn.ModuleDict]:
        """The frozen teachers (None when not built)."""
        return self.__dict__.get('_teachers')

    @property
    def expert_names(self) -> List[str]:
        """Router expert order: ``['stem', *teacher_names]``."""
        return ['stem'] + self.teacher_names

    @torch.no_grad()
    def forward_teachers(self, inputs: Tensor) -> Dict[str, List[Tensor]]:
        """Run every teacher on the (student-normalised) batch.

        Args:
            inputs (Tensor): (B, 3, H, W).

        Returns:
            Dict[str, List[Tensor]]: Per teacher, its levels (B, C_l, h, w).
        """
        if self.teachers is None:
            raise RuntimeError(
                f'{type(self).__name__} was built with build_teachers=False, but teacher '
                'features are needed (distillation loss); set model.build_teachers=True or '
                'distill_weight=0')
        return {name: list(t(inputs)) for name, t in self.teachers.items()}

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
