"""TeacherAdapterPath: r_0 = A_0(e), r_{i+1} = A_{i+1}(r_i + x_i)."""
import pytest
import torch

from sakbox.models.adapters import TeacherAdapterPath


@pytest.mark.parametrize('num_blocks', [1, 3])
def test_recurrence_matches_hand_written_reference(num_blocks):
    torch.manual_seed(0)
    path = TeacherAdapterPath(embed_dim=16, num_blocks=num_blocks, down_ratio=4)
    assert len(path.adapters) == num_blocks + 1
    embed = torch.randn(2, 6, 16)
    blocks = [torch.randn(2, 6, 16) for _ in range(num_blocks)]

    def adapter(k, t):
        a = path.adapters[k]
        return t + a.scale * a.up(torch.nn.functional.gelu(a.down(t)))

    r = adapter(0, embed)
    expected = []
    for i, x in enumerate(blocks):
        r = adapter(i + 1, r + x)
        expected.append(r)
    outs = path(embed, blocks)
    for a, b in zip(outs, expected):
        torch.testing.assert_close(a, b)
    # Step-wise API used by the stem gives the same result.
    torch.testing.assert_close(
        path.forward_block(num_blocks - 1, expected[-2] if num_blocks > 1 else
                           path.forward_embed(embed), blocks[-1]), expected[-1])


def test_wrong_number_of_blocks():
    with pytest.raises(ValueError, match='3 blocks, got 2'):
        TeacherAdapterPath(8, 3, down_ratio=2)(torch.randn(1, 2, 8), [torch.randn(1, 2, 8)] * 2)
