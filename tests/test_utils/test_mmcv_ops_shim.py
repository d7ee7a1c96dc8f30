"""sakbox.utils.mmcv_ops_shim: opt-in stand-in for mmcv.ops on mmcv-lite.

The shim stays installed for the rest of the test process once installed (mmseg
modules keep references to it), which is harmless: mmengine still reports no
compiled mmcv (``mmcv_full_available``). What happens *without* it is checked in a
fresh interpreter.
"""
import ast
import importlib.util
import os.path as osp
import subprocess
import sys
import types

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from sakbox.utils.mmcv_ops_shim import (
    KNOWN_COMPILED_OPS,
    MissingCompiledOpError,
    apply_mmcv_ops_shim,
    install_mmcv_ops_shim,
    make_mmcv_ops_shim,
    mmcv_ops_shim_installed,
)
from tests.utils import REPO_ROOT

MMCV_DIR = osp.dirname(importlib.util.find_spec('mmcv').origin)
HAS_REAL_OPS = importlib.util.find_spec('mmcv._ext') is not None
needs_lite = pytest.mark.skipif(HAS_REAL_OPS, reason='full mmcv installed: the shim is a no-op')


@pytest.fixture(scope='module')
def shim():
    if not install_mmcv_ops_shim():
        pytest.skip('full mmcv installed: the shim is a no-op')
    import mmcv.ops
    return mmcv.ops


@needs_lite
def test_install_is_idempotent_and_importable(shim):
    assert mmcv_ops_shim_installed()
    assert install_mmcv_ops_shim() is True  # again: same module, nothing re-done
    import mmcv
    import mmcv.ops
    assert sys.modules['mmcv.ops'] is shim is mmcv.ops
    # the real pure-PyTorch file of mmcv-lite, not a copy
    module = sys.modules['mmcv.ops.point_sample']
    assert osp.samefile(module.__file__, osp.join(MMCV_DIR, 'ops', 'point_sample.py'))
    assert shim.point_sample is module.point_sample
    from mmcv.ops.point_sample import SimpleRoIAlign
    assert shim.SimpleRoIAlign is SimpleRoIAlign
    # mmengine still sees no compiled mmcv (it never treats the shim as mmcv-full)
    from mmengine.utils.dl_utils import mmcv_full_available
    assert not mmcv_full_available()


@needs_lite
def test_every_name_of_the_real_mmcv_ops_exists(shim):
    with open(osp.join(MMCV_DIR, 'ops', '__init__.py'), encoding='utf-8') as f:
        tree = ast.parse(f.read())
    exported = next(ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
                    and getattr(n.targets[0], 'id', None) == '__all__')
    assert len(exported) > 100
    for name in exported:
        assert hasattr(shim, name), name
    with pytest.raises(AttributeError, match="has no attribute 'not_an_op'"):
        shim.not_an_op
    with pytest.raises(ImportError):
        from mmcv.ops.multi_scale_deform_attn import MultiScaleDeformableAttention  # noqa: F401


def _reference_point_sample(x, points):
    """[0, 1]^2 point coordinates -> grid_sample's [-1, 1], bilinear, zero padding."""
    grid = (2 * points - 1).unsqueeze(2)  # (N, P, 1, 2)
    return F.grid_sample(x, grid, mode='bilinear', align_corners=False).squeeze(3)


@pytest.mark.parametrize('source', ['mmcv-lite', 'fallback'])
def test_point_sample_matches_grid_sample_and_pixel_centres(source):
    module = make_mmcv_ops_shim(MMCV_DIR if source == 'mmcv-lite' else None)
    point_sample = module.point_sample
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 5, 7, generator=g)
    points = torch.rand(2, 11, 2, generator=g) * 1.2 - 0.1  # some outside [0, 1]
    out = point_sample(x, points)
    assert out.shape == (2, 3, 11)
    torch.testing.assert_close(out, _reference_point_sample(x, points))
    # at pixel centres ((j + .5) / W, (i + .5) / H) the samples are the pixels themselves
    i, j = torch.tensor([0, 2, 4]), torch.tensor([6, 3, 0])
    centres = torch.stack([(j + 0.5) / 7, (i + 0.5) / 5], -1)[None].expand(2, -1, -1)
    torch.testing.assert_close(point_sample(x, centres), x[:, :, i, j])
    # grid-shaped points (N, Hg, Wg, 2) keep their grid
    assert point_sample(x, torch.rand(2, 4, 6, 2, generator=g)).shape == (2, 3, 4, 6)


@needs_lite
@pytest.mark.parametrize('name', ['sigmoid_focal_loss', 'CrissCrossAttention', 'PSAMask',
                                  'DeformConv2d', 'nms', 'SyncBatchNorm'])
def test_compiled_ops_raise_naming_the_op(shim, name):
    op = getattr(shim, name)
    with pytest.raises(MissingCompiledOpError, match=rf'mmcv\.ops\.{name} is a compiled mmcv '
                       r'op(.|\n)*mmcv-lite has no compiled ops(.|\n)*Install full mmcv'):
        op(torch.zeros(1))
    assert not isinstance(nn.Conv2d(1, 1, 1), op)  # isinstance checks (mmengine's) just fail


@needs_lite
def test_mmseg_component_with_a_compiled_op_raises_naming_it(shim):
    from mmengine.registry import DefaultScope

    from sakbox.registry import MODELS
    with DefaultScope.overwrite_default_scope('sakbox'):
        with pytest.raises(MissingCompiledOpError, match=r'mmcv\.ops\.CrissCrossAttention'):
            MODELS.build(dict(type='mmseg.CCHead', _scope_='mmseg', in_channels=8, channels=4,
                              num_classes=2))
        # a plain head of the same package builds and runs
        head = MODELS.build(dict(type='mmseg.FCNHead', _scope_='mmseg', in_channels=8,
                                 channels=4, num_classes=2))
    assert head([torch.randn(2, 8, 6, 6)]).shape == (2, 2, 6, 6)


def test_fallback_shim_has_placeholders_for_the_known_ops():
    module = make_mmcv_ops_shim(None)
    assert set(KNOWN_COMPILED_OPS) <= set(module.__all__)
    with pytest.raises(MissingCompiledOpError, match='PSAMask'):
        module.PSAMask('collect', (3, 3))
    subclass = type('MyDeform', (module.DeformConv2d, ), {})
    with pytest.raises(MissingCompiledOpError, match=r'mmcv\.ops\.DeformConv2d'):
        subclass(1, 1, 3)


def test_no_op_when_the_real_compiled_ops_are_there(monkeypatch):
    real = types.ModuleType('mmcv.ops')  # stands for a working full-mmcv import
    monkeypatch.setitem(sys.modules, 'mmcv.ops', real)
    assert install_mmcv_ops_shim() is False
    assert sys.modules['mmcv.ops'] is real and not mmcv_ops_shim_installed()
    assert apply_mmcv_ops_shim(dict(mmcv_ops_shim=True)) is False


def test_config_key_must_be_a_bool():
    with pytest.raises(TypeError, match="mmcv_ops_shim must be True or False, got 'yes'"):
        apply_mmcv_ops_shim(dict(mmcv_ops_shim='yes'))
    assert apply_mmcv_ops_shim(dict()) is mmcv_ops_shim_installed()


NO_SHIM_PROBE = r'''
import sys
from mmengine.registry import DefaultScope
from sakbox.apis import init_model
from sakbox.registry import MODELS
from sakbox.utils import register_all_modules
from tests.test_models.test_distillers.stubs import distiller_cfg
register_all_modules(init_default_scope=False)
with DefaultScope.overwrite_default_scope('sakbox'):
    MODELS.build(distiller_cfg(build_teachers=False))  # sakbox heads: no shim, no mmcv.ops
assert 'mmcv.ops' not in sys.modules, 'installed implicitly'
cfg = distiller_cfg(build_teachers=False, decode_heads=dict(
    type='mmseg.UPerHead', in_index=[0, 1], channels=8))
try:
    with DefaultScope.overwrite_default_scope('sakbox'):
        MODELS.build(cfg)
except ImportError as e:
    print('BUILD', e)
try:
    init_model('configs/sak/sak_vit-tiny-uperhead_1xb4-600it_synthetic-nyud-96x128.py',
               cfg_options=dict(mmcv_ops_shim=False))
except ImportError as e:
    print('INIT', e)
assert 'mmcv.ops' not in sys.modules
'''


@needs_lite
def test_without_the_shim_mmseg_heads_fail_with_the_opt_in():
    proc = subprocess.run([sys.executable, '-c', NO_SHIM_PROBE], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = dict(line.split(' ', 1) for line in proc.stdout.splitlines()
                 if line.startswith(('BUILD', 'INIT')))
    assert set(lines) == {'BUILD', 'INIT'}, proc.stdout
    # the first mmseg component built is named: the head, or the config's neck
    assert lines['BUILD'].startswith("decode_heads.semseg has type 'mmseg.UPerHead', but "
                                     'mmseg.models cannot be imported')
    assert lines['INIT'].startswith("neck has type 'mmseg.MultiLevelNeck', but mmseg.models "
                                    'cannot be imported')
    for line in lines.values():
        assert "No module named 'mmcv._ext'" in line
        assert 'set `mmcv_ops_shim = True` in the config' in line
        assert 'sakbox.utils.install_mmcv_ops_shim()' in line
