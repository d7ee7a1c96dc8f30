"""An opt-in stand-in for ``mmcv.ops`` on mmcv-lite, so that ``mmseg.models`` imports.

mmcv-lite ships the Python files of ``mmcv.ops`` but not the compiled extension
``mmcv._ext`` that they load, so ``import mmcv.ops`` fails, and with it
``import mmseg.models`` (``mmseg.utils`` imports ``point_sample`` at module
level). mmseg's plain decode heads and necks (``UPerHead``, ``FPNHead``,
``SegformerHead``, ``FCNHead``, ``MultiLevelNeck``, ...) need no compiled op.

:func:`install_mmcv_ops_shim` puts a module in ``sys.modules['mmcv.ops']`` that holds

* the pure-PyTorch functions of mmcv-lite's own ``mmcv/ops/point_sample.py``
  (``point_sample``, ``rel_roi_point_to_rel_img_point``, ``SimpleRoIAlign``),
  loaded from that file (a small ``F.grid_sample`` version of ``point_sample``
  if the file is missing), and
* for every other name that the real ``mmcv.ops`` exports, a placeholder
  class: ``isinstance`` checks against it are False (mmengine's optimizer
  constructor tests modules against ``DeformConv2d``), and calling or
  instantiating it raises :class:`MissingCompiledOpError` naming the op. A
  missing compiled op is never hidden.

It is opt-in and never installed implicitly: set ``mmcv_ops_shim = True`` in a
config (``tools/train.py``, ``tools/test.py``, ``init_model`` and the tools that
load configs through :func:`sakbox.utils.cli.load_config` honour it, see
:func:`apply_mmcv_ops_shim`), or call :func:`install_mmcv_ops_shim` before
building a model. Where the real compiled ``mmcv.ops`` imports, nothing is done.
"""
import ast
import importlib
import importlib.util
import os.path as osp
import sys
import types
from typing import Any, Optional, Sequence, Tuple

__all__ = ['install_mmcv_ops_shim', 'apply_mmcv_ops_shim', 'mmcv_ops_shim_installed',
           'make_mmcv_ops_shim', 'MissingCompiledOpError', 'SHIM_CONFIG_KEY']

#: The top-level config key that opts in to the shim.
SHIM_CONFIG_KEY = 'mmcv_ops_shim'
#: Set on the shim module; tells it apart from the real ``mmcv.ops``.
_MARKER = '__sakbox_mmcv_ops_shim__'
#: Compiled ops that mmseg 1.x and mmengine import from ``mmcv.ops``; used as the
#: placeholder list when mmcv-lite's ``mmcv/ops/__init__.py`` cannot be read.
KNOWN_COMPILED_OPS: Tuple[str, ...] = (
    'CrissCrossAttention', 'PSAMask', 'DeformConv2d', 'DeformConv2dPack',
    'ModulatedDeformConv2d', 'ModulatedDeformConv2dPack', 'SyncBatchNorm',
    'MultiScaleDeformableAttention', 'sigmoid_focal_loss', 'softmax_focal_loss',
    'SigmoidFocalLoss', 'SoftmaxFocalLoss', 'CARAFEPack', 'RoIAlign', 'roi_align', 'nms',
    'batched_nms', 'deform_conv2d', 'modulated_deform_conv2d')
#: What the shim says about the toolchain (mmcv's collect_env reads these two names).
_INFO_FUNCTIONS = ('get_compiler_version', 'get_compiling_cuda_version')


class MissingCompiledOpError(RuntimeError):
    """A compiled ``mmcv.ops`` op was used while only the mmcv-lite shim is installed."""


def _missing_message(name: str) -> str:
    return (f'mmcv.ops.{name} is a compiled mmcv op (or lives in a module that loads '
            "mmcv's compiled extension mmcv._ext), and mmcv-lite has no compiled ops: "
            "sakbox's mmcv.ops shim (mmcv_ops_shim = True) provides only the pure-PyTorch "
            'point_sample functions. Install full mmcv (built with its ops, e.g. from '
            "OpenMMLab's wheel index for your torch/CUDA) to use it, or pick a component "
            'that does not need it.')


class _MissingCompiledOp:
    """Base of the placeholders: instantiating (or calling) one raises."""

    op_name = ''

    def __new__(cls, *args: Any, **kwargs: Any):
        raise MissingCompiledOpError(_missing_message(cls.op_name or cls.__name__))


def _placeholder(name: str, module_name: str) -> type:
    doc = f'Placeholder for the compiled ``mmcv.ops.{name}``: using it raises.'
    return type(name, (_MissingCompiledOp, ), dict(op_name=name, __module__=module_name,
                                                  __doc__=doc))


def _mmcv_dir() -> Optional[str]:
    spec = importlib.util.find_spec('mmcv')
    if spec is None or not spec.submodule_search_locations:
        return None
    return list(spec.submodule_search_locations)[0]


def _exported_names(init_file: Optional[str]) -> Sequence[str]:
    """``__all__`` of mmcv's ``ops/__init__.py`` (read with ``ast``, never executed)."""
    names = list(KNOWN_COMPILED_OPS)
    if init_file is None or not osp.isfile(init_file):
        return names
    with open(init_file, encoding='utf-8') as f:
        tree = ast.parse(f.read(), filename=init_file)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == '__all__' for t in node.targets)
                and isinstance(node.value, (ast.List, ast.Tuple))):
            names += [e.value for e in node.value.elts
                      if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return list(dict.fromkeys(names))


def _load_point_sample_module(path: Optional[str]) -> Optional[types.ModuleType]:
    """mmcv-lite's ``mmcv/ops/point_sample.py`` as ``mmcv.ops.point_sample``.

    The file imports only torch, so it loads without the compiled extension.
    """
    if path is None or not osp.isfile(path):
        return None
    spec = importlib.util.spec_from_file_location('mmcv.ops.point_sample', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _grid_point_sample(input, points, align_corners: bool = False, **kwargs):
    """Sample ``input`` (N, C, H, W) at ``points`` in [0, 1]^2: (N, P, 2) -> (N, C, P).

    Used only when mmcv-lite's own ``point_sample.py`` is missing. ``points``
    may also be (N, Hg, Wg, 2), giving (N, C, Hg, Wg).
    """
    import torch.nn.functional as F
    flat = points.dim() == 3
    grid = (points.unsqueeze(2) if flat else points) * 2.0 - 1.0  # [0, 1] -> [-1, 1]
    out = F.grid_sample(input, grid, align_corners=align_corners, **kwargs)
    return out.squeeze(3) if flat else out


def make_mmcv_ops_shim(mmcv_dir: Optional[str] = None) -> types.ModuleType:
    """Build (not install) the shim module for the mmcv package in ``mmcv_dir``.

    Args:
        mmcv_dir: The ``mmcv`` package folder (its ``ops/point_sample.py`` and
            ``ops/__init__.py`` are read); None builds the shim from sakbox's
            own ``point_sample`` and :data:`KNOWN_COMPILED_OPS` alone.

    Returns:
        types.ModuleType: A module named ``mmcv.ops``; its ``point_sample``
        submodule (None when the file is missing) is in ``__sakbox_submodules__``.
    """
    ops_dir = osp.join(mmcv_dir, 'ops') if mmcv_dir else None
    shim = types.ModuleType('mmcv.ops', doc="sakbox's mmcv-lite stand-in for mmcv.ops "
                            '(sakbox/utils/mmcv_ops_shim.py): pure-PyTorch point_sample '
                            'functions only; every compiled op raises when used.')
    setattr(shim, _MARKER, True)
    point_sample = _load_point_sample_module(
        osp.join(ops_dir, 'point_sample.py') if ops_dir else None)
    if point_sample is not None:
        real = {n: getattr(point_sample, n) for n in
                ('point_sample', 'rel_roi_point_to_rel_img_point', 'SimpleRoIAlign')
                if hasattr(point_sample, n)}
    else:
        real = dict(point_sample=_grid_point_sample)
    for name in _INFO_FUNCTIONS:
        real[name] = lambda: 'n/a (mmcv-lite has no compiled ops; sakbox mmcv.ops shim)'
    names = _exported_names(osp.join(ops_dir, '__init__.py') if ops_dir else None)
    for name in names:
        setattr(shim, name, real[name] if name in real else _placeholder(name, 'mmcv.ops'))
    for name, obj in real.items():
        setattr(shim, name, obj)
    shim.__all__ = sorted(set(names) | set(real))
    shim.__sakbox_submodules__ = dict(point_sample=point_sample)

    def __getattr__(name: str):  # names the real mmcv.ops does not export either
        if name.startswith('__'):
            raise AttributeError(name)
        raise AttributeError(f"mmcv.ops (sakbox's mmcv-lite shim) has no attribute {name!r}; "
                             "the real mmcv.ops does not export it either")

    shim.__getattr__ = __getattr__
    return shim


def mmcv_ops_shim_installed() -> bool:
    """Whether ``sys.modules['mmcv.ops']`` is sakbox's shim."""
    return bool(getattr(sys.modules.get('mmcv.ops'), _MARKER, False))


def _real_ops_importable() -> bool:
    """The compiled ``mmcv.ops`` is (or can be) imported.

    Raises:
        ImportError: mmcv (or mmcv-lite) itself is not installed.
    """
    module = sys.modules.get('mmcv.ops')
    if module is not None:
        return not getattr(module, _MARKER, False)
    if importlib.util.find_spec('mmcv') is None:
        raise ImportError('the mmcv.ops shim needs mmcv-lite (or mmcv) installed: '
                          'pip install mmcv-lite==2.1.0')
    return importlib.util.find_spec('mmcv._ext') is not None


def install_mmcv_ops_shim() -> bool:
    """Put the shim in ``sys.modules['mmcv.ops']`` unless the real compiled ops import.

    Idempotent. Where ``mmcv._ext`` exists the real ``mmcv.ops`` is imported
    (its import errors propagate: a broken full mmcv is not papered over) and
    nothing is installed.

    Returns:
        bool: True when the shim is in place (installed now or before), False
        when the real compiled ``mmcv.ops`` is used.

    Raises:
        ImportError: mmcv / mmcv-lite is not installed.
    """
    if mmcv_ops_shim_installed():
        return True
    if _real_ops_importable():
        importlib.import_module('mmcv.ops')
        return False
    mmcv = importlib.import_module('mmcv')
    shim = make_mmcv_ops_shim(_mmcv_dir())
    point_sample = shim.__sakbox_submodules__['point_sample']
    if point_sample is not None:
        sys.modules['mmcv.ops.point_sample'] = point_sample
    sys.modules['mmcv.ops'] = shim
    mmcv.ops = shim  # `import mmcv.ops; mmcv.ops.x` reads the attribute
    return True


def apply_mmcv_ops_shim(cfg: Any) -> bool:
    """Install the shim when the config opts in with ``mmcv_ops_shim = True``.

    Args:
        cfg: A config (``mmengine.Config`` or dict); only its top-level
            :data:`SHIM_CONFIG_KEY` is read.

    Returns:
        bool: True when the shim is in place afterwards.

    Raises:
        TypeError: ``mmcv_ops_shim`` is set to something other than a bool.
    """
    value = cfg.get(SHIM_CONFIG_KEY, False)
    if not isinstance(value, bool):
        raise TypeError(f'config key {SHIM_CONFIG_KEY} must be True or False, got {value!r}')
    if value:
        return install_mmcv_ops_shim()
    return mmcv_ops_shim_installed()
