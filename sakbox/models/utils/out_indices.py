"""Which blocks of a ViT give its feature levels (students and teachers alike)."""
from typing import List, Optional, Sequence

# Output blocks of the official SAK for the usual ViT depths (S/B, L, H, g and
# SigLIP so400m). Other depths fall back to four evenly spaced blocks.
_OUT_INDICES_BY_DEPTH = {
    12: [2, 5, 8, 11],
    24: [5, 11, 17, 23],
    27: [6, 13, 20, 26],
    32: [7, 15, 23, 31],
    40: [9, 19, 29, 39],
}


def default_out_indices(depth: int, num_levels: int = 4) -> List[int]:
    """Block indices whose outputs form the feature levels of a ViT.

    Args:
        depth (int): Number of transformer blocks.
        num_levels (int): Number of levels wanted. Defaults to 4.

    Returns:
        List[int]: Increasing block indices, the last one being ``depth - 1``.
        Depths 12/24/27/32/40 with 4 levels give the official SAK indices.

    Raises:
        ValueError: If ``depth < num_levels`` (pass ``out_indices`` explicitly).
    """
    if num_levels == 4 and depth in _OUT_INDICES_BY_DEPTH:
        return list(_OUT_INDICES_BY_DEPTH[depth])
    if depth < num_levels:
        raise ValueError(f'A ViT with {depth} blocks cannot give {num_levels} distinct '
                         'output levels by default; pass out_indices explicitly.')
    return [(k + 1) * depth // num_levels - 1 for k in range(num_levels)]


def resolve_out_indices(out_indices: Optional[Sequence[int]], depth: int) -> List[int]:
    """Check user ``out_indices`` (negative ones count from the end) or pick defaults.

    Args:
        out_indices (Sequence[int], optional): Block indices, or None for defaults.
        depth (int): Number of blocks of the model.

    Returns:
        List[int]: Non-negative, strictly increasing indices.

    Raises:
        ValueError: An index is out of range or the indices do not increase.
    """
    if out_indices is None:
        return default_out_indices(depth)
    resolved = [int(i) + depth if int(i) < 0 else int(i) for i in out_indices]
    if not resolved or any(i < 0 or i >= depth for i in resolved):
        raise ValueError(f'out_indices {list(out_indices)} out of range for a model with '
                         f'{depth} blocks.')
    if sorted(set(resolved)) != resolved:
        raise ValueError(f'out_indices must be strictly increasing, got {list(out_indices)}.')
    return resolved
