"""The model-level test_cfg: defaults, normalisation and errors naming the key."""
import pytest

from sakbox.models.utils import check_test_cfg

WHOLE = dict(mode='whole', crop_size=None, stride=None, batch_windows=None)


def test_defaults_and_normalisation():
    assert check_test_cfg(None) == WHOLE
    assert check_test_cfg({}) == WHOLE
    assert check_test_cfg(dict(mode='whole')) == WHOLE
    # one int is a square; lists (as configs write them back) become tuples
    assert check_test_cfg(dict(mode='slide', crop_size=64, stride=[32, 48],
                               batch_windows=4)) == dict(
        mode='slide', crop_size=(64, 64), stride=(32, 48), batch_windows=4)
    # whole mode keeps (checked) sizes, so that switching only `mode` works
    assert check_test_cfg(dict(mode='whole', crop_size=(32, 32)))['crop_size'] == (32, 32)


@pytest.mark.parametrize('cfg,error,match', [
    (dict(mode='tiles'), ValueError, r"M: test_cfg.mode must be one of \('whole', 'slide'\), "
                                     "got 'tiles'"),
    (dict(mode='slide', crop=(8, 8)), KeyError, r"unknown keys \['crop'\]"),
    (dict(mode='slide', stride=(8, 8)), KeyError, "test_cfg.crop_size is required"),
    (dict(mode='slide', crop_size=(8, 8)), KeyError, "test_cfg.stride is required"),
    (dict(mode='slide', crop_size=(8, 8), stride=(8, 9)), ValueError,
     r'stride \(8, 9\) must not exceed test_cfg.crop_size \(8, 8\)'),
    (dict(mode='slide', crop_size=(8, 0), stride=4), ValueError,
     'test_cfg.crop_size must be a positive int, got 0'),
    (dict(mode='slide', crop_size=(8, 8.5), stride=4), ValueError, 'got 8.5'),
    (dict(mode='slide', crop_size=True, stride=4), ValueError, 'crop_size must be an int or'),
    (dict(mode='slide', crop_size='64', stride=4), ValueError, 'crop_size must be an int or'),
    (dict(mode='slide', crop_size=(8, 8, 8), stride=4), ValueError, 'an int or \\(h, w\\)'),
    (dict(mode='slide', crop_size=8, stride=4, batch_windows=0), ValueError,
     'test_cfg.batch_windows must be a positive int'),
])
def test_errors_name_the_key(cfg, error, match):
    with pytest.raises(error, match=match):
        check_test_cfg(cfg, owner='M')
