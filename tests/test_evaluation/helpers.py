"""Builders of data samples for the evaluation tests."""
from typing import Dict, Optional

import numpy as np
import torch

from sakbox.structures import MultiTaskDataSample


def make_sample(preds: Dict[str, np.ndarray], gts: Dict[str, np.ndarray],
                img_path: Optional[str] = 'img.png', as_dict: bool = False):
    """A MultiTaskDataSample (or its ``to_dict()``) with (C, H, W) pred_/gt_ fields.

    2-D arrays get a leading channel axis; label maps become int64, maps float32.
    """
    sample = MultiTaskDataSample(metainfo=dict(img_path=img_path))
    for store, maps in ((sample.set_pred, preds), (sample.set_gt, gts)):
        for task, arr in maps.items():
            arr = np.asarray(arr)
            if arr.ndim == 2:
                arr = arr[None]
            tensor = torch.from_numpy(arr.copy())
            tensor = tensor.long() if arr.dtype.kind in 'iub' else tensor.float()
            store(task, tensor)
    return sample.to_dict() if as_dict else sample
