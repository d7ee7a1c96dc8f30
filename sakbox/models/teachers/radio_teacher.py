"""A RADIO student (a converted release or one trained in sakbox) as a frozen teacher."""
import copy
import os.path as osp
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import DefaultScope
from torch import Tensor

from sakbox.registry import MODELS
from sakbox.utils.checkpoint import CheckpointMismatchError, read_checkpoint
from sakbox.utils.state_dict_fit import extract_state_dict, strip_wrapper_prefixes

from ..utils.out_indices import resolve_out_indices
from .base_teacher import DEFAULT_INPUT_NORM, IMAGENET_MEAN_255, IMAGENET_STD_255, BaseTeacher

#: Teacher type written for the teachers of a converted release (never built).
CONVERTED_TEACHER_TYPE = 'ConvertedRADIOTeacher'


def distiller_cfg_from_radio_meta(radio_config: dict) -> dict:
    """A ``RADIODistiller`` config (no teachers built) from ``meta['radio_config']``.

    ``tools/model_converters/radio_official_to_sakbox.py`` writes that meta: the
    ``RADIOViT`` arguments, per-teacher adaptor options with ``feature_channels``, the
    backbone summary slots and the input statistics.

    Args:
        radio_config (dict): The checkpoint's ``meta['radio_config']``.

    Returns:
        dict: A model config that builds the converted model exactly.
    """
    teachers = radio_config.get('teachers') or {}
    options = {n: {k: v for k, v in o.items() if k != 'feature_channels'}
               for n, o in teachers.items()}
    dims = {n: [int(o['feature_channels'])] for n, o in teachers.items()
            if 'feature_channels' in o}
    prep = {k: v for k, v in (radio_config.get('data_preprocessor') or {}).items()
            if v is not None}
    return dict(type='RADIODistiller', student=copy.deepcopy(radio_config['student']),
                teachers={n: dict(type=CONVERTED_TEACHER_TYPE) for n in teachers},
                teacher_options=options, teacher_dims=dims,
                backbone_summary_slots=radio_config.get('backbone_summary_slots'),
                data_preprocessor=dict(type='MultiTaskDataPreProcessor', **prep),
                build_teachers=False)


def _load_checkpoint(path: str) -> Tuple[dict, dict]:
    """``(state_dict, meta)`` of a sakbox checkpoint, read with ``weights_only=True``."""
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'RADIOTeacher: checkpoint {path} not found. Convert a release with '
            'tools/model_converters/radio_official_to_sakbox.py, or train one (e.g. '
            '`python tools/train.py '
            'configs/radio/radio_vit-tiny_1xb32-600it_synthetic-nyud-48x48.py`)')
    ckpt = read_checkpoint(path)  # unreadable files: one message naming the file
    state = strip_wrapper_prefixes(extract_state_dict(ckpt))
    return state, dict(ckpt.get('meta') or {})


@MODELS.register_module()
class RADIOTeacher(BaseTeacher):
    """Any RADIO student as a frozen teacher: a summary and 4 levels of (B, C, h, w).

    The model is the ``RADIODistiller`` of ``config`` (a sakbox-trained checkpoint's
    training config) or, for converted official releases, the one described by the
    checkpoint's ``meta['radio_config']``; the checkpoint's ``student.*`` weights are
    loaded strictly and only the student is kept (adaptors, PHI-S buffers and
    teachers are neither loaded nor kept; the saved summary slots are read). Inputs
    are re-normalised from the student's statistics to the ones the RADIO model was
    trained with (its data preprocessor's) and resized to ``img_size``, or to the
    nearest multiple of the patch size (the official ``get_nearest_supported_resolution``).

    Levels: ``RADIOViT`` block outputs at ``out_indices`` (un-normed, like the other ViT
    teachers), the last one replaced by the model's output ``features`` (final norm and
    the release's feature normaliser applied) when it is the final block and
    ``final_features``; ``ERADIO``: its four stage maps. Summary
    (:meth:`forward_with_summary`): the backbone summary, i.e. the summary tokens of
    ``summary_slots`` (default: the model's ``backbone_summary_slots``, the official
    ``summary_idxs``) concatenated.

    Args:
        checkpoint (str, optional): A sakbox ``RADIODistiller`` checkpoint (converted or
            trained). None builds random weights (weightless builds of the distillers,
            tests); then ``config`` is needed.
        config (str | dict, optional): A config file whose ``model`` is the
            ``RADIODistiller`` the checkpoint was trained with, or that model config
            itself. Needed for sakbox-trained checkpoints, whose meta carries no
            ``radio_config`` (a checkpoint's own config text is code and is never run).
        out_indices (Sequence[int], optional): ``RADIOViT`` blocks; None keeps the
            student's ``out_indices`` (4 evenly spaced blocks).
        img_size (int | tuple, optional): Resize every input to this size.
        final_features (bool): See above. Default True.
        with_summary (bool): Provide :meth:`forward_with_summary`. Default True.
        summary_slots (Sequence[int], optional): Summary tokens of the summary.
        pretrained (bool): Accepted for the teachers' interface; there are no hub
            weights (must be False).
        input_mean, input_std (Sequence[float]): Student normalisation, RGB 0-255.
        input_norm (str): ``'teacher'`` (default) re-normalises the student's input to
            the RADIO model's own statistics; ``'student'`` feeds it as it is (see
            :class:`BaseTeacher`).
        mean, std (Sequence[float], optional): The RADIO model's input statistics, RGB
            0-255; default: its data preprocessor's. Only with ``input_norm='teacher'``.
    """

    def __init__(self,
                 checkpoint: Optional[str] = None,
                 config: Optional[Union[str, dict]] = None,
                 out_indices: Optional[Sequence[int]] = None,
                 img_size: Optional[Union[int, Tuple[int, int]]] = None,
                 final_features: bool = True,
                 with_summary: bool = True,
                 summary_slots: Optional[Sequence[int]] = None,
                 pretrained: bool = False,
                 input_mean: Sequence[float] = IMAGENET_MEAN_255,
                 input_std: Sequence[float] = IMAGENET_STD_255,
                 input_norm: str = DEFAULT_INPUT_NORM,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None) -> None:
        super().__init__(input_mean=input_mean, input_std=input_std, input_norm=input_norm)
        if self.input_norm == 'student':
            if mean is not None or std is not None:
                raise ValueError("RADIOTeacher: input_norm='student' feeds the student's "
                                 "input as it is; mean/std would be ignored: drop them or set "
                                 "input_norm='teacher'")
            mean, std = self.input_mean, self.input_std
        if pretrained:
            raise ValueError('RADIOTeacher has no hub weights: give checkpoint=<file>')
        state, meta = _load_checkpoint(checkpoint) if checkpoint else ({}, {})
        model_cfg = self._model_cfg(config, meta, checkpoint)
        from sakbox.utils.eval_model_cfg import prepare_model_cfg_for_test
        model_cfg = prepare_model_cfg_for_test(model_cfg, has_checkpoint=True)
        model_cfg['build_teachers'] = False
        with DefaultScope.overwrite_default_scope('sakbox'):
            distiller = MODELS.build(model_cfg)
        if state:
            self._load_student(distiller, state, checkpoint, config)
        self.radio = distiller.student
        self.summary_slots = [int(i) for i in (summary_slots if summary_slots is not None
                                               else distiller.backbone_summary_slots)]
        if mean is None or std is None:
            # a CPU build: the statistics are needed even in weightless (meta) builds
            from .builder import DEFAULT_PREPROCESSOR
            prep_cfg = copy.deepcopy(model_cfg.get('data_preprocessor') or DEFAULT_PREPROCESSOR)
            with torch.device('cpu'), DefaultScope.overwrite_default_scope('sakbox'):
                prep = MODELS.build(prep_cfg)
            if not getattr(prep, '_enable_normalize', False):
                raise ValueError('RADIOTeacher: the RADIO model has no input normalisation '
                                 'in its data preprocessor; give mean and std')
            given = model_cfg.get('data_preprocessor') or {}
            mean = mean if mean is not None else given.get('mean') or prep.mean.flatten().tolist()
            std = std if std is not None else given.get('std') or prep.std.flatten().tolist()
        del distiller  # adaptors, PHI-S buffers: not part of the teacher
        self.is_vit = hasattr(self.radio, 'blocks') and hasattr(self.radio, 'patch_generator')
        if self.is_vit:
            if out_indices is not None:
                self.radio.out_indices = resolve_out_indices(out_indices, self.radio.depth)
                self.radio.level_channels = [self.radio.embed_dim] * len(self.radio.out_indices)
            self.patch_size = int(self.radio.patch_size)
            levels = list(self.radio.out_indices)
        else:
            if out_indices is not None:
                raise ValueError(f'RADIOTeacher: out_indices needs a RADIOViT student, this is '
                                 f'{type(self.radio).__name__} (its 4 stages are the levels)')
            self.patch_size = 32  # E-RADIO inputs are multiples of 32
            levels = list(range(len(self.radio.level_channels)))
        self.final_features = bool(final_features) and self.is_vit and \
            levels[-1] == self.radio.depth - 1
        self.with_summary = bool(with_summary)
        num = self.radio.num_cls_tokens
        if any(not 0 <= i < num for i in self.summary_slots):
            raise ValueError(f'RADIOTeacher: summary_slots {self.summary_slots} out of range '
                             f'for {num} summary tokens')
        self.img_size = None if img_size is None else (
            (int(img_size), int(img_size)) if isinstance(img_size, int) else tuple(img_size))
        self._init_teacher(mean, std, list(self.radio.level_channels), levels)

    @staticmethod
    def _load_student(distiller, state: dict, checkpoint: str, config) -> None:
        """Load ``student.*`` strictly (and the saved summary slots); nothing else."""
        sub = {k: v for k, v in state.items()
               if k.startswith('student.') or k.endswith('.summary_slot')}
        where = config if isinstance(config, str) else 'its config'
        if not any(k.startswith('student.') for k in sub):
            raise CheckpointMismatchError(
                f'RADIOTeacher: checkpoint {checkpoint} has no student.* weights (keys: '
                f'{sorted(state)[:5]}); it is not a RADIODistiller checkpoint')
        try:
            res = distiller.load_state_dict(sub, strict=False)
        except RuntimeError as e:  # shape mismatches
            raise CheckpointMismatchError(f'RADIOTeacher: checkpoint {checkpoint} does not fit '
                                          f'the RADIO model of {where}: {e}') from e
        missing = [k for k in res.missing_keys if k.startswith('student.')]
        if missing or res.unexpected_keys:
            raise CheckpointMismatchError(
                f'RADIOTeacher: checkpoint {checkpoint} does not fit the RADIO model of {where}:'
                f' missing {missing[:10]}, unexpected {res.unexpected_keys[:10]}')

    @staticmethod
    def _model_cfg(config, meta: dict, checkpoint: Optional[str]) -> dict:
        if isinstance(config, str):
            cfg = Config.fromfile(config)
            if 'model' not in cfg:
                raise KeyError(f'RADIOTeacher: config {config} has no `model`')
            model_cfg = copy.deepcopy(cfg.model.to_dict())
        elif isinstance(config, dict):
            model_cfg = copy.deepcopy(dict(config))
        elif 'radio_config' in meta:
            model_cfg = distiller_cfg_from_radio_meta(meta['radio_config'])
        else:
            where = f'checkpoint {checkpoint} has no meta["radio_config"] (it was not ' \
                    'written by radio_official_to_sakbox.py)' if checkpoint else \
                'no checkpoint was given'
            raise ValueError(f'RADIOTeacher: {where}; pass config=<the RADIO config it was '
                             'trained with>')
        if model_cfg.get('type') != 'RADIODistiller':
            raise TypeError(f'RADIOTeacher: the model of {config!r} is a '
                            f'{model_cfg.get("type")}, not a RADIODistiller')
        return model_cfg

    @property
    def summary_dim(self) -> Optional[int]:
        """Width of the backbone summary (None without ``with_summary``)."""
        return len(self.summary_slots) * self.radio.embed_dim if self.with_summary else None

    def preprocess(self, x: Tensor) -> Tensor:
        """Resize to ``img_size`` or to the nearest multiple of the patch size."""
        if self.img_size is not None:
            size = self.img_size
        else:
            p = self.patch_size
            size = tuple(max(p, round(s / p) * p) for s in x.shape[-2:])
        if tuple(x.shape[-2:]) != tuple(size):
            x = F.interpolate(x, size=size, mode='bilinear', align_corners=False,
                              antialias=True)
        return x

    def _run(self, x: Tensor) -> Tuple[List[Tensor], Tensor]:
        out = self.radio(x)
        levels = list(out['levels'])
        if self.final_features:
            levels[-1] = out['features']
        summary = out['summary'][:, self.summary_slots].flatten(1)
        return [f.contiguous() for f in levels], summary

    def extract_features(self, x: Tensor) -> List[Tensor]:
        """The levels (B, C_l, h_l, w_l) of the RADIO model."""
        return self._run(x)[0]

    @torch.no_grad()
    def forward_with_summary(self, inputs: Tensor) -> Tuple[List[Tensor], Tensor]:
        """Feature levels and the backbone summary, in one pass.

        Args:
            inputs (Tensor): (B, 3, H, W) normalised by the student's preprocessor.

        Returns:
            tuple: ``num_levels`` maps (B, C_l, h_l, w_l) and the summary
            (B, len(summary_slots) * C).
        """
        if not self.with_summary:
            raise RuntimeError('RADIOTeacher was built with with_summary=False')
        return self._run(self.network_input(inputs))
