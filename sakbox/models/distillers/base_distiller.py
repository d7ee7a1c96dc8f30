"""Shared machinery of the distillers: frozen teachers kept out of the state dict."""
import contextlib
import copy
from collections import OrderedDict
from typing import Dict, Iterator, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import BaseModel
from torch import Tensor

from sakbox.engine.optim_wrappers import PRECISION_DTYPES, resolve_precision
from sakbox.registry import MODELS

from ..teachers.base_teacher import fill_input_norm
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
        teacher_precision (str): Precision of the teachers' forward passes,
            independent of the student's autocast: ``'auto'`` (default: bf16
            autocast where the device supports bf16 natively, else fp32),
            ``'bf16'``, ``'fp16'`` or ``'fp32'``. Teachers always run under
            ``torch.inference_mode``; their features are returned as float32.
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
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        if teacher_precision != 'auto' and teacher_precision not in PRECISION_DTYPES:
            raise ValueError(f"teacher_precision must be 'auto' or one of "
                             f'{sorted(PRECISION_DTYPES)}, got {teacher_precision!r}')
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
        self.teacher_precision = teacher_precision
        self.distill_loss = MODELS.build(distill_loss) if distill_loss else None

        cfgs = {name: self._teacher_cfg(cfg, preproc_cfg, name)
                for name, cfg in teachers.items()}
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
    def _teacher_cfg(cfg: dict, preproc_cfg: dict, name: str = 'teacher') -> dict:
        """The config a teacher is built (and recorded) with.

        The student's normalisation is passed on as ``input_mean``/``input_std``
        (teachers that re-normalise undo it) unless set, and ``input_norm`` is
        spelled out (its class default if unset) so that built configs and
        cache records say what the network receives.

        Args:
            cfg (dict): The teacher's config.
            preproc_cfg (dict): The data preprocessor's config (``mean``/``std``).
            name (str): The teacher's name, quoted in errors (``teachers.<name>``).

        Returns:
            dict: A completed copy of ``cfg``.
        """
        cfg = copy.deepcopy(dict(cfg))
        for src, dst in (('mean', 'input_mean'), ('std', 'input_std')):
            if preproc_cfg.get(src) is not None and dst not in cfg:
                cfg[dst] = list(preproc_cfg[src])
        return fill_input_norm(cfg, f'teachers.{name}')

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

    @contextlib.contextmanager
    def teacher_context(self, device: torch.device) -> Iterator[torch.dtype]:
        """Inference mode + the teachers' own autocast (see ``teacher_precision``).

        The context replaces any autocast active around it (e.g. the student's
        fp16 autocast), so the teachers' precision only depends on
        ``teacher_precision``.

        Args:
            device (torch.device): Device the teachers run on.

        Yields:
            torch.dtype: The dtype the teachers' matrix work runs in.
        """
        device_type = torch.device(device).type
        dtype = resolve_precision(self.teacher_precision, device_type)
        enabled = dtype != torch.float32
        if device_type not in ('cpu', 'cuda'):  # autocast only where it is supported
            enabled = False
        with torch.inference_mode(), torch.autocast(device_type=device_type, dtype=dtype,
                                                    enabled=enabled):
            yield dtype if enabled else torch.float32

    @staticmethod
    def _as_float32(feats: Sequence[Tensor]) -> List[Tensor]:
        """Copy inference-mode outputs into normal float32 tensors usable by autograd."""
        return [f.to(torch.float32, copy=True) for f in feats]

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
        return {name: self._as_float32(levels) for name, levels in feats.items()}

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
        cached = self._cached_teacher_feats(inputs, data_samples)
        missing = [n for n in self.teacher_names if n not in cached]
        online = self.forward_teachers(inputs, missing) if missing else {}
        return OrderedDict((n, cached[n] if n in cached else online[n])
                           for n in self.teacher_names)

    def _cached_teacher_feats(self, inputs: Tensor,
                              data_samples: Optional[Sequence]) -> Dict[str, List[Tensor]]:
        if not data_samples or not all('teacher_feats' in s for s in data_samples):
            return {}
        B = inputs.shape[0]
        if len(data_samples) != B:
            raise ValueError(f'{len(data_samples)} data samples for a batch of {B} images')
        out: Dict[str, List[Tensor]] = {}
        names = set(data_samples[0].teacher_feats)
        for i, s in enumerate(data_samples):
            if set(s.teacher_feats) != names:
                raise KeyError(f'data sample {i} has cached teacher_feats for '
                               f'{sorted(s.teacher_feats)}, sample 0 for {sorted(names)}')
        unknown = names - set(self.teacher_names)
        if unknown:
            raise KeyError(f'cached teacher_feats name unknown teachers {sorted(unknown)}; '
                           f'the distiller has {self.teacher_names}')
        for name in self.teacher_names:
            if name not in names:
                continue
            levels = [list(s.teacher_feats[name]) for s in data_samples]
            num = len(self.teacher_dims[name])
            if any(len(lv) != num for lv in levels):
                raise ValueError(f'cached teacher_feats[{name!r}] has '
                                 f'{[len(lv) for lv in levels]} levels per sample; the '
                                 f'teacher has {num}')
            stacked = []
            for lvl in range(num):
                maps = [torch.as_tensor(lv[lvl]) for lv in levels]
                shape = tuple(maps[0].shape)
                if any(tuple(m.shape) != shape for m in maps) or len(shape) != 3:
                    raise ValueError(f'cached teacher_feats[{name!r}] level {lvl}: expected '
                                     f'equal (C, h, w) maps, got {[tuple(m.shape) for m in maps]}')
                if shape[0] != self.teacher_dims[name][lvl]:
                    raise ValueError(f'cached teacher_feats[{name!r}] level {lvl} has '
                                     f'{shape[0]} channels; the teacher has '
                                     f'{self.teacher_dims[name][lvl]}')
                stacked.append(torch.stack(maps).to(device=inputs.device, dtype=torch.float32))
            out[name] = stacked
        return out

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
