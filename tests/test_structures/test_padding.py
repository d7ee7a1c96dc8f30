"""Placement of an image in its padded canvas (the official PadImage rule) and image_region."""
import pytest

from sakbox.structures import PAD_POSITIONS, image_region, pad_offset


def official_offset(size_hw, target_hw):
    """Offsets of the official PadImage / crop-back: delta // 2 per dimension."""
    return tuple(max(t - s, 0) // 2 for s, t in zip(size_hw, target_hw))


@pytest.mark.parametrize('size,target,expected', [
    ((425, 560), (448, 576), (11, 8)),     # NYUD multi-task release -> INPUT_SIZE
    ((511, 333), (512, 512), (0, 89)),
    ((500, 375), (512, 512), (6, 68)),     # a typical PASCAL image
    ((448, 576), (448, 576), (0, 0)),
    ((1, 1), (4, 5), (1, 2))])
def test_center_is_the_official_rule(size, target, expected):
    assert pad_offset(size, target, 'center') == expected == official_offset(size, target)
    assert pad_offset(size, target, 'bottom_right') == (0, 0)
    assert pad_offset(size, target) == (0, 0)  # default placement


def test_errors():
    assert PAD_POSITIONS == ('bottom_right', 'center')
    with pytest.raises(ValueError, match='cannot place a 10x5 image in a 8x8'):
        pad_offset((10, 5), (8, 8), 'center')
    with pytest.raises(ValueError, match="got 'top_left'"):
        pad_offset((4, 4), (8, 8), 'top_left')


def test_image_region_frames():
    meta = dict(img_shape=(425, 560), pad_offset=(13, 9), batch_offset=(11, 8))
    assert image_region(meta, (448, 576)) == (13, 9, 425, 560)
    # in the pipeline's packed image the region starts at pad_offset - batch_offset
    assert image_region(meta, frame='packed') == (2, 1, 425, 560)
    # missing offsets are 0; missing img_shape = the rest of the input
    assert image_region(dict(img_shape=(3, 4)), (8, 8)) == (0, 0, 3, 4)
    assert image_region(dict(pad_offset=(1, 2)), (8, 8)) == (1, 2, 7, 6)
    with pytest.raises(ValueError, match='does not fit in the 448x576 input'):
        image_region(dict(img_shape=(440, 560), pad_offset=(11, 8)), (448, 576))
    with pytest.raises(ValueError, match='no img_shape'):
        image_region({})
    with pytest.raises(ValueError, match='frame'):
        image_region(meta, frame='batch')
