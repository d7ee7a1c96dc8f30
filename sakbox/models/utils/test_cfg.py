"""The model-level ``test_cfg``: whole-input or sliding-window inference.

``dict(mode='whole')`` (the default) runs the network once on the (padded)
input. ``dict(mode='slide', crop_size=(h, w), stride=(sh, sw))`` runs it on
windows of that size and stitches the outputs
(:func:`sakbox.models.utils.slide_inference`); ``batch_windows`` bounds how
many windows go through one forward.
"""
from numbers import Integral
from typing import Mapping, Optional, Tuple

#: Inference modes of ``test_cfg.mode``.
TEST_MODES = ('whole', 'slide')
#: Keys a ``test_cfg`` may have.
TEST_CFG_KEYS = ('mode', 'crop_size', 'stride', 'batch_windows')


def _positive_int(value, key: str, owner: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value <= 0:
        raise ValueError(f'{owner}: {key} must be a positive int, got {value!r}')
    return int(value)


def _positive_hw(value, key: str, owner: str) -> Tuple[int, int]:
    """``(h, w)`` of a size given as one int (square) or a pair of ints."""
    if isinstance(value, Integral) and not isinstance(value, bool):
        value = (value, value)
    if isinstance(value, (str, bytes)) or not hasattr(value, '__len__') or len(value) != 2:
        raise ValueError(f'{owner}: {key} must be an int or (h, w), got {value!r}')
    return tuple(_positive_int(v, key, owner) for v in value)


def check_test_cfg(test_cfg: Optional[Mapping], owner: str = 'model') -> dict:
    """Validate a model's ``test_cfg`` and fill its defaults.

    Args:
        test_cfg (Mapping, optional): ``dict(mode='whole')`` or ``dict(mode='slide',
            crop_size=(h, w), stride=(sh, sw), batch_windows=None)``; sizes may be
            one int for a square. None is ``dict(mode='whole')``.
        owner (str): The model's name, quoted in errors.

    Returns:
        dict: ``mode``, ``crop_size`` / ``stride`` as ``(h, w)`` tuples (None when
        not given; only ``'whole'`` may leave them out) and ``batch_windows``.

    Raises:
        KeyError: An unknown key, or ``crop_size`` / ``stride`` missing with
            ``mode='slide'``.
        ValueError: An unknown mode, sizes that are not positive ints, a stride
            larger than the crop (the windows would leave gaps) or a
            ``batch_windows`` that is not a positive int.
    """
    cfg = dict(test_cfg or {})
    unknown = sorted(set(cfg) - set(TEST_CFG_KEYS))
    if unknown:
        raise KeyError(f'{owner}: test_cfg has unknown keys {unknown}; expected some of '
                       f'{list(TEST_CFG_KEYS)}')
    mode = cfg.get('mode', 'whole')
    if mode not in TEST_MODES:
        raise ValueError(f'{owner}: test_cfg.mode must be one of {TEST_MODES}, got {mode!r}')
    out = dict(mode=mode, crop_size=None, stride=None, batch_windows=None)
    for key in ('crop_size', 'stride'):
        if cfg.get(key) is not None:
            out[key] = _positive_hw(cfg[key], f'test_cfg.{key}', owner)
        elif mode == 'slide':
            raise KeyError(f"{owner}: test_cfg.{key} is required with mode='slide', e.g. "
                           "test_cfg=dict(mode='slide', crop_size=(448, 576), "
                           'stride=(320, 384))')
    crop, stride = out['crop_size'], out['stride']
    if crop is not None and stride is not None and (stride[0] > crop[0] or stride[1] > crop[1]):
        raise ValueError(f'{owner}: test_cfg.stride {stride} must not exceed test_cfg.crop_size '
                         f'{crop} along either axis (the windows would leave gaps)')
    if cfg.get('batch_windows') is not None:
        out['batch_windows'] = _positive_int(cfg['batch_windows'], 'test_cfg.batch_windows',
                                             owner)
    return out
