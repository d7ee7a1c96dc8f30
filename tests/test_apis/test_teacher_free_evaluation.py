"""Evaluation never runs the teachers: tools/test.py, init_model, validation in training."""
import copy
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from sakbox.apis import builds_teachers_for_test, init_model, prepare_model_cfg_for_test
from sakbox.apis.runner import build_test_cfg
from sakbox.datasets.synthetic import generate_synthetic_dataset
from sakbox.registry import MODELS
from sakbox.structures import MultiTaskDataSample
from sakbox.utils import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'sak', 'sak_vit-tiny_1xb4-600it_synthetic-nyud-96x128.py')
SIZE = (96, 128)


class WatchedTeacher(nn.Module):
    """Stands in for a teacher: counts its calls and, with ``fail``, raises on each."""

    def __init__(self, inner: nn.Module, fail: bool = False) -> None:
        super().__init__()
        self.inner = inner
        self.fail = fail
        self.calls = 0
        self.embed_dims = inner.embed_dims

    def forward(self, x):  # noqa: D102
        self.calls += 1
        if self.fail:
            raise AssertionError('a teacher ran during evaluation')
        return self.inner(x)


def watch_teachers(model: nn.Module, fail: bool) -> dict:
    """Replace every teacher of ``model`` by a :class:`WatchedTeacher`."""
    watched = {}
    for name in list(model.teachers):
        watched[name] = WatchedTeacher(model.teachers[name], fail)
        model.teachers[name] = watched[name]
    return watched


def build_training_model():
    """The tiny SAK model as training builds it (teachers loaded)."""
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(CONFIG)
    with DefaultScope.overwrite_default_scope('sakbox'):
        model = MODELS.build(cfg.model)
    assert model.teachers is not None
    return model


def make_batch(n: int = 2) -> dict:
    """A packed, collated batch with ground truth (as the dataloaders yield)."""
    g = torch.Generator().manual_seed(0)
    items = []
    for i in range(n):
        sample = MultiTaskDataSample(metainfo=dict(img_shape=SIZE, ori_shape=SIZE,
                                                   img_id=str(i)))
        sample.set_gt('semseg', torch.randint(0, 40, (1, *SIZE), generator=g))
        sample.set_gt('depth', torch.rand(1, *SIZE, generator=g) + 0.5)
        sample.set_gt('normals', torch.nn.functional.normalize(torch.randn(3, *SIZE,
                                                                           generator=g), dim=0))
        sample.set_gt('edge', torch.randint(0, 2, (1, *SIZE), generator=g))
        items.append(dict(inputs=torch.randint(0, 255, (3, *SIZE), dtype=torch.uint8,
                                               generator=g),
                          data_samples=sample))
    return pseudo_collate(items)


def test_val_and_test_step_of_a_training_model_run_no_teacher():
    model = build_training_model().eval()
    watched = watch_teachers(model, fail=True)
    for step in (model.val_step, model.test_step):
        out = step(make_batch())
        assert len(out) == 2
        assert out[0].pred_semseg.shape == SIZE and out[0].pred_depth.shape == SIZE
    assert all(t.calls == 0 for t in watched.values())


def test_training_step_does_run_the_teachers():
    # The counterpart of the test above: the watcher sees the teachers when they do run.
    model = build_training_model().train()
    watched = watch_teachers(model, fail=False)
    data = model.data_preprocessor(make_batch(), True)
    losses = model(**data, mode='loss')
    assert any(k.startswith('loss_distill_') for k in losses)
    assert all(t.calls == 1 for t in watched.values())


def test_init_model_and_test_tool_build_no_teachers(tmp_path):
    assert init_model(CONFIG).teachers is None
    ckpt = tmp_path / 'model.pth'
    ckpt.write_bytes(b'')
    cfg = build_test_cfg(CONFIG, str(ckpt), work_dir=str(tmp_path))
    assert cfg.model.build_teachers is False
    assert cfg.model.student.pretrained is False


def test_validation_during_training_runs_no_teacher(tmp_path):
    data_root = str(tmp_path / 'data')
    generate_synthetic_dataset('nyud', data_root, num_train=4, num_val=2, size=SIZE, seed=0)
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = str(tmp_path / 'work')
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = data_root
        cfg[key].update(batch_size=2, num_workers=0, persistent_workers=False)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=2)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=-1)
    cfg.custom_hooks = []
    cfg.log_level = 'WARNING'
    runner = Runner.from_cfg(cfg)
    watched = watch_teachers(runner.model, fail=False)
    runner.train()
    assert 'val/semseg/mIoU' in runner.message_hub.log_scalars  # the validation ran ...
    # ... and the teachers ran once per training iteration only.
    assert all(t.calls == 2 for t in watched.values()), \
        {n: t.calls for n, t in watched.items()}


class _DistillMetricModel(nn.Module):
    """A model whose predictions need the teachers (its own default says so)."""

    def __init__(self, teachers=None, build_teachers=True, build_teachers_for_test=True):
        super().__init__()


def test_build_teachers_for_test_comes_from_the_config_then_the_class():
    MODELS.register_module(name='_DistillMetricModel', module=_DistillMetricModel, force=True)
    cfg = dict(type='_DistillMetricModel', teachers=dict(a=dict()), build_teachers=True)
    assert builds_teachers_for_test(cfg) is True
    assert prepare_model_cfg_for_test(copy.deepcopy(cfg))['build_teachers'] is True
    cfg['build_teachers_for_test'] = False
    assert prepare_model_cfg_for_test(cfg)['build_teachers'] is False
    for model_type in ('MultiTaskDistiller', 'RADIODistiller', 'NotARegisteredModel'):
        assert builds_teachers_for_test(dict(type=model_type)) is False
    # Stage 1's predictions are its distillation metric (distill_cos): it needs them.
    assert builds_teachers_for_test(dict(type='MultiTeacherDistiller')) is True


@pytest.mark.parametrize('model_type', ['MultiTaskDistiller', 'RADIODistiller'])
def test_class_default_of_the_distillers_is_teacher_free(model_type):
    assert builds_teachers_for_test(dict(type=model_type, teachers=dict())) is False
