"""Sliding-window inference: run a model on overlapping crops and stitch its outputs.

The windows follow mmseg's ``slide_inference``: along each axis
``max(H - crop + stride - 1, 0) // stride + 1`` windows start every ``stride``
pixels, the last one is moved back to end at the border, and a crop larger than
the input shrinks to the input. Unlike mmseg, the model here is any function
``crops (N, 3, h, w) -> outputs`` whose outputs may be nested dicts / lists /
tuples of tensors, stitched leaf by leaf:

* a 4-D tensor ``(N, C, h', w')`` is a dense map whose size is proportional to
  the crop (logits at the input resolution, a feature grid at 1 / patch): each
  window's map is added at the window's position scaled to the map's
  resolution, and every cell is divided by the number of windows covering it;
* any other tensor (summary tokens ``(N, n, C)``, per-image vectors ``(N, C)``)
  is averaged over the windows.

All windows of a batch have the same size, so they run together: ``N`` is
``windows per forward x B``, the crops ordered window-major.
"""
from fractions import Fraction
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from torch import Tensor

#: ``(top, left, height, width)`` of a window in the input, pixels.
Window = Tuple[int, int, int, int]
#: Position of a leaf in the nested outputs: the keys / indices leading to it.
Path = Tuple


def _axis_starts(size: int, crop: int, stride: int) -> List[int]:
    """Window starts along one axis (mmseg's rule, the last window clamped)."""
    crop = min(crop, size)
    count = max(size - crop + stride - 1, 0) // stride + 1
    return [min(i * stride, size - crop) for i in range(count)]


def slide_windows(size: Sequence[int], crop_size: Sequence[int],
                  stride: Sequence[int]) -> List[Window]:
    """Windows that tile an input of ``size``, row-major.

    Args:
        size (Sequence[int]): ``(H, W)`` of the input.
        crop_size (Sequence[int]): ``(h, w)`` of a window; larger than the input
            along an axis, it shrinks to the input there.
        stride (Sequence[int]): ``(sh, sw)`` between window starts.

    Returns:
        List[Window]: ``(top, left, height, width)`` of every window; the last
        window of each row / column ends at the border.
    """
    (H, W), (ch, cw), (sh, sw) = size, crop_size, stride
    if min(ch, cw, sh, sw) <= 0:
        raise ValueError(f'slide windows need positive crop_size and stride, got '
                         f'crop_size={tuple(crop_size)}, stride={tuple(stride)}')
    h, w = min(ch, H), min(cw, W)
    return [(top, left, h, w) for top in _axis_starts(H, ch, sh)
            for left in _axis_starts(W, cw, sw)]


def _flatten(tree, path: Path = ()) -> List[Tuple[Path, Tensor]]:
    """The tensors of nested dicts / lists / tuples with their paths, in order."""
    if isinstance(tree, Tensor):
        return [(path, tree)]
    if isinstance(tree, Mapping):
        items = tree.items()
    elif isinstance(tree, (list, tuple)):
        items = enumerate(tree)
    else:
        raise TypeError(f'slide inference stitches tensors in dicts / lists / tuples; the '
                        f'output {_name(path)} is a {type(tree).__name__}')
    return [leaf for key, value in items for leaf in _flatten(value, path + (key,))]


def _rebuild(template, leaves: Dict[Path, object], path: Path = ()):
    """``template``'s structure with the leaf at each path replaced by ``leaves[path]``."""
    if isinstance(template, Mapping):
        return type(template)((k, _rebuild(v, leaves, path + (k,)))
                              for k, v in template.items())
    if isinstance(template, (list, tuple)):
        return type(template)(_rebuild(v, leaves, path + (i,)) for i, v in enumerate(template))
    return leaves[path]


def _name(path: Path) -> str:
    return repr('.'.join(str(p) for p in path)) if path else 'the output'


class _AxisPlacement:
    """Where the windows along one axis land in one dense output.

    Args:
        starts (List[int]): Window starts along the axis (input pixels).
        crop (int): Window extent along the axis (input pixels).
        size (int): Input extent along the axis.
        cells (int): The output's extent for one window.
        axis (str): ``'height'`` or ``'width'``, for errors.
        leaf (str): The output's name, for errors.
    """

    def __init__(self, starts: List[int], crop: int, size: int, cells: int, axis: str,
                 leaf: str) -> None:
        self.rate = Fraction(cells, crop)  # output cells per input pixel
        self.tiled = len(starts) > 1
        if not self.tiled:
            # One window spans the whole axis: its output is the whole output.
            self.full, self.offsets = cells, {s: 0 for s in starts}
            return
        misaligned = [s for s in starts if (s * self.rate).denominator != 1]
        if misaligned:
            px = 1 / self.rate
            raise ValueError(
                f'slide inference: output {leaf} has {cells} cells along the {axis} of the '
                f'{crop}-px window (one cell per {px} px), but windows start at {misaligned} '
                f'px along that axis, inside a cell (window starts {starts}, input {size} px): '
                f'make test_cfg.crop_size, test_cfg.stride and the (padded) input multiples '
                f'of {px} px along the {axis}')
        # The last window ends at the border, so the whole axis is a whole number of cells.
        self.full = int(size * self.rate)
        self.offsets = {s: int(s * self.rate) for s in starts}


class _Stitcher:
    """Accumulates the window outputs of one batch; see :func:`slide_inference`.

    Args:
        first: The outputs of the first call (fixes structure and shapes).
        windows (List[Window]): Every window of the batch.
        size (Tuple[int, int]): ``(H, W)`` of the input.
        batch (int): ``B``, images per window.
    """

    def __init__(self, first, windows: List[Window], size: Tuple[int, int],
                 batch: int) -> None:
        leaves = _flatten(first)
        if not leaves:
            raise ValueError('slide inference: the model returned no tensors to stitch')
        self.paths = [p for p, _ in leaves]
        self.skeleton = _rebuild(first, dict.fromkeys(self.paths))
        self.windows, self.batch = windows, batch
        tops = sorted({top for top, _, _, _ in windows})
        lefts = sorted({left for _, left, _, _ in windows})
        _, _, ch, cw = windows[0]
        self.shapes: Dict[Path, Tuple[int, ...]] = {}
        self.dtypes: Dict[Path, torch.dtype] = {}
        self.sums: Dict[Path, Tensor] = {}
        self.counts: Dict[Path, Tensor] = {}
        self.placements: Dict[Path, Tuple[_AxisPlacement, _AxisPlacement]] = {}
        for path, x in leaves:
            leaf = _name(path)
            if x.ndim == 0:
                raise ValueError(f'slide inference: output {leaf} is a scalar; every output '
                                 'needs a leading batch dimension')
            self.shapes[path], self.dtypes[path] = tuple(x.shape[1:]), x.dtype
            # Low-precision outputs are summed in float32 (float64 stays float64).
            acc_dtype = torch.promote_types(x.dtype, torch.float32)
            if x.ndim != 4:
                self.sums[path] = x.new_zeros((batch,) + self.shapes[path], dtype=acc_dtype)
                continue
            h, w = x.shape[2:]
            rows = _AxisPlacement(tops, ch, size[0], h, 'height', leaf)
            cols = _AxisPlacement(lefts, cw, size[1], w, 'width', leaf)
            if rows.tiled and cols.tiled and rows.rate != cols.rate:
                raise ValueError(
                    f'slide inference: output {leaf} is {(h, w)} for a {(ch, cw)} window: one '
                    f'cell per {1 / rows.rate} px along the height but {1 / cols.rate} px '
                    'along the width, so its grid is not proportional to the window (e.g. a '
                    'model that resizes its input to a fixed or square size); it cannot be '
                    'stitched')
            self.placements[path] = (rows, cols)
            self.sums[path] = x.new_zeros((batch, x.shape[1], rows.full, cols.full),
                                          dtype=acc_dtype)
            count = x.new_zeros((1, 1, rows.full, cols.full), dtype=acc_dtype)
            for top, left, _, _ in windows:
                y, z = rows.offsets[top], cols.offsets[left]
                count[..., y:y + h, z:z + w] += 1
            self.counts[path] = count

    def add(self, outputs, chunk: List[Window]) -> None:
        """Add the outputs of one call of the model on the windows ``chunk``."""
        leaves = _flatten(outputs)
        if [p for p, _ in leaves] != self.paths:
            raise ValueError(f'slide inference: the model returned outputs '
                             f'{[_name(p) for p, _ in leaves]} for one group of windows but '
                             f'{[_name(p) for p in self.paths]} for the first')
        n = len(chunk) * self.batch
        for path, x in leaves:
            if x.ndim == 0 or (x.shape[0], *x.shape[1:]) != (n, *self.shapes[path]):
                raise ValueError(
                    f'slide inference: output {_name(path)} has shape {tuple(x.shape)}; '
                    f'expected {(n, *self.shapes[path])} ({len(chunk)} windows x '
                    f'{self.batch} images first, then the shape of the first call)')
            x = x.unflatten(0, (len(chunk), self.batch))
            acc = self.sums[path]
            if path not in self.placements:
                acc += x.sum(0, dtype=acc.dtype)
                continue
            rows, cols = self.placements[path]
            h, w = x.shape[-2:]
            for j, (top, left, _, _) in enumerate(chunk):
                y, z = rows.offsets[top], cols.offsets[left]
                acc[:, :, y:y + h, z:z + w] += x[j]

    def result(self):
        """The stitched outputs, in the structure and dtypes the model returned."""
        out = {}
        for path in self.paths:
            count = self.counts.get(path, len(self.windows))
            out[path] = (self.sums[path] / count).to(self.dtypes[path])
        return _rebuild(self.skeleton, out)


def slide_inference(fn: Callable[[Tensor], object], inputs: Tensor, crop_size: Sequence[int],
                    stride: Sequence[int], batch_windows: Optional[int] = None):
    """Run ``fn`` on sliding windows of ``inputs`` and stitch its outputs.

    Args:
        fn (Callable): Maps a crop batch ``(N, 3, h, w)`` to nested dicts / lists /
            tuples of tensors with ``N`` along the first dimension: dense maps
            ``(N, C, h', w')`` proportional to the crop, anything else averaged.
        inputs (Tensor): ``(B, 3, H, W)``, the (padded) network input.
        crop_size (Sequence[int]): ``(h, w)`` of a window (shrunk to the input).
        stride (Sequence[int]): ``(sh, sw)`` between window starts.
        batch_windows (int, optional): Windows per call of ``fn`` (each holds the
            ``B`` images); None runs every window in one call.

    Returns:
        The outputs of ``fn`` for the whole input, in its structure: dense maps
        ``(B, C, H * h' / h, W * w' / w)`` averaged where windows overlap, other
        tensors ``(B, ...)`` averaged over the windows.

    Raises:
        ValueError: A dense output whose cells the windows do not start and end on
            (crop, stride and input must be multiples of its output stride ``h / h'``
            along every axis with several windows), a grid not proportional to
            the crop, or outputs that change between calls.
    """
    if inputs.ndim != 4:
        raise ValueError(f'slide inference needs inputs (B, 3, H, W), got {tuple(inputs.shape)}')
    batch, size = inputs.shape[0], tuple(inputs.shape[-2:])
    windows = slide_windows(size, crop_size, stride)
    step = len(windows) if batch_windows is None else int(batch_windows)
    if step <= 0:
        raise ValueError(f'slide inference: batch_windows must be positive, got {batch_windows}')
    stitcher = None
    for i in range(0, len(windows), step):
        chunk = windows[i:i + step]
        crops = torch.cat([inputs[:, :, t:t + h, left:left + w] for t, left, h, w in chunk])
        outputs = fn(crops)
        if stitcher is None:
            stitcher = _Stitcher(outputs, windows, size, batch)
        stitcher.add(outputs, chunk)
    return stitcher.result()
