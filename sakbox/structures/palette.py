"""The PASCAL VOC colour map, the one label palette of sakbox (datasets and visualiser)."""
from typing import List


def voc_palette(num_colors: int) -> List[List[int]]:
    """The standard PASCAL VOC colour map (bit-interleaved), RGB; colour 0 is black.

    Args:
        num_colors: Number of colours.

    Returns:
        list: ``num_colors`` [R, G, B] triples; colour ``i`` is VOC index ``i``.
    """
    palette = []
    for i in range(num_colors):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette.append([r, g, b])
    return palette
