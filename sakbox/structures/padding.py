"""Where an image sits inside the padded canvas it is placed in.

Two placements are supported everywhere in sakbox (pipeline padding, the
data preprocessor, ground-truth stacking, prediction crop-back):

* ``'bottom_right'``: the image keeps pixel (0, 0); padding goes below and to
  the right (offset (0, 0)).
* ``'center'``: the image is centred, offset ``((H - h) // 2, (W - w) // 2)``,
  which puts the odd pixel of padding at the bottom / right. This is the
  official SAK ``PadImage`` rule (and its crop-back in
  ``evaluation/evaluate_utils.py``): 425x560 in 448x576 sits at (11, 8).

Metainfo contract of a :class:`~sakbox.structures.MultiTaskDataSample`:

* ``img_shape`` (h, w): the image after the geometric transforms, before
  any padding; predictions are cropped to it, then resized to ``ori_shape``.
* ``pad_offset`` (top, left): where that ``img_shape`` region starts in the
  padded tensor. Like ``pad_shape`` it is set by the pipeline (offset in the
  packed image; (0, 0) without pipeline padding) and then rewritten by the
  data preprocessor as the offset in the batch input the model sees.
* ``batch_offset`` (top, left): set by the data preprocessor: where the
  packed image, and so its ground-truth maps, start in the batch input.
  ``pad_offset`` after the preprocessor = pipeline ``pad_offset`` +
  ``batch_offset``.
"""
from typing import Mapping, Optional, Sequence, Tuple

#: The supported placements of an image inside its padded canvas.
PAD_POSITIONS: Tuple[str, ...] = ('bottom_right', 'center')


def check_pad_position(position: str, owner: str = 'pad_position') -> str:
    """Return ``position`` if it is one of :data:`PAD_POSITIONS`, else raise.

    Args:
        position (str): The placement to check.
        owner (str): Name used in the error message (class or argument).

    Returns:
        str: ``position``.

    Raises:
        ValueError: If ``position`` is unknown.
    """
    if position not in PAD_POSITIONS:
        raise ValueError(f'{owner}: pad position must be one of {list(PAD_POSITIONS)}, '
                         f'got {position!r}')
    return position


def pad_offset(size_hw: Sequence[int], target_hw: Sequence[int],
               position: str = 'bottom_right') -> Tuple[int, int]:
    """(top, left) at which an image of ``size_hw`` is placed in ``target_hw``.

    Args:
        size_hw (Sequence[int]): (h, w) of the image.
        target_hw (Sequence[int]): (H, W) of the canvas, ``H >= h``, ``W >= w``.
        position (str): ``'bottom_right'`` or ``'center'``.

    Returns:
        Tuple[int, int]: (top, left).

    Raises:
        ValueError: If the image is larger than the canvas or the position
            is unknown.
    """
    h, w = int(size_hw[0]), int(size_hw[1])
    th, tw = int(target_hw[0]), int(target_hw[1])
    if h > th or w > tw:
        raise ValueError(f'cannot place a {h}x{w} image in a {th}x{tw} canvas')
    if check_pad_position(position) == 'bottom_right':
        return 0, 0
    return (th - h) // 2, (tw - w) // 2


def image_region(metainfo: Mapping, input_hw: Optional[Sequence[int]] = None,
                 frame: str = 'input') -> Tuple[int, int, int, int]:
    """The ``img_shape`` region of a sample inside a padded tensor.

    Args:
        metainfo (Mapping): The sample's metainfo (``img_shape``,
            ``pad_offset``, ``batch_offset``; missing offsets count as 0).
        input_hw (Sequence[int], optional): (H, W) of the tensor; used when
            the metainfo has no ``img_shape`` (then the whole tensor minus the
            offset is the image) and to check that the region fits.
        frame (str): ``'input'``: the batch input of the model (after the data
            preprocessor); ``'packed'``: the packed image of the pipeline
            (``pad_offset - batch_offset``).

    Returns:
        Tuple[int, int, int, int]: (top, left, h, w).

    Raises:
        ValueError: If ``frame`` is unknown or the region does not fit in
            ``input_hw``.
    """
    if frame not in ('input', 'packed'):
        raise ValueError(f"frame must be 'input' or 'packed', got {frame!r}")
    top, left = (int(v) for v in metainfo.get('pad_offset', (0, 0))[:2])
    if frame == 'packed':
        bt, bl = (int(v) for v in metainfo.get('batch_offset', (0, 0))[:2])
        top, left = top - bt, left - bl
    if 'img_shape' in metainfo:
        h, w = (int(v) for v in metainfo['img_shape'][:2])
    elif input_hw is not None:
        h, w = int(input_hw[0]) - top, int(input_hw[1]) - left
    else:
        raise ValueError('image_region: the metainfo has no img_shape and no input size '
                         'was given')
    if input_hw is not None and (top < 0 or left < 0 or top + h > int(input_hw[0])
                                 or left + w > int(input_hw[1])):
        name = metainfo.get('img_path', metainfo.get('img_id', '?'))
        raise ValueError(
            f'sample {name!r}: image region {h}x{w} at offset ({top}, {left}) does not fit '
            f'in the {int(input_hw[0])}x{int(input_hw[1])} input (img_shape / pad_offset '
            'metainfo inconsistent with the padding)')
    return top, left, h, w
