"""TimmCNNTeacher: features_only levels and strict local weights."""
import pytest
import timm
import torch

from sakbox.models.teachers import TimmCNNTeacher
from sakbox.utils import CheckpointMismatchError


@pytest.mark.parametrize('arch, out_indices, dims, strides', [
    ('test_resnet', (-4, -3, -2, -1), [32, 48, 192, 96], [4, 8, 16, 32]),
    ('test_resnet', (0, 2), [32, 48], [2, 8]),
    ('resnet10t', (1, 2, 3, 4), [64, 128, 256, 512], [4, 8, 16, 32]),
])
def test_shapes(arch, out_indices, dims, strides):
    t = TimmCNNTeacher(arch, out_indices=out_indices)
    assert t.embed_dims == dims and t.reductions == strides
    feats = t(torch.randn(2, 3, 64, 64))
    assert [tuple(f.shape) for f in feats] == [(2, c, 64 // s, 64 // s)
                                               for c, s in zip(dims, strides)]


def test_checkpoint_matches_reference(tmp_path):
    torch.manual_seed(0)
    ref = timm.create_model('test_resnet').eval()  # with its classifier: ignored
    path = str(tmp_path / 'cnn.pth')
    torch.save({'model': ref.state_dict()}, path)
    t = TimmCNNTeacher('test_resnet', checkpoint=path)
    x = torch.randn(1, 3, 64, 64)
    feat = t(x)[-1]
    expected = ref.forward_features(t.convert_input(x))
    torch.testing.assert_close(feat, expected)


def test_checkpoint_mismatch(tmp_path):
    sd = timm.create_model('test_resnet').state_dict()
    key = next(iter(sd))
    sd.pop(key)
    path = str(tmp_path / 'cnn_broken.pth')
    torch.save(sd, path)
    with pytest.raises(CheckpointMismatchError, match=f'cnn_broken.pth.*missing keys: {key}'):
        TimmCNNTeacher('test_resnet', checkpoint=path)
