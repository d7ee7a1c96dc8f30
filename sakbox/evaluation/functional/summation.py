"""Order-independent sums of per-image statistics.

Dataset scores sum one small array per image. Floating-point addition is not
associative, so a plain ``np.sum`` can change in the last bits when the
images come in another order (another sampler, another merge of the ranks'
results). :func:`exact_sum` adds integers exactly and floats with correct
rounding (``math.fsum``), which makes the sum a function of the set of
images only.
"""
import math
from typing import Sequence, Union

import numpy as np


def exact_sum(values: Union[np.ndarray, Sequence[np.ndarray]]) -> np.ndarray:
    """Element-wise sum over the first axis that does not depend on the order.

    Args:
        values: (N, ...) array, or N arrays of one shape, e.g. the per-image
            (9,) depth sums of a dataset.

    Returns:
        np.ndarray: (...) int64 sums of integer input (exact), float64 sums
        of float input (the correctly rounded value of the exact sum).

    Raises:
        ValueError: When there is nothing to sum (the shape would be unknown).
    """
    values = np.asarray(values)
    if values.ndim == 0 or values.shape[0] == 0:
        raise ValueError(f'exact_sum needs (N, ...) values with N >= 1, got shape '
                         f'{values.shape}')
    if values.dtype.kind in 'biu':
        return values.sum(axis=0, dtype=np.int64)
    flat = values.astype(np.float64).reshape(values.shape[0], -1)
    sums = [math.fsum(column) for column in flat.T.tolist()]
    return np.asarray(sums, dtype=np.float64).reshape(values.shape[1:])
