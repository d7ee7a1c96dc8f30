"""Output-level defaults of ViTs (shared by students and teachers)."""
import pytest

from sakbox.models.utils import default_out_indices, resolve_out_indices


@pytest.mark.parametrize('depth, expected', [
    (12, [2, 5, 8, 11]), (24, [5, 11, 17, 23]), (32, [7, 15, 23, 31]),
    (40, [9, 19, 29, 39]), (27, [6, 13, 20, 26]), (4, [0, 1, 2, 3]), (8, [1, 3, 5, 7])])
def test_default_out_indices(depth, expected):
    assert default_out_indices(depth) == expected


def test_out_indices_errors_and_negative():
    assert resolve_out_indices([-2, -1], 4) == [2, 3]
    with pytest.raises(ValueError, match='out of range'):
        resolve_out_indices([0, 4], 4)
    with pytest.raises(ValueError, match='strictly increasing'):
        resolve_out_indices([2, 1], 4)
    with pytest.raises(ValueError, match='pass out_indices explicitly'):
        default_out_indices(2)
