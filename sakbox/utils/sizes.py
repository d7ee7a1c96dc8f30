"""Read a size argument given as one number or as ``(H, W)``."""
from typing import Sequence, Tuple, Union

Size = Union[int, Sequence[int]]


def to_hw(size: Size, name: str = 'size') -> Tuple[int, int]:
    """``(H, W)`` of a size given as an int (square) or a pair (timm's ``to_2tuple``, checked).

    Args:
        size (int | Sequence[int]): One side for a square, or ``(H, W)``.
        name (str): The argument's name, quoted in errors. Defaults to ``'size'``.

    Returns:
        Tuple[int, int]: ``(H, W)``.

    Raises:
        ValueError: ``size`` is neither a number nor a pair.
    """
    if isinstance(size, (int, float)) and not isinstance(size, bool):
        return int(size), int(size)
    if isinstance(size, str) or not hasattr(size, '__len__') or len(size) != 2:
        raise ValueError(f'{name} must be an int or (H, W), got {size}')
    return int(size[0]), int(size[1])
