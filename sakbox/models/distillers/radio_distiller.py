"""AM-RADIO multi-teacher distiller.

One student (``RADIOViT`` or ``ERADIO``) learns to reproduce, through one
adaptor head per teacher, each teacher's summary vector (cosine loss) and its
dense features (0.9 cosine + 0.1 smooth-L1 per token). Teachers are handled by
:class:`BaseDistiller`: frozen, run without gradients, kept out of the
parameters and of the state dict, and not built at test time.
"""
import copy
import os.path as osp
import random
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sakbox.registry import MODELS
from sakbox.structures import MultiTaskDataSample
from sakbox.utils.checkpoint import read_checkpoint
from sakbox.utils.sizes import to_hw

from ..adaptor_heads.phi_s import PhiSNormalizer
from ..teachers.builder import build_teacher_cfg
from .base_distiller import BaseDistiller, ConfigType
from .radio_summary_width import summary_width
from .teacher_targets import as_float32

#: Per-teacher options of :class:`RADIODistiller` and their defaults.
TEACHER_OPTIONS = dict(summary=True, features=True, summary_weight=1.0, feature_weight=1.0,
                       feature_level=-1, summary_source='auto', input_size=None,
                       summary_channels=None, summary_slot=None, adaptor=None,
                       student_input_size=None, student_batch=None)


@MODELS.register_module()
class RADIODistiller(BaseDistiller):
    """Distil several frozen teachers into one RADIO student.

    Teacher summaries: a teacher wrapper that has ``forward_with_summary(x) ->
    (levels, summary)`` (and ``with_summary`` true) or ``forward_summary(x) ->
    summary`` provides its own (CLIP's projected image embedding); otherwise the
    summary is the mean-pooled ``feature_level`` map. Every adaptor width comes from the
    teachers themselves (built, or built without weights on the meta device / the
    CPU when the teachers are not built); a teacher that cannot be built raises.
    Student summaries: teacher ``i`` with a summary target (dict order) reads
    summary token ``i``; the slot is saved with the weights
    (``adaptors.<name>.summary_slot``) and a loaded checkpoint's slot wins, so a
    config whose teachers were re-ordered (MMEngine writes configs back sorted)
    still reads the tokens the student was trained with.

    Args:
        student (dict): Stem config (``RADIOViT`` / ``ERADIO``); ``num_cls_tokens``
            defaults to the number of teachers with a summary target.
        teachers (dict): ``name -> teacher config`` (as every sakbox distiller).
        teacher_options (dict, optional): ``name -> dict`` overriding
            :data:`TEACHER_OPTIONS`: ``summary`` / ``features`` (distil that output),
            ``summary_weight`` / ``feature_weight``, ``feature_level`` (teacher level
            used as the dense target), ``summary_source`` (``'auto'`` or ``'mean'``),
            ``input_size`` (resize the batch for this teacher), ``summary_channels``
            (teacher summary width; by default the teacher's ``summary_dim``, read from
            a weightless build when the teachers are not built), ``summary_slot``
            (summary token to read; default: rank among the teachers with a summary,
            converted official checkpoints set it), ``adaptor`` (extra
            ``RADIOAdaptorHead`` kwargs, e.g. ``upsample_factor=2``) and
            ``student_input_size`` / ``student_batch``: distil this teacher from a
            separate student pass at this size on the first ``student_batch`` images
            of the batch as loaded (before the multi-resolution resize; None: all),
            the teacher seeing the same images — RADIOv2.5 distils SAM at 1024 px this
            way while CLIP / DINOv2 see the low-resolution pass.
        summary_loss (dict): Summary loss config.
        distill_loss (dict): Dense loss config (``FeatureDistillLoss``).
        distill_weight (float): Multiplier of every loss.
        teacher_loss_weights (dict, optional): Per-teacher multipliers.
        feature_match (str): ``'teacher'``: resize the adapted student map to the
            teacher's grid (AM-RADIO); ``'larger'``: resize whichever map is smaller.
        phi_s (dict, optional): ``dict(stats=<file of compute_phi_s_stats.py>,
            summary=False)`` standardises teacher features (and summaries) with PHI-S.
            Without ``stats`` (and always when the teachers are not built) the
            normalisers start as identity and are expected from a checkpoint.
        train_resolutions (sequence, optional): Sizes (int or (h, w)); one is drawn
            per training batch unless ``MultiResolutionHook`` fixes one.
        backbone_summary_slots (sequence[int], optional): Summary tokens that form the
            backbone summary (official ``summary_idxs``: the teachers with
            ``use_summary``); default: the slots of the teachers with a summary target.
            Converted official checkpoints set it.
        build_teachers_for_test (bool): What ``init_model`` / ``tools/test.py``
            use for ``build_teachers``; predictions need no teacher. Default: False.
        test_cfg (dict, optional): ``dict(mode='whole')`` (default) or
            ``dict(mode='slide', crop_size=(h, w), stride=(sh, sw))``: ``predict``
            stitches the student's and the adaptors' feature maps from sliding
            windows and averages the summaries over them (``tensor`` stays whole).
        data_preprocessor, build_teachers, save_teachers, teacher_dims,
        teacher_init_seed, teacher_precision, init_cfg: see :class:`BaseDistiller`.
    """

    def __init__(self, student: dict, teachers: Dict[str, dict],
                 teacher_options: Optional[Dict[str, dict]] = None,
                 summary_loss: dict = dict(type='SummaryCosineLoss'),
                 distill_loss: dict = dict(type='FeatureDistillLoss', loss_type='cos+l1',
                                           cos_weight=0.9, l1_weight=0.1, cos_mode='token'),
                 distill_weight: float = 1.0,
                 teacher_loss_weights: Optional[Dict[str, float]] = None,
                 feature_match: str = 'teacher', phi_s: Optional[dict] = None,
                 train_resolutions: Optional[Sequence] = None,
                 backbone_summary_slots: Optional[Sequence[int]] = None,
                 data_preprocessor: Optional[ConfigType] = None,
                 build_teachers: bool = True, build_teachers_for_test: bool = False,
                 save_teachers: bool = False,
                 teacher_dims: Optional[dict] = None,
                 teacher_init_seed: Optional[int] = None,
                 teacher_precision: str = 'auto',
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        if not teachers:
            raise ValueError('RADIODistiller needs at least one teacher')
        super().__init__(student=student, teachers=teachers, distill_loss=distill_loss,
                         distill_weight=distill_weight,
                         teacher_loss_weights=teacher_loss_weights,
                         data_preprocessor=data_preprocessor, build_teachers=build_teachers,
                         save_teachers=save_teachers, teacher_dims=teacher_dims,
                         teacher_init_seed=teacher_init_seed,
                         teacher_precision=teacher_precision, test_cfg=test_cfg,
                         init_cfg=init_cfg)
        if feature_match not in ('teacher', 'larger'):
            raise ValueError(f"RADIODistiller: feature_match must be 'teacher' or 'larger', "
                             f'got {feature_match!r}')
        self.feature_match = feature_match
        self.build_teachers_for_test = build_teachers_for_test
        self._teacher_cfgs = {n: build_teacher_cfg(c, None, n) for n, c in teachers.items()}
        #: ``name -> where the summary width came from`` (quoted in loading errors).
        self.summary_width_source: Dict[str, str] = {}
        self.options = self._parse_options(teacher_options or {})
        with_summary = [n for n in self.teacher_names if self.options[n]['summary']]
        self.summary_slots = {n: i if self.options[n]['summary_slot'] is None
                              else int(self.options[n]['summary_slot'])
                              for i, n in enumerate(with_summary)}
        self._backbone_summary_slots = (None if backbone_summary_slots is None
                                        else [int(i) for i in backbone_summary_slots])
        self.train_resolutions = [to_hw(r, 'train_resolutions') for r in (train_resolutions or [])]
        self.train_resolution: Optional[Tuple[int, int]] = None

        student = copy.deepcopy(dict(student))
        needed = max(self.summary_slots.values(), default=0) + 1
        student.setdefault('num_cls_tokens', needed)
        if student['num_cls_tokens'] < needed:
            raise ValueError(f'RADIODistiller: student.num_cls_tokens={student["num_cls_tokens"]}'
                             f' but summary slot {needed - 1} is used ({self.summary_slots})')
        self.student = MODELS.build(student)
        bad = [i for i in self._backbone_summary_slots or []
               if not 0 <= i < student['num_cls_tokens']]
        if bad:
            raise ValueError(f'RADIODistiller: backbone_summary_slots {bad} out of range for '
                             f'a student with {student["num_cls_tokens"]} summary tokens')

        phi_s = dict(phi_s or {})
        stats = self._load_phi_s_stats(phi_s.get('stats')) if build_teachers else {}
        self.adaptors = nn.ModuleDict()
        self.phi_s = nn.ModuleDict()
        for name in self.teacher_names:
            opt = self.options[name]
            f_ch = self.teacher_dims[name][opt['feature_level']]
            s_ch = self._summary_channels(name, f_ch) if opt['summary'] else None
            self.adaptors[name] = MODELS.build(dict(
                type='RADIOAdaptorHead', in_channels=self.student.embed_dim,
                summary_channels=s_ch if opt['summary'] else None,
                feature_channels=f_ch if opt['features'] else None, **(opt['adaptor'] or {})))
            if name in self.summary_slots:
                # The slot travels with the weights: configs written back by MMEngine
                # (work_dir/<config>.py) sort the teachers by name, which would
                # otherwise re-assign the tokens of a trained student.
                self.adaptors[name].register_buffer(
                    'summary_slot', torch.tensor(self.summary_slots[name], dtype=torch.long))
            if phi_s:
                kinds = {'features': f_ch,
                         **({'summary': s_ch} if phi_s.get('summary') and s_ch else {})}
                self.phi_s[name] = nn.ModuleDict({k: PhiSNormalizer(c) for k, c in kinds.items()})
                for kind, norm in self.phi_s[name].items():
                    if stats:
                        if kind not in stats.get(name, {}):
                            raise KeyError(f'RADIODistiller: PHI-S file {phi_s["stats"]} has no '
                                           f'{name}.{kind} statistics (teachers: {sorted(stats)})')
                        norm.set_stats(stats[name][kind])
        self.summary_loss = MODELS.build(summary_loss)

    @property
    def backbone_summary_slots(self) -> List[int]:
        """Summary tokens concatenated into the backbone summary (official ``summary_idxs``)."""
        if self._backbone_summary_slots is not None:
            return list(self._backbone_summary_slots)
        return sorted(set(self.summary_slots.values()))

    def backbone_summary(self, summary: Tensor) -> Tensor:
        """The official RADIO backbone summary.

        Args:
            summary (Tensor): (B, num_cls_tokens, C) student summary tokens.

        Returns:
            Tensor: (B, len(backbone_summary_slots) * C), the tokens of
            :attr:`backbone_summary_slots` concatenated.
        """
        slots = self.backbone_summary_slots or list(range(summary.shape[1]))
        return summary[:, slots].flatten(1)

    # ----------------------------------------------------------------- building
    def _parse_options(self, options: Dict[str, dict]) -> Dict[str, dict]:
        unknown = set(options) - set(self.teacher_names)
        if unknown:
            raise KeyError(f'teacher_options names unknown teachers {sorted(unknown)}; '
                           f'teachers are {self.teacher_names}')
        parsed = {}
        for name in self.teacher_names:
            opt = dict(options.get(name, {}))
            bad = set(opt) - set(TEACHER_OPTIONS)
            if bad:
                raise KeyError(f'teacher_options.{name}: unknown keys {sorted(bad)}; '
                               f'allowed: {sorted(TEACHER_OPTIONS)}')
            if opt.get('summary_source', 'auto') not in ('auto', 'mean'):
                raise ValueError(f"teacher_options.{name}.summary_source must be 'auto' or "
                                 f"'mean', got {opt['summary_source']!r}")
            batch = opt.get('student_batch')
            if batch is not None and (opt.get('student_input_size') is None or int(batch) < 1):
                raise ValueError(f'teacher_options.{name}.student_batch={batch!r} needs a '
                                 'student_input_size and must be >= 1')
            parsed[name] = {**TEACHER_OPTIONS, **opt}
        return parsed

    @staticmethod
    def _load_phi_s_stats(path: Optional[str]) -> dict:
        # Only training needs the file: at test time the statistics come from the checkpoint.
        if not path:
            return {}
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'RADIODistiller: PHI-S statistics file {path} (model.phi_s.stats) not found; '
                'compute it with `python tools/analysis_tools/compute_phi_s_stats.py CONFIG '
                f'--out {path}` or set model.phi_s=None')
        return read_checkpoint(path, map_location='cpu')

    def _summary_channels(self, name: str, feature_channels: int) -> int:
        """Width of teacher ``name``'s summary target (:func:`summary_width`); records its source."""
        width, self.summary_width_source[name] = summary_width(
            name, self.options[name], self._teacher_cfgs[name], feature_channels,
            None if self.teachers is None else self.teachers[name])
        return width

    def _load_summary_slots(self, state_dict: dict, prefix: str, error_msgs: list) -> None:
        """Take each teacher's summary slot from the checkpoint (older ones: keep ours)."""
        num = self.student.num_cls_tokens
        for name, slot in list(self.summary_slots.items()):
            key = f'{prefix}adaptors.{name}.summary_slot'
            if key not in state_dict:  # a checkpoint from before the slots were saved
                state_dict[key] = self.adaptors[name].summary_slot.detach().clone()
                continue
            got = int(state_dict[key])
            if not 0 <= got < num:
                error_msgs.append(f'RADIODistiller: {key}={got} in the checkpoint, but the '
                                  f'student has {num} summary tokens')
            elif got != slot:
                self.summary_slots[name] = got

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):  # noqa: D102
        self._load_summary_slots(state_dict, prefix, error_msgs)
        # A width mismatch of an adaptor means the config describes other teachers than
        # the checkpoint was trained with: say which width and where it came from.
        for name, head in self.adaptors.items():
            for kind, mlp in (('summary', head.summary_mlp), ('feature', head.feature_mlp)):
                key = f'{prefix}adaptors.{name}.{kind}_mlp.final.2.weight'
                if mlp is None or key not in state_dict:
                    continue
                got, own = int(state_dict[key].shape[0]), int(mlp.final[2].weight.shape[0])
                if got != own:
                    src = (self.summary_width_source.get(name, '?') if kind == 'summary'
                           else f'teacher_dims / embed_dims of teacher {name!r}')
                    opt = 'summary_channels' if kind == 'summary' else None
                    hint = (f'; set model.teacher_options.{name}.{opt}={got} if the teacher '
                            'is the same') if opt else ''
                    error_msgs.append(
                        f'RADIODistiller: teacher {name!r}: the {kind} adaptor has {got} '
                        f'outputs in the checkpoint, {own} in this model (width from {src})'
                        f'{hint}')
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    # ----------------------------------------------------------------- teachers
    def teacher_targets(self, name: str, inputs: Tensor) -> Dict[str, Tensor]:
        """Run one teacher; return its (PHI-S normalised) targets.

        Args:
            name (str): Teacher name.
            inputs (Tensor): (B, 3, H, W) batch normalised by the data preprocessor.

        Returns:
            dict: ``summary`` (B, C_s) and/or ``features`` (B, C_f, h, w), float32.
        """
        if self.teachers is None:
            raise RuntimeError('RADIODistiller was built with build_teachers=False; the '
                               'distillation loss needs the teachers')
        opt, teacher = self.options[name], self.teachers[name]
        size = None if opt['input_size'] is None else to_hw(opt['input_size'], 'input_size')
        if size is not None and tuple(inputs.shape[-2:]) != size:
            inputs = F.interpolate(inputs, size=size, mode='bilinear', align_corners=False,
                                   antialias=True)
        summary = None
        auto = opt['summary'] and opt['summary_source'] == 'auto'
        with self.teacher_context(inputs.device):
            if (auto and hasattr(teacher, 'forward_with_summary')
                    and getattr(teacher, 'with_summary', True)):
                levels, summary = teacher.forward_with_summary(inputs)
            else:
                levels = teacher(inputs)
                if auto and hasattr(teacher, 'forward_summary'):
                    summary = teacher.forward_summary(inputs)
        # Out of inference mode: normal float32 tensors that autograd may save.
        feats, = as_float32([levels[opt['feature_level']]])
        targets = {}
        if opt['features']:
            targets['features'] = feats
        if opt['summary']:
            targets['summary'] = (feats.mean(dim=(2, 3)) if summary is None
                                  else as_float32([summary])[0].flatten(1))
        for kind, norm in (self.phi_s[name].items() if name in self.phi_s else ()):
            if kind in targets:
                targets[kind] = norm(targets[kind])
        return targets

    # ----------------------------------------------------------------- student
    def set_train_resolution(self, size: Optional[Union[int, Sequence[int]]]) -> None:
        """Fix the resolution of the next training batches (None: draw per batch)."""
        self.train_resolution = None if size is None else to_hw(size, 'size')

    def _train_inputs(self, inputs: Tensor) -> Tensor:
        size = self.train_resolution
        if size is None and self.train_resolutions:
            size = random.choice(self.train_resolutions)
        if size is not None and tuple(inputs.shape[-2:]) != size:
            inputs = F.interpolate(inputs, size=size, mode='bilinear', align_corners=False,
                                   antialias=True)
        return inputs

    def extract_feat(self, inputs: Tensor, denormalize: bool = False,
                     names: Optional[Sequence[str]] = None) -> dict:
        """Run the student and every adaptor.

        Args:
            inputs (Tensor): (B, 3, H, W).
            denormalize (bool): Map PHI-S-normalised adaptor outputs back to the
                teacher's own space.
            names (sequence[str], optional): Run only these teachers' adaptors.

        Returns:
            dict: the student's output (``summary`` (B, n, C), ``features``
            (B, C, h, w), ``levels``) plus ``adaptors``: ``name -> dict(summary
            (B, C_s), features (B, C_f, h', w'))``.
        """
        out = dict(self.student(inputs))
        if out['features'].ndim != 4:
            raise ValueError(f'RADIODistiller needs (B, C, h, w) student features; got '
                             f'{tuple(out["features"].shape)} (set output_fmt="NCHW")')
        adapted = OrderedDict()
        for name, head in self.adaptors.items():
            if names is not None and name not in names:
                continue
            slot = min(self.summary_slots.get(name, 0), out['summary'].shape[1] - 1)
            res = head(summary=out['summary'][:, slot], features=out['features'])
            if denormalize and name in self.phi_s:
                res = {k: (self.phi_s[name][k].inverse(v) if k in self.phi_s[name] else v)
                       for k, v in res.items()}
            adapted[name] = res
        out['adaptors'] = adapted
        return out

    @staticmethod
    def _student_pass_inputs(loaded: Tensor, size: Tuple[int, int],
                             batch: Optional[int]) -> Tensor:
        """The first ``batch`` images of the loaded batch at ``size`` (antialiased)."""
        x = loaded if batch is None else loaded[:max(1, int(batch))]
        if tuple(x.shape[-2:]) != size:
            x = F.interpolate(x, size=size, mode='bilinear', align_corners=False,
                              antialias=True)
        return x

    def _match(self, s: Tensor, t: Tensor) -> Tuple[Tensor, Tensor]:
        if s.shape[-2:] == t.shape[-2:]:
            return s, t
        if self.feature_match == 'teacher' or t.shape[-2] * t.shape[-1] > s.shape[-2] * s.shape[-1]:
            return F.interpolate(s, size=t.shape[-2:], mode='bilinear', align_corners=False), t
        return s, F.interpolate(t, size=s.shape[-2:], mode='bilinear', align_corners=False)

    # ----------------------------------------------------------------- MMEngine API
    def loss(self, inputs: Tensor, data_samples: Optional[List] = None) -> Dict[str, Tensor]:
        """Losses ``loss_summary_<teacher>`` and ``loss_spatial_<teacher>``.

        Each is multiplied by ``distill_weight``, the teacher's
        ``teacher_loss_weights`` entry and its ``summary_weight`` / ``feature_weight``.
        """
        loaded = inputs
        inputs = self._train_inputs(inputs)
        # Teachers distilled from their own student pass (student_input_size), grouped
        # by (size, batch) so that teachers sharing one share the pass.
        groups: Dict[tuple, List[str]] = OrderedDict()
        for name in self.teacher_names:
            opt = self.options[name]
            key = (None if opt['student_input_size'] is None
                   else (to_hw(opt['student_input_size'], 'student_input_size'), opt['student_batch']))
            groups.setdefault(key, []).append(name)
        # Every teacher's targets before any student pass: the teachers' activations are
        # freed before the student's (kept for backward) build up.
        pass_inputs = {key: inputs if key is None else self._student_pass_inputs(loaded, *key)
                       for key in groups}
        targets = {name: self.teacher_targets(name, pass_inputs[key])
                   for key, names in groups.items() for name in names}
        passes = {key: self.extract_feat(pass_inputs[key], names=names)
                  for key, names in groups.items()}
        losses = OrderedDict()
        for name in self.teacher_names:
            opt = self.options[name]
            key = next(k for k, v in groups.items() if name in v)
            weight = self.distill_weight * self.teacher_loss_weights.get(name, 1.0)
            tgt, pred = targets[name], passes[key]['adaptors'][name]
            if opt['summary']:
                losses[f'loss_summary_{name}'] = weight * opt['summary_weight'] * \
                    self.summary_loss(pred['summary'], tgt['summary'])
            if opt['features']:
                s, t = self._match(pred['features'], tgt['features'])
                losses[f'loss_spatial_{name}'] = weight * opt['feature_weight'] * \
                    self.distill_loss([s], [t])[0]
        return losses

    @torch.no_grad()
    def predict(self, inputs: Tensor, data_samples: Optional[List] = None) -> List:
        """Attach the student's and the adaptors' outputs to the data samples.

        Fields per sample: ``radio_summary`` (n, C), ``radio_features`` (C, h, w) and,
        per teacher, ``adaptor_summary_<name>`` (C_s,) and ``adaptor_features_<name>``
        (C_f, h', w'), both in the teacher's own space (PHI-S undone). With
        ``test_cfg.mode='slide'`` the maps are stitched from the windows and the
        summaries averaged over them.
        """
        def run(x: Tensor) -> dict:
            out = self.extract_feat(x, denormalize=True)
            return {k: out[k] for k in ('summary', 'features', 'adaptors')}

        out = self.inference(run, inputs)
        if data_samples is None:
            data_samples = [MultiTaskDataSample() for _ in range(inputs.shape[0])]
        for i, sample in enumerate(data_samples):
            sample.set_field(out['summary'][i], 'radio_summary')
            sample.set_field(out['features'][i], 'radio_features')
            for name, res in out['adaptors'].items():
                for kind, v in res.items():
                    sample.set_field(v[i], f'adaptor_{kind}_{name}')
        return data_samples

    def forward(self, inputs: Tensor, data_samples: Optional[List] = None,
                mode: str = 'tensor'):
        """MMEngine entry point: ``mode`` is ``'loss'``, ``'predict'`` or ``'tensor'``."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.extract_feat(inputs)
        raise ValueError(f"RADIODistiller: mode must be 'loss', 'predict' or 'tensor', "
                         f'got {mode!r}')
