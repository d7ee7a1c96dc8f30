"""Decoder building: argument injection for sakbox and mmseg heads, necks, errors."""
import pytest
import torch
import torch.nn as nn
from mmengine.registry import DefaultScope

from sakbox.models.decoders.component_cfg import (
    FeatureLevels,
    init_params,
    resolve_module_class,
    select_task_cfg,
)
from sakbox.models.decoders.head_builder import auxiliary_loss_weights, build_task_head
from sakbox.models.decoders.neck_builder import build_necks
from sakbox.utils import install_mmcv_ops_shim

#: Four levels of 8 channels, as a student with embed_dims 8 and four outputs gives.
EVEN = FeatureLevels(8, 4, 'the student')
#: Four levels of growing width (e.g. a CNN pyramid).
PYRAMID = FeatureLevels((8, 16, 24, 32), 4, 'the student')


@pytest.fixture(scope='module', autouse=True)
def mmseg_models():
    install_mmcv_ops_shim()  # a no-op where full mmcv is installed
    with DefaultScope.overwrite_default_scope('sakbox'):
        yield


def build(cfg, levels=EVEN, num_classes=3, task='semseg'):
    return build_task_head(dict(cfg), task=task, num_classes=num_classes, levels=levels,
                           where=f'decode_heads.{task}')


def test_sakbox_head_gets_an_int_width_and_num_levels():
    head = build(dict(type='SAKHead', patch_size=8))
    assert (head.in_channels, head.num_classes, head.num_levels) == (8, 3, 4)
    # a head without num_levels (or a student that does not say) gets none
    head = build(dict(type='LinearHead'), levels=FeatureLevels(8, None, 'the student'))
    assert head.in_channels == 8
    with pytest.raises(ValueError, match=r'different widths \[8, 16, 24, 32\]; give '
                                         r'decode_heads.semseg an explicit `in_channels`'):
        build(dict(type='SAKHead'), levels=PYRAMID)
    with pytest.raises(KeyError, match='decode_heads.semseg needs `in_channels`: the student '
                                       'exposes no level widths'):
        build(dict(type='SAKHead'), levels=FeatureLevels(None, 4, 'the student'))


@pytest.mark.parametrize('cfg,in_channels', [
    (dict(type='mmseg.UPerHead', in_index=[0, 1, 2, 3], channels=8), [8, 16, 24, 32]),
    (dict(type='mmseg.SegformerHead', in_index=[1, 3], channels=8), [16, 32]),
    (dict(type='mmseg.FCNHead', in_index=2, channels=8), 24),
    (dict(type='mmseg.FCNHead', channels=8), 32),  # mmseg's default in_index=-1
    (dict(type='FCNHead', _scope_='mmseg', in_index=0, channels=8), 8),
])
def test_mmseg_head_gets_the_widths_its_in_index_selects(cfg, in_channels):
    head = build(cfg, levels=PYRAMID)
    assert head.in_channels == in_channels and not hasattr(head, 'num_levels')
    assert head.num_classes == head.out_channels == 3
    # nested defaults were built in mmseg's scope, not looked up in sakbox's registry
    assert type(head.loss_decode).__module__.startswith('mmseg.')
    feats = [torch.randn(2, c, 10 - 2 * i, 10 - 2 * i) for i, c in enumerate((8, 16, 24, 32))]
    assert head(feats).shape[:2] == (2, 3)


def test_mmseg_head_with_one_class_for_depth_or_edge():
    with pytest.warns(UserWarning, match='threshold'):  # mmseg's binary note; harmless here
        head = build(dict(type='mmseg.UPerHead', in_index=[0, 1, 2, 3], channels=8),
                     num_classes=1, task='depth')
    assert head.out_channels == 1
    out = head([torch.randn(2, 8, 6, 6) for _ in range(4)])
    assert out.shape == (2, 1, 6, 6)


def test_signature_walk_follows_kwargs_to_the_base_classes():
    cls, scope = resolve_module_class(dict(type='mmseg.UPerHead'), 'x')
    assert scope == 'mmseg'
    params, open_ = init_params(cls)
    assert {'pool_scales', 'in_channels', 'channels', 'num_classes', 'in_index',
            'loss_decode', 'init_cfg'} <= set(params) and not open_
    assert 'num_levels' not in params
    assert params['in_index'].default == -1  # BaseDecodeHead's, reached through **kwargs

    class Open(nn.Module):
        def __init__(self, width, **kwargs):
            super().__init__(**kwargs)

    params, open_ = init_params(Open)
    assert set(params) == {'width'} and open_  # nn.Module's *args/**kwargs: anything goes


@pytest.mark.parametrize('cfg,exc,match', [
    (dict(type='NoSuchHead'), KeyError,
     r"decode_heads.semseg: type 'NoSuchHead' is not a registered model component"),
    (dict(type='mmseg.NoSuchHead'), KeyError,
     r"decode_heads.semseg: type 'mmseg.NoSuchHead' is not a registered"),
    (dict(channels=8), KeyError, 'decode_heads.semseg has no `type`'),
    (dict(type='mmseg.FCNHead', channels=8, loss_decode=dict(type='CrossEntropyLoss')),
     ValueError, r"decode_heads.semseg sets loss_decode=(.|\n)*sakbox computes the loss of "
                 r"task 'semseg' with task_losses\['semseg'\](.|\n)*auxiliary_loss_weight"),
    (dict(type='SAKHead', num_classes=7), ValueError,
     r"decode_heads.semseg has num_classes=7 but task_channels\['semseg'\]=3"),
    (dict(type='mmseg.FCNHead', channels=8, out_channels=1), ValueError,
     r'decode_heads.semseg \(FCNHead\) outputs out_channels=1 but task .semseg. needs '
     r"task_channels\['semseg'\]=3"),
    (dict(type='mmseg.FCNHead', channels=8, in_index=4), ValueError,
     r'in_index 4 does not select one of the 4 levels of the student'),
])
def test_config_errors_name_the_head_and_what_is_wrong(cfg, exc, match):
    with pytest.raises(exc, match=match):
        build(cfg, levels=PYRAMID)


def test_select_task_cfg_shared_or_per_task():
    shared = dict(type='SAKHead')
    a = select_task_cfg(shared, 'depth', 'decode_heads')
    assert a == shared and a is not shared
    per_task = dict(semseg=dict(type='LinearHead'))
    assert select_task_cfg(per_task, 'semseg', 'decode_heads') == dict(type='LinearHead')
    assert select_task_cfg(per_task, 'depth', 'auxiliary_heads', required=False) is None
    with pytest.raises(KeyError, match="decode_heads has no config for task 'depth'"):
        select_task_cfg(per_task, 'depth', 'decode_heads')


def test_shared_neck_fills_in_channels_and_describes_its_outputs():
    neck, necks, levels = build_necks(
        dict(type='mmseg.MultiLevelNeck', out_channels=16, scales=[2, 1, 0.5]),
        ['semseg', 'depth'], EVEN)
    assert necks is None and neck.in_channels == [8] * 4
    assert levels['semseg'] is levels['depth']
    assert (levels['semseg'].widths, levels['semseg'].num) == (16, 3)
    outs = neck([torch.randn(1, 8, 4, 4) for _ in range(4)])
    assert [tuple(o.shape) for o in outs] == [(1, 16, 8, 8), (1, 16, 4, 4), (1, 16, 2, 2)]
    # mmseg's default scales (four) when the config leaves them out
    _, _, levels = build_necks(dict(type='mmseg.MultiLevelNeck', out_channels=4), ['x'], EVEN)
    assert levels['x'].num == 4


def test_per_task_necks_and_their_errors():
    neck, necks, levels = build_necks(
        dict(depth=dict(type='mmseg.MultiLevelNeck', out_channels=16)), ['semseg', 'depth'],
        EVEN)
    assert neck is None and list(necks) == ['depth']
    assert levels['semseg'] is EVEN and levels['depth'].widths == 16
    with pytest.raises(KeyError, match=r"neck has configs for tasks that are not learned: "
                                       r"\['sal'\]"):
        build_necks(dict(sal=dict(type='mmseg.MultiLevelNeck', out_channels=4)), ['depth'],
                    EVEN)
    with pytest.raises(KeyError, match='neck needs `in_channels`: the student does not say '
                                       'how many levels'):
        build_necks(dict(type='mmseg.MultiLevelNeck', out_channels=4), ['depth'],
                    FeatureLevels(8, None, 'the student'))


def test_auxiliary_loss_weights():
    assert auxiliary_loss_weights(0.4, ['semseg', 'depth']) == dict(semseg=0.4, depth=0.4)
    assert auxiliary_loss_weights(dict(depth=1.5), ['semseg', 'depth']) == dict(
        semseg=0.4, depth=1.5)
    with pytest.raises(KeyError, match=r"names tasks without an auxiliary head: \['edge'\]"):
        auxiliary_loss_weights(dict(edge=1.0), ['semseg'])
    with pytest.raises(TypeError, match='must be a number or a dict per task'):
        auxiliary_loss_weights('0.4', ['semseg'])
