"""Stage 1 of SAK: distil several teachers into the stem + adapter paths."""
from collections import OrderedDict
from typing import Dict, List, Optional, Union

import torch
from torch import Tensor

from sakbox.registry import MODELS
from sakbox.structures import MultiTaskDataSample

from ..losses import feature_cosine_similarity
from .base_distiller import BaseDistiller, ConfigType
from .teacher_targets import stack_cached_teacher_feats


@MODELS.register_module()
class MultiTeacherDistiller(BaseDistiller):
    """SAK stage 1: feature distillation only (student built with ``tasks=None``).

    ``loss``: ``loss_distill_<teacher>_l<level>`` (weighted by alpha and the
    teacher's weight). ``predict``: the samples get a ``distill_cos`` field,
    ``{'<teacher>/l<level>': mean per-token cosine similarity}`` with the
    teachers (needs built teachers). ``tensor``: the student's
    per-teacher features ``{teacher: [(B, C_t, h, w), ...]}``.

    With ``test_cfg=dict(mode='slide', ...)`` ``predict`` slides windows over
    the input: the student and the (online) teachers both run on every window,
    their feature maps are stitched, then compared as in whole mode. Cached
    teacher features (``teacher_feats`` in the samples) describe the whole
    input and are used as they are.

    Args:
        student (dict): Stem config; ``teacher_dims`` is filled in and
            ``tasks`` set to None.
        teachers (Dict[str, dict]): Teacher configs by name.
        distill_loss (dict): Per-level distillation loss config.
        distill_weight (float): alpha. Default: 1.0.
        teacher_loss_weights (Dict[str, float], optional): Per-teacher weights.
        data_preprocessor (dict | nn.Module, optional): Data preprocessor.
        build_teachers (bool): Build the teachers. Default: True.
        build_teachers_for_test (bool): What ``init_model`` / ``tools/test.py``
            use for ``build_teachers``. Default: True, because the predictions
            of this model are a distillation metric (``distill_cos``).
        save_teachers (bool): Keep teacher weights in checkpoints. Default: False.
        teacher_dims (dict, optional): Teacher widths when not built.
        teacher_init_seed (int, optional): Seed for random teachers.
        teacher_precision (str): ``'auto'`` (bf16 where supported), ``'bf16'``,
            ``'fp16'`` or ``'fp32'``: see :class:`BaseDistiller`.
        test_cfg (dict, optional): ``dict(mode='whole')`` (default) or
            ``dict(mode='slide', crop_size=(h, w), stride=(sh, sw))``: see
            :class:`BaseDistiller`. ``tensor`` mode is always whole.
        init_cfg (dict | list, optional): MMEngine init config.
    """

    def __init__(self,
                 student: dict,
                 teachers: Dict[str, dict],
                 distill_loss: dict = dict(type='FeatureDistillLoss'),
                 distill_weight: float = 1.0,
                 teacher_loss_weights: Optional[Dict[str, float]] = None,
                 data_preprocessor: Optional[ConfigType] = None,
                 build_teachers: bool = True,
                 build_teachers_for_test: bool = True,
                 save_teachers: bool = False,
                 teacher_dims: Optional[dict] = None,
                 teacher_init_seed: Optional[int] = None,
                 teacher_precision: str = 'auto',
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        if not teachers:
            raise ValueError('MultiTeacherDistiller needs at least one teacher')
        super().__init__(student=student, teachers=teachers, distill_loss=distill_loss,
                         distill_weight=distill_weight,
                         teacher_loss_weights=teacher_loss_weights,
                         data_preprocessor=data_preprocessor, build_teachers=build_teachers,
                         save_teachers=save_teachers, teacher_dims=teacher_dims,
                         teacher_init_seed=teacher_init_seed,
                         teacher_precision=teacher_precision, test_cfg=test_cfg,
                         init_cfg=init_cfg)
        self.build_teachers_for_test = build_teachers_for_test
        self.student = self.build_student(student, tasks=None)

    def forward(self, inputs: Tensor, data_samples: Optional[List] = None,
                mode: str = 'tensor'):
        """Dispatch to :meth:`loss`, :meth:`predict` or :meth:`extract_feat`."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.extract_feat(inputs)
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")

    def extract_feat(self, inputs: Tensor) -> Dict[str, List[Tensor]]:
        """Student features per teacher.

        Args:
            inputs (Tensor): (B, 3, H, W).

        Returns:
            Dict[str, List[Tensor]]: ``{teacher: [(B, C_t, h, w)] * levels}``.
        """
        return self.student(inputs)['distill']

    def loss(self, inputs: Tensor, data_samples: Optional[List] = None) -> Dict[str, Tensor]:
        """Distillation losses ``loss_distill_<teacher>_l<level>``.

        The teachers run before the student, so that their activations are freed
        before the student's (kept for backward) build up.
        """
        teacher_feats = self.get_teacher_feats(inputs, data_samples)
        return self.distill_losses(self.extract_feat(inputs), teacher_feats)

    @torch.no_grad()
    def predict(self, inputs: Tensor, data_samples: Optional[List] = None) -> List:
        """Per-sample cosine similarity to every teacher level.

        Teacher features come from the samples' cache where every sample has one
        (as :meth:`get_teacher_feats`), else from the teachers, run (like the
        student) on the whole input or on each window (``test_cfg``).

        Args:
            inputs (Tensor): (B, 3, H, W).
            data_samples (List, optional): Samples; created when None.

        Returns:
            List[MultiTaskDataSample]: Samples with a ``distill_cos`` dict field.
        """
        cached = stack_cached_teacher_feats(data_samples, inputs.shape[0], self.teacher_dims,
                                            inputs.device)
        online = [n for n in self.teacher_names if n not in cached]
        out = self.inference(
            lambda x: dict(student=self.extract_feat(x),
                           teachers=self.forward_teachers(x, online) if online else {}),
            inputs)
        student = out['student']
        teacher = OrderedDict((n, cached[n] if n in cached else out['teachers'][n])
                              for n in self.teacher_names)
        if data_samples is None:
            data_samples = [MultiTaskDataSample() for _ in range(inputs.shape[0])]
        sims = OrderedDict()
        for name in self.teacher_names:
            for lvl, (s, t) in enumerate(zip(student[name], teacher[name])):
                sims[f'{name}/l{lvl}'] = feature_cosine_similarity(s, t)
        for i, sample in enumerate(data_samples):
            sample.set_field({k: float(v[i]) for k, v in sims.items()}, 'distill_cos')
        return data_samples
