"""Every SAK config parses and builds (pretrained off); tiny ones train a step."""
import copy
import os.path as osp
from unittest import mock

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from sakbox.apis import prepare_model_cfg_for_test
from sakbox.registry import MODELS
from sakbox.utils import apply_mmcv_ops_shim, register_all_modules
from tests.fixtures.config_names import full_configs

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# The RADIO-teacher config needs a trained RADIO checkpoint: test_sak_radio_teacher_config.py.
# The public aliases resolve to one of these (test_config_names.py), so they are skipped.
SAK_CONFIGS = [c for c in full_configs('configs/sak')
               if 'radio-teacher' not in c] + [osp.join(ROOT, 'configs', 'sak_nyud.py')]
# Stage-2 tiny configs; the stage-1 ones are covered by test_sak_stage1_cached_configs.py.
TINY = [c for c in SAK_CONFIGS if 'tiny' in c and 'stage1' not in c]


def no_pretrained(model_cfg):
    """Switch off hub weights for the student and every teacher."""
    model_cfg = copy.deepcopy(model_cfg)
    model_cfg.student.pretrained = False
    for t in (model_cfg.get('teachers') or {}).values():
        t.pretrained = False
    return model_cfg


def build(model_cfg, meta=False):
    """Build the model; ``meta=True`` allocates nothing (shapes and wiring only)."""
    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope('sakbox'):
        if not meta:
            return MODELS.build(model_cfg)
        # Random init on the meta device runs through slow Python decompositions and
        # is meaningless there: skip timm's truncated-normal init.
        import timm.layers.weight_init as wi
        with mock.patch.object(wi, '_trunc_normal_', lambda t, *a, **k: t), \
                torch.device('meta'):
            return MODELS.build(model_cfg)


@pytest.mark.parametrize('path', SAK_CONFIGS, ids=osp.basename)
def test_config_parses_with_expected_recipe(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'sakbox'
    assert list(cfg.model.teachers) == ['dinov2', 'clip', 'sam']
    if 'stage1' in path:
        assert cfg.model.type == 'MultiTeacherDistiller'
        assert cfg.train_dataloader.batch_size == 16 and cfg.train_cfg.max_epochs == 30
        assert cfg.optim_wrapper.optimizer.lr == 1e-3
        return
    assert cfg.model.type == 'MultiTaskDistiller'
    assert set(cfg.model.task_losses) == set(cfg.model.tasks) == set(cfg.model.task_channels)
    assert cfg.model.distill_weight == 1.0
    if 'tiny' not in path:
        assert cfg.optim_wrapper.optimizer.type == 'AdamW'
        assert cfg.optim_wrapper.optimizer.lr == 2e-5
        assert cfg.optim_wrapper.optimizer.weight_decay == 1e-6
        assert cfg.optim_wrapper.clip_grad.max_norm == 10
        assert cfg.param_scheduler[0].type == 'PolyLR' and cfg.param_scheduler[0].power == 0.9
        assert cfg.train_cfg.max_iters == 40000
        weights = {t: c.loss_weight for t, c in cfg.model.task_losses.items()}
        if 'nyud' in path:
            assert weights == dict(semseg=1, depth=1, normals=10, edge=50)
            assert cfg.model.student.img_size == (448, 576)
        else:
            assert weights == dict(semseg=1, human_parts=2, sal=5, normals=10, edge=50)
            assert cfg.model.student.img_size == (512, 512)


@pytest.mark.parametrize('path', SAK_CONFIGS, ids=osp.basename)
def test_every_teacher_receives_the_student_input(path):
    """The official code feeds every teacher the student's normalised batch as it is."""
    cfg = Config.fromfile(path)
    teacher_sets = {'model.teachers': cfg.model.teachers}
    dataset = (cfg.get('train_dataloader') or {}).get('dataset') or {}
    if dataset.get('type') == 'TeacherFeatureCacheDataset':
        teacher_sets['train_dataloader.dataset.teachers'] = dataset.teachers
    for where, teachers in teacher_sets.items():
        for name, teacher in teachers.items():
            assert teacher.get('input_norm') == 'student', f'{where}.{name}.input_norm'


def test_teacher_norm_variant_is_the_demo_with_only_input_norm_changed():
    demo = Config.fromfile(osp.join(ROOT, 'configs', 'sak',
                                    'sak_vit-tiny_1xb4-600it_synthetic-nyud-96x128.py'))
    variant = Config.fromfile(osp.join(
        ROOT, 'tests', 'fixtures', 'configs',
        'sak_vit-tiny-teacher-norm_1xb4-600it_synthetic-nyud-96x128.py'))
    assert {n: t.input_norm for n, t in variant.model.teachers.items()} == dict(
        dinov2='teacher', clip='teacher', sam='teacher')
    for teacher in variant.model.teachers.values():
        teacher.input_norm = 'student'
    assert variant.to_dict() == demo.to_dict()


@pytest.mark.parametrize('path', [c for c in SAK_CONFIGS if 'tiny' not in c], ids=osp.basename)
def test_full_size_configs_build_on_meta(path):
    cfg = Config.fromfile(path)
    apply_mmcv_ops_shim(cfg)  # as the tools do: the mmseg-head configs opt in
    model = build(no_pretrained(cfg.model), meta=True)
    width = 1024 if 'vit-l' in path else 768
    assert model.teacher_dims == {t: [width] * 4 for t in ('dinov2', 'clip', 'sam')}
    if model.teachers is not None:  # cached configs build none
        assert {t.input_norm for t in model.teachers.values()} == {'student'}
    assert model.student.embed_dim == width
    if cfg.model.type == 'MultiTaskDistiller':
        for task, head in model.decode_heads.items():
            assert head.num_classes == cfg.model.task_channels[task]
            # mmseg heads that select several levels (in_index) take one width per level
            in_channels = head.in_channels
            assert in_channels == ([width] * len(in_channels)
                                   if isinstance(in_channels, list) else width)
    if osp.basename(path) in ('sak_nyud.py', 'sak_vit-l_8xb1-40k_pascal-context-512x512.py'):
        # test-time build: no teachers, their dims found without building them for real
        test_model = build(prepare_model_cfg_for_test(no_pretrained(cfg.model)), meta=True)
        assert test_model.teachers is None and test_model.teacher_dims == model.teacher_dims


@pytest.mark.parametrize('path', TINY, ids=osp.basename)
def test_tiny_configs_train_step(path):
    cfg = Config.fromfile(path)
    apply_mmcv_ops_shim(cfg)
    model = build(cfg.model)
    g = torch.Generator().manual_seed(0)
    from sakbox.structures import MultiTaskDataSample
    samples = []
    for _ in range(2):
        s = MultiTaskDataSample(metainfo=dict(img_shape=(96, 128), ori_shape=(96, 128)))
        for t in cfg.model.tasks:
            c = cfg.model.task_channels[t]
            if t == 'normals':
                s.set_gt(t, torch.nn.functional.normalize(torch.randn(3, 96, 128, generator=g), dim=0))
            elif t == 'depth':
                s.set_gt(t, torch.rand(1, 96, 128, generator=g) + 1)
            else:
                s.set_gt(t, torch.randint(0, max(c, 2), (1, 96, 128), generator=g))
        samples.append(s)
    data = dict(inputs=[torch.randint(0, 255, (3, 96, 128), dtype=torch.uint8) for _ in range(2)],
                data_samples=samples)
    from mmengine.optim import OptimWrapper
    optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-4))
    model.train()
    log = model.train_step(data, optim)
    assert {f'loss_{t}' for t in cfg.model.tasks} <= set(log)
    assert sum(k.startswith('loss_distill_') for k in log) == 12  # 3 teachers x 4 levels
    assert all(torch.isfinite(v) for v in log.values())
    model.eval()
    out = model.test_step(data)
    for t in cfg.model.tasks:
        assert out[0].get_pred(t).shape[-2:] == (96, 128)


@pytest.mark.slow
def test_sak_nyud_forward_backward_full_size():
    """configs/sak_nyud.py at 448x576, 2 images, on the CPU (no pretrained weights)."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'sak_nyud.py'))
    model = build(no_pretrained(cfg.model))
    model.train()
    g = torch.Generator().manual_seed(0)
    from sakbox.structures import MultiTaskDataSample
    samples = []
    for _ in range(2):
        s = MultiTaskDataSample(metainfo=dict(img_shape=(448, 576), ori_shape=(448, 576)))
        s.set_gt('semseg', torch.randint(0, 40, (1, 448, 576), generator=g))
        s.set_gt('depth', torch.rand(1, 448, 576, generator=g) + 0.5)
        s.set_gt('normals', torch.nn.functional.normalize(torch.randn(3, 448, 576, generator=g),
                                                          dim=0))
        s.set_gt('edge', torch.randint(0, 2, (1, 448, 576), generator=g))
        samples.append(s)
    data = model.data_preprocessor(
        dict(inputs=[torch.randint(0, 255, (3, 448, 576), dtype=torch.uint8) for _ in range(2)],
             data_samples=samples), training=True)
    losses = model(**data, mode='loss')
    assert len([k for k in losses if k.startswith('loss_distill_')]) == 12
    total, _ = model.parse_losses(losses)
    total.backward()
    assert model.decode_heads['semseg'].last_conv.weight.grad is not None
    assert model.student.vit.blocks[0].attn.qkv.weight.grad is not None
    assert all(p.grad is None for p in model.teachers.parameters())
