"""Batch the images of multi-task samples: BGR->RGB, normalise, pad."""
from typing import Optional, Sequence, Union

import torch.nn.functional as F
from mmengine.model import ImgDataPreprocessor

from ...registry import MODELS

#: ImageNet statistics in RGB order on the 0-255 scale.
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


@MODELS.register_module()
class MultiTaskDataPreProcessor(ImgDataPreprocessor):
    """Stack, convert BGR->RGB, normalise and pad a batch of multi-task samples.

    Takes what ``pseudo_collate`` (list of (3, H, W) tensors of any sizes) or
    ``default_collate`` ((B, 3, H, W) tensor) gives and returns ``dict(inputs=
    (B, 3, H', W') float tensor, data_samples=list)``. Images are padded at the
    bottom and right, after normalisation, with ``pad_value`` to the largest
    size in the batch, then to at least ``size``, then to a multiple of
    ``size_divisor``. Every sample gets ``batch_input_shape`` and
    ``pad_shape`` = (H', W') in its metainfo. The ground truth in the data
    samples is **not** touched (models pad it with
    ``sakbox.models.utils.stack_task_gt``).

    Args:
        mean: Per-channel mean in RGB order (0-255 scale); ``None`` disables
            normalisation. Default: ImageNet.
        std: Per-channel std in RGB order (0-255 scale). Default: ImageNet.
        size_divisor: Pad H and W to a multiple of this.
        size: Optional minimum (H, W) of the padded batch.
        pad_value: Value of padded pixels (in normalised units).
        bgr_to_rgb: Convert the BGR images of the pipeline to RGB.
        non_blocking: Copy to the device without blocking.
    """

    def __init__(self, mean: Optional[Sequence[float]] = IMAGENET_MEAN,
                 std: Optional[Sequence[float]] = IMAGENET_STD, size_divisor: int = 1,
                 size: Optional[Sequence[int]] = None, pad_value: Union[float, int] = 0,
                 bgr_to_rgb: bool = True, non_blocking: bool = False) -> None:
        if (mean is None) != (std is None):
            raise ValueError('give both mean and std, or neither')
        if size_divisor < 1:
            raise ValueError(f'size_divisor must be >= 1, got {size_divisor}')
        super().__init__(mean=mean, std=std, pad_size_divisor=1, pad_value=pad_value,
                         bgr_to_rgb=bgr_to_rgb, non_blocking=non_blocking)
        self.size_divisor = int(size_divisor)
        self.size = None if size is None else (int(size[0]), int(size[1]))

    def forward(self, data: dict, training: bool = False) -> dict:
        """Preprocess a collated batch.

        Args:
            data: ``dict(inputs=..., data_samples=...)`` from the collate function.
            training: Unused; kept for the MMEngine interface.

        Returns:
            dict: ``inputs`` (B, 3, H', W') float32 and ``data_samples``.
        """
        data = super().forward(data, training)
        inputs = data['inputs']
        h, w = inputs.shape[-2:]
        th, tw = (max(h, self.size[0]), max(w, self.size[1])) if self.size else (h, w)
        th = -(-th // self.size_divisor) * self.size_divisor
        tw = -(-tw // self.size_divisor) * self.size_divisor
        if (th, tw) != (h, w):
            inputs = F.pad(inputs, (0, tw - w, 0, th - h), 'constant', self.pad_value)
        data['inputs'] = inputs
        samples = data.get('data_samples')
        if samples is not None:
            for sample in samples:
                sample.set_metainfo(dict(batch_input_shape=(th, tw), pad_shape=(th, tw)))
        return data
