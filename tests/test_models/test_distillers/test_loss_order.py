"""Every distiller's loss runs its teachers before the student (the official order).

Teacher activations are then freed before the student's, which are kept for
backward, build up: the step's peak memory is the larger of the two, not their sum.
"""
import pytest
import torch

from sakbox.registry import MODELS

from .stubs import distiller_cfg, make_batch, stage1_cfg
from .test_slide_predict import radio_cfg

BUILDERS = dict(multi_task=lambda: distiller_cfg(teacher_precision='fp32'),
                multi_teacher=lambda: stage1_cfg(teacher_precision='fp32'),
                radio=radio_cfg)


@pytest.mark.parametrize('kind', list(BUILDERS))
def test_teachers_run_before_the_student(kind):
    torch.manual_seed(0)
    model = MODELS.build(BUILDERS[kind]()).train()
    calls = []
    for name, teacher in model.teachers.items():
        teacher.register_forward_hook(lambda *a, n=name: calls.append(f'teacher.{n}'))
    model.student.register_forward_hook(lambda *a: calls.append('student'))
    inputs, samples = make_batch()
    losses = model.loss(inputs, samples)
    assert all(torch.isfinite(v) for v in losses.values())
    teachers = [c for c in calls if c.startswith('teacher.')]
    assert sorted(teachers) == sorted(f'teacher.{n}' for n in model.teacher_names)
    assert calls.index('student') > max(calls.index(t) for t in teachers), calls
