"""Batch the images of multi-task samples: BGR->RGB, normalise, pad."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import ImgDataPreprocessor
from torch import Tensor

from ...registry import MODELS
from ...structures.padding import check_pad_position, pad_offset

#: ImageNet statistics in RGB order on the 0-255 scale.
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


@MODELS.register_module()
class MultiTaskDataPreProcessor(ImgDataPreprocessor):
    """Stack, convert BGR->RGB, normalise and pad a batch of multi-task samples.

    Takes what ``pseudo_collate`` (list of (3, H, W) tensors of any sizes) or
    ``default_collate`` ((B, 3, H, W) tensor) gives and returns ``dict(inputs=
    (B, 3, H', W') float tensor, data_samples=list)``. Every image is
    normalised first and then placed, with ``pad_value`` around it, in a
    canvas of the largest size in the batch, enlarged to at least ``size``,
    then to a multiple of ``size_divisor``.

    ``pad_position`` says where each image goes in the canvas:

    * ``'bottom_right'`` (default): at (0, 0), padding below and to the right.
    * ``'center'``: centred, offset ``((H' - h) // 2, (W' - w) // 2)``. With
      ``size`` = the crop size and ``pad_value=0`` this is the official SAK
      protocol (``PadImage`` after ``Normalize``: 0 = the mean colour), for
      training crops and for evaluation alike.

    Every sample gets ``batch_input_shape`` = ``pad_shape`` = (H', W'),
    ``batch_offset`` (where its packed image, and its ground truth, start in
    the batch) and ``pad_offset`` (where its ``img_shape`` region starts in
    the batch: the pipeline's ``pad_offset`` + ``batch_offset``) in its
    metainfo; see :mod:`sakbox.structures.padding`. The ground truth in the
    data samples is **not** touched: models stack and pad it at
    ``batch_offset`` with ``sakbox.models.utils.stack_task_gt``, and
    ``predict`` crops the ``pad_offset`` / ``img_shape`` region back out.

    Args:
        mean: Per-channel mean in RGB order (0-255 scale); ``None`` disables
            normalisation. Default: ImageNet.
        std: Per-channel std in RGB order (0-255 scale). Default: ImageNet.
        size_divisor: Pad H and W to a multiple of this.
        size: Optional minimum (H, W) of the padded batch; larger images
            are left as they are.
        pad_value: Value of padded pixels (in normalised units).
        pad_position: ``'bottom_right'`` or ``'center'`` (see above).
        bgr_to_rgb: Convert the BGR images of the pipeline to RGB.
        non_blocking: Copy to the device without blocking.
    """

    def __init__(self, mean: Optional[Sequence[float]] = IMAGENET_MEAN,
                 std: Optional[Sequence[float]] = IMAGENET_STD, size_divisor: int = 1,
                 size: Optional[Sequence[int]] = None, pad_value: Union[float, int] = 0,
                 pad_position: str = 'bottom_right', bgr_to_rgb: bool = True,
                 non_blocking: bool = False) -> None:
        if (mean is None) != (std is None):
            raise ValueError('give both mean and std, or neither')
        if size_divisor < 1:
            raise ValueError(f'size_divisor must be >= 1, got {size_divisor}')
        super().__init__(mean=mean, std=std, pad_size_divisor=1, pad_value=pad_value,
                         bgr_to_rgb=bgr_to_rgb, non_blocking=non_blocking)
        self.size_divisor = int(size_divisor)
        self.size = None if size is None else (int(size[0]), int(size[1]))
        self.pad_position = check_pad_position(pad_position, type(self).__name__)

    def canvas_shape(self, sizes: Sequence[Tuple[int, int]]) -> Tuple[int, int]:
        """(H', W') of the batch that holds images of ``sizes``.

        Args:
            sizes (Sequence[Tuple[int, int]]): (h, w) of every image.

        Returns:
            Tuple[int, int]: The largest (h, w), at least ``size``, rounded
            up to a multiple of ``size_divisor``.
        """
        th, tw = max(s[0] for s in sizes), max(s[1] for s in sizes)
        if self.size:
            th, tw = max(th, self.size[0]), max(tw, self.size[1])
        d = self.size_divisor
        return -(-th // d) * d, -(-tw // d) * d

    def _normalise(self, x: Tensor) -> Tensor:
        """Channel conversion, float32 and normalisation of (3, H, W) or (B, 3, H, W)."""
        if self._channel_conversion:
            x = x[..., [2, 1, 0], :, :]
        x = x.float()
        if self._enable_normalize:
            if self.mean.shape[0] == 3 and x.shape[-3] != 3:
                raise ValueError(f'{type(self).__name__}: the input has {x.shape[-3]} '
                                 f'channels (shape {tuple(x.shape)}) but mean/std have '
                                 f'{self.mean.shape[0]}')
            x = (x - self.mean) / self.std
        return x

    def forward(self, data: dict, training: bool = False) -> dict:
        """Preprocess a collated batch.

        Args:
            data: ``dict(inputs=..., data_samples=...)`` from the collate function.
            training: Unused (train and test pad the same way); kept for the
                MMEngine interface.

        Returns:
            dict: ``inputs`` (B, 3, H', W') float32 and ``data_samples``.
        """
        data = self.cast_data(data)
        raw = data['inputs']
        if isinstance(raw, Tensor):
            if raw.dim() != 4:
                raise ValueError(f'{type(self).__name__}: a batched input must be '
                                 f'(B, C, H, W), got shape {tuple(raw.shape)}')
            images: List[Tensor] = list(self._normalise(raw))
        elif isinstance(raw, (list, tuple)) and all(isinstance(x, Tensor) for x in raw):
            images = [self._normalise(x) for x in raw]
        else:
            raise TypeError(f'{type(self).__name__}: inputs must be a tensor or a list of '
                            f'tensors, got {type(raw).__name__}')
        sizes = [tuple(int(s) for s in x.shape[-2:]) for x in images]
        th, tw = self.canvas_shape(sizes)
        offsets = [pad_offset(s, (th, tw), self.pad_position) for s in sizes]
        if all(s == (th, tw) for s in sizes):
            inputs = torch.stack(images)
        else:
            inputs = images[0].new_full((len(images), images[0].shape[0], th, tw),
                                        float(self.pad_value))
            for i, (x, (top, left), (h, w)) in enumerate(zip(images, offsets, sizes)):
                inputs[i, :, top:top + h, left:left + w] = x
        data['inputs'] = inputs
        samples = data.get('data_samples')
        if samples is not None:
            if len(samples) != len(images):
                raise ValueError(f'{type(self).__name__}: {len(images)} inputs but '
                                 f'{len(samples)} data samples')
            for sample, (top, left) in zip(samples, offsets):
                inner = sample.metainfo.get('pad_offset', (0, 0))
                sample.set_metainfo(dict(
                    batch_input_shape=(th, tw), pad_shape=(th, tw),
                    batch_offset=(top, left),
                    pad_offset=(int(inner[0]) + top, int(inner[1]) + left)))
        data.setdefault('data_samples', None)
        return data
