"""MultiTaskDistiller on stand-in stem/teachers: losses, gradients, predict, checkpoints."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.runner import load_checkpoint, save_checkpoint

from sakbox.models.losses import FeatureDistillLoss
from sakbox.models.utils import stack_task_gt
from sakbox.registry import MODELS

from .stubs import distiller_cfg, make_batch

ALL_NYUD = ('semseg', 'depth', 'normals', 'edge')
ALL_PASCAL = ('semseg', 'human_parts', 'normals', 'edge', 'sal')


@pytest.mark.parametrize('tasks', [ALL_NYUD, ALL_PASCAL, ('depth',)])
def test_loss_keys_values_and_backward(tasks):
    model = MODELS.build(distiller_cfg(tasks, distill_weight=0.5))
    model.train()
    inputs, samples = make_batch(tasks=tasks)
    losses = model(inputs, samples, mode='loss')
    expected = {f'loss_{t}' for t in tasks}
    expected |= {f'loss_distill_{n}_l{i}' for n in ('t1', 't2') for i in range(2)}
    assert set(losses) == expected
    # task losses equal the configured loss (with its weight) on upsampled logits
    logits = model(inputs, mode='tensor')
    for t in tasks:
        gt = stack_task_gt(samples, t, inputs.shape[-2:])
        ref = model.task_losses[t](logits[t], gt)
        assert torch.allclose(losses[f'loss_{t}'], ref, atol=1e-5)
    # distillation: alpha * per-level loss vs the teacher maps
    out = model.student(inputs)
    t_feats = model.forward_teachers(inputs)
    for n in ('t1', 't2'):
        for i, ref in enumerate(FeatureDistillLoss()(out['distill'][n], t_feats[n])):
            assert torch.allclose(losses[f'loss_distill_{n}_l{i}'], 0.5 * ref, atol=1e-6)
    total, _ = model.parse_losses(losses)
    total.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
    assert any(p.grad.abs().sum() > 0 for p in model.decode_heads.parameters())
    assert any(p.grad.abs().sum() > 0 for p in model.student.routers.parameters())
    for p in model.teachers.parameters():
        assert not p.requires_grad and p.grad is None


def test_teachers_frozen_outside_modules_and_eval():
    model = MODELS.build(distiller_cfg())
    model.train()
    assert all(not t.training for t in model.teachers.values())
    names = [n for n, _ in model.named_parameters()]
    assert not any(n.startswith('teachers') for n in names)
    assert not any(k.startswith('teachers') for k in model.state_dict())
    assert 'teachers' not in dict(model.named_children())
    # the student got the teachers' dims and the tasks; heads got the classes
    assert model.teacher_dims == {'t1': [8, 8], 't2': [8, 8]}
    assert model.student.tasks == list(ALL_NYUD)
    assert model.decode_heads['semseg'].num_classes == 3
    assert model.expert_names == ['stem', 't1', 't2']
    # teachers receive the student's normalisation when the preprocessor has it
    cfg = distiller_cfg(data_preprocessor=dict(type='mmengine.ImgDataPreprocessor',
                                               mean=[1, 2, 3], std=[4, 5, 6]))
    assert MODELS.build(cfg).teachers['t1'].input_mean == [1, 2, 3]


def test_seeded_teachers_identical_across_builds():
    a = MODELS.build(distiller_cfg())
    torch.manual_seed(123)  # the global RNG must not matter
    b = MODELS.build(distiller_cfg())
    for (ka, va), (kb, vb) in zip(a.teachers.state_dict().items(),
                                  b.teachers.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)
    # different teachers get different seeds
    assert not torch.equal(a.teachers['t1'].convs[0].weight, a.teachers['t2'].convs[0].weight)


@pytest.mark.parametrize('img_shape,ori_shape', [((32, 48), (32, 48)), ((28, 40), (28, 40)),
                                                 ((28, 40), (50, 70))])
def test_predict_shapes_dtypes(img_shape, ori_shape):
    model = MODELS.build(distiller_cfg(ALL_PASCAL + ('depth',), build_teachers=False)).eval()
    inputs, samples = make_batch(tasks=ALL_PASCAL, img_shape=img_shape, ori_shape=ori_shape)
    out = model(inputs, samples, mode='predict')
    h, w = ori_shape
    expect = dict(semseg=((1, h, w), torch.int64), human_parts=((1, h, w), torch.int64),
                  depth=((1, h, w), torch.float32), normals=((3, h, w), torch.float32),
                  edge=((1, h, w), torch.float32), sal=((1, h, w), torch.float32))
    for s in out:
        assert 'gt_semseg' in s  # ground truth kept
        for task, (shape, dtype) in expect.items():
            pred = s.get_pred(task).data
            assert tuple(pred.shape) == shape and pred.dtype == dtype, task
        assert torch.allclose(s.pred_normals.data.norm(dim=0), torch.ones(h, w), atol=1e-4)
        assert 0 <= s.pred_edge.data.min() and s.pred_edge.data.max() <= 1
        assert (s.pred_depth.data >= 0).all()
        assert s.pred_semseg.data.max() < 3


def test_predict_crops_padding_before_resizing():
    model = MODELS.build(distiller_cfg(('semseg',), build_teachers=False)).eval()
    inputs, samples = make_batch(tasks=('semseg',), img_shape=(20, 30))
    logits = model(inputs, mode='tensor')['semseg']
    out = model(inputs, samples, mode='predict')
    assert torch.equal(out[0].pred_semseg.data[0], logits[0, :, :20, :30].argmax(0))
    # without data samples: predictions at the input size
    out = model(inputs, mode='predict')
    assert out[0].pred_semseg.shape == (32, 48)


def test_predict_crops_at_pad_offset():
    model = MODELS.build(distiller_cfg(('semseg', 'depth'), build_teachers=False)).eval()
    inputs, samples = make_batch(tasks=('semseg',), img_shape=(20, 30), ori_shape=(20, 30))
    samples[0].set_metainfo(dict(pad_offset=(6, 9)))
    samples[1].set_metainfo(dict(pad_offset=(12, 18), ori_shape=(40, 60)))
    logits = model(inputs, mode='tensor')
    out = model(inputs, samples, mode='predict')
    assert torch.equal(out[0].pred_semseg.data[0], logits['semseg'][0, :, 6:26, 9:39].argmax(0))
    ref = F.interpolate(logits['depth'][1:, :, 12:32, 18:48], size=(40, 60), mode='bilinear',
                        align_corners=False).clamp(min=0)[0]
    torch.testing.assert_close(out[1].pred_depth.data, ref)
    samples[0].set_metainfo(dict(pad_offset=(13, 0)))  # 13 + 20 > 32
    with pytest.raises(ValueError, match="'stub.png'.*does not fit in the 32x48 input"):
        model(inputs, samples, mode='predict')


class PointwiseLogits:
    """A per-pixel model (1x1 conv): its output on a crop is the crop of its output.

    A plain callable, not an ``nn.Module``: assigned to ``model._forward`` it must
    shadow the method (a module would be registered as a child instead).
    """

    def __init__(self, channels):
        g = torch.Generator().manual_seed(0)
        self.weights = {t: torch.randn(c, 3, 1, 1, generator=g) for t, c in channels.items()}

    def __call__(self, inputs, data_samples=None):
        return {t: F.conv2d(inputs, w) + 0.5 for t, w in self.weights.items()}


@pytest.mark.parametrize('position', ['center', 'bottom_right'])
def test_crop_back_equals_running_on_the_unpadded_image(position):
    """Preprocessor padding + predict crop-back give the predictions of the image alone."""
    from mmengine.dataset import pseudo_collate

    from sakbox.models.data_preprocessors import MultiTaskDataPreProcessor
    from sakbox.structures import MultiTaskDataSample

    tasks = ('semseg', 'depth', 'normals', 'edge')
    model = MODELS.build(distiller_cfg(tasks, build_teachers=False)).eval()
    model._forward = PointwiseLogits(model.task_channels)
    assert isinstance(model._forward, PointwiseLogits)
    pre = MultiTaskDataPreProcessor(size=(32, 40), pad_position=position)
    g = torch.Generator().manual_seed(1)
    items = [dict(inputs=torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=g),
                  data_samples=MultiTaskDataSample(metainfo=dict(img_shape=(h, w),
                                                                 ori_shape=(h, w))))
             for h, w in [(27, 35), (32, 40), (21, 33)]]
    data = pre(pseudo_collate(items))
    out = model(**data, mode='predict')
    for item, sample in zip(items, out):
        # the same model on the image alone, normalised and not padded
        alone = MultiTaskDataPreProcessor()(pseudo_collate([dict(inputs=item['inputs'])]))
        ref = model._forward(alone['inputs'])
        h, w = item['inputs'].shape[-2:]
        assert sample.pred_semseg.shape == (h, w)
        assert torch.equal(sample.pred_semseg.data[0], ref['semseg'][0].argmax(0))
        torch.testing.assert_close(sample.pred_depth.data, ref['depth'][0].clamp(min=0))
        torch.testing.assert_close(sample.pred_normals.data, F.normalize(ref['normals'][0], dim=0))
        torch.testing.assert_close(sample.pred_edge.data, ref['edge'][0].sigmoid())


def test_router_weights_recorded():
    model = MODELS.build(distiller_cfg(('semseg', 'depth'), build_teachers=False)).eval()
    inputs, _ = make_batch()
    model(inputs, mode='tensor')
    rw = model.last_router_weights
    assert set(rw) == {'semseg.level0', 'semseg.level1', 'depth.level0', 'depth.level1'}
    for w in rw.values():
        assert w.shape == (2, 3) and not w.requires_grad
        assert torch.allclose(w.sum(-1), torch.ones(2))


def test_checkpoint_without_teachers_round_trip(tmp_path):
    train_model = MODELS.build(distiller_cfg())
    path = str(tmp_path / 'ckpt.pth')
    save_checkpoint(train_model.state_dict(), path)
    sd = torch.load(path, weights_only=True)
    sd = sd.get('state_dict', sd)
    assert not any(k.startswith('teachers') for k in sd)
    # test-time model, no teachers built: dims probed on the meta device
    test_model = MODELS.build(distiller_cfg(build_teachers=False))
    assert test_model.teachers is None and test_model.teacher_dims == train_model.teacher_dims
    load_checkpoint(test_model, path, strict=True)
    inputs, _ = make_batch()
    train_model.eval(), test_model.eval()
    a, b = train_model(inputs, mode='tensor'), test_model(inputs, mode='tensor')
    for t in a:
        assert torch.allclose(a[t], b[t])
    # a checkpoint saved without teachers loads strictly into a model with teachers
    other = MODELS.build(distiller_cfg())
    load_checkpoint(other, path, strict=True)
    assert torch.equal(other.teachers['t1'].convs[0].weight,
                       train_model.teachers['t1'].convs[0].weight)


def test_save_teachers_option(tmp_path):
    model = MODELS.build(distiller_cfg(save_teachers=True, teacher_init_seed=3))
    sd = model.state_dict()
    assert 'teachers.t1.convs.0.weight' in sd
    other = MODELS.build(distiller_cfg(save_teachers=True, teacher_init_seed=99))
    assert not torch.equal(other.teachers['t1'].convs[0].weight, sd['teachers.t1.convs.0.weight'])
    other.load_state_dict(copy.deepcopy(sd), strict=True)
    assert torch.equal(other.teachers['t1'].convs[0].weight, sd['teachers.t1.convs.0.weight'])
    # and into a model without teachers: teacher keys are dropped silently
    MODELS.build(distiller_cfg(build_teachers=False)).load_state_dict(sd, strict=True)


def test_to_moves_teachers():
    model = MODELS.build(distiller_cfg())
    model.to(torch.float64)
    assert model.teachers['t1'].convs[0].weight.dtype == torch.float64
    assert model.decode_heads['semseg'].last_conv.weight.dtype == torch.float64


def test_without_teachers_loss_needs_alpha_zero():
    model = MODELS.build(distiller_cfg(build_teachers=False))
    inputs, samples = make_batch()
    with pytest.raises(RuntimeError, match='build_teachers'):
        model(inputs, samples, mode='loss')
    model = MODELS.build(distiller_cfg(build_teachers=False, distill_weight=0))
    assert set(model(inputs, samples, mode='loss')) == {f'loss_{t}' for t in ALL_NYUD}


@pytest.mark.parametrize('change,match', [
    (dict(tasks=['semseg', 'flow']), "unknown task 'flow'"),
    (dict(task_channels=dict(depth=1, normals=3, edge=1)), "'semseg' has no entry in "
                                                           'task_channels'),
    (dict(decode_heads=dict(semseg=dict(type='SAKHead'))), "no config for task 'depth'"),
    (dict(decode_heads=dict(type='SAKHead', num_classes=7)), 'num_classes=7'),
    (dict(teacher_loss_weights=dict(t9=1.0)), 't9'),
])
def test_config_errors_name_the_key(change, match):
    cfg = distiller_cfg()
    cfg.update(change)
    with pytest.raises((KeyError, ValueError), match=match):
        MODELS.build(cfg)


def test_per_task_heads_and_teacher_weights():
    heads = dict(semseg=dict(type='LinearHead'), depth=dict(type='SAKHead', patch_size=8))
    model = MODELS.build(distiller_cfg(('semseg', 'depth'), decode_heads=heads,
                                       teacher_loss_weights=dict(t2=0.0)))
    assert type(model.decode_heads['semseg']).__name__ == 'LinearHead'
    inputs, samples = make_batch(tasks=('semseg', 'depth'))
    losses = model(inputs, samples, mode='loss')
    assert losses['loss_distill_t2_l0'] == 0 and losses['loss_distill_t1_l0'] > 0
