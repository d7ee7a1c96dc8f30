"""BaseTeacher behaviour shared by every teacher: input conversion and freezing."""
import pytest
import torch

from sakbox.models.teachers import IMAGENET_MEAN_255, IMAGENET_STD_255
from sakbox.registry import MODELS

from .tiny_models import TINY_OPEN_CLIP

TINY_VIT = dict(depth=4, embed_dim=32, num_heads=2)
TEACHERS = {
    'timm_vit': dict(type='TimmViTTeacher', arch='vit_base_patch16_384', img_size=32,
                     model_kwargs=TINY_VIT),
    'sam': dict(type='SAMTeacher', long_side=32,
                model_kwargs=dict(TINY_VIT, global_attn_indexes=(1, 3), window_size=2,
                                  neck_chans=16)),
    'timm_cnn': dict(type='TimmCNNTeacher', arch='test_resnet'),
    'torchvision': dict(type='TorchvisionTeacher', arch='mobilenet_v2', probe_size=64),
    'open_clip': dict(type='OpenCLIPTeacher', model_name='ViT-B-16', img_size=32,
                      out_indices=[0, 1],
                      model_kwargs=TINY_OPEN_CLIP),
}


@pytest.fixture(scope='module', params=list(TEACHERS))
def teacher(request):
    return MODELS.build(TEACHERS[request.param])


def test_frozen_and_stays_eval(teacher):
    assert all(not p.requires_grad for p in teacher.parameters())
    teacher.train()
    assert not teacher.training
    assert not any(m.training for m in teacher.modules())
    x = torch.randn(2, 3, 32, 32, requires_grad=True)
    feats = teacher(x)
    assert len(feats) == len(teacher.embed_dims) == len(teacher.out_indices)
    for f, c in zip(feats, teacher.embed_dims):
        assert f.dim() == 4 and f.shape[:2] == (2, c)
        assert not f.requires_grad  # no graph is built through the teacher
    # init_weights must never re-initialise the (pretrained) network.
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    teacher.init_weights()
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())


def test_convert_input_matches_reference(teacher):
    x = torch.randn(2, 3, 8, 8)
    in_mean = torch.tensor(IMAGENET_MEAN_255).view(1, 3, 1, 1)
    in_std = torch.tensor(IMAGENET_STD_255).view(1, 3, 1, 1)
    rgb255 = x * in_std + in_mean
    mean = torch.tensor(teacher.mean).view(1, 3, 1, 1)
    std = torch.tensor(teacher.std).view(1, 3, 1, 1)
    torch.testing.assert_close(teacher.convert_input(x), (rgb255 - mean) / std)


@pytest.mark.parametrize('name, mean01', [
    ('timm_vit', (0.5, 0.5, 0.5)),  # vit_*_patch16_384 augreg uses Inception stats
    ('sam', (0.485, 0.456, 0.406)),
    ('open_clip', (0.48145466, 0.4578275, 0.40821073)),
    ('torchvision', (0.485, 0.456, 0.406)),
])
def test_default_stats_come_from_the_library(name, mean01):
    t = MODELS.build(TEACHERS[name])
    assert t.mean == pytest.approx([m * 255 for m in mean01])


def test_custom_stats_and_student_normalisation():
    cfg = dict(TEACHERS['timm_vit'], input_mean=(0., 0., 0.), input_std=(255., 255., 255.),
               mean=(10., 20., 30.), std=(2., 4., 8.))
    t = MODELS.build(cfg)
    x = torch.rand(1, 3, 4, 4)  # student input in 0-1
    expected = (x * 255 - torch.tensor([10., 20., 30.]).view(1, 3, 1, 1)) / torch.tensor(
        [2., 4., 8.]).view(1, 3, 1, 1)
    torch.testing.assert_close(t.convert_input(x), expected)
    with pytest.raises(ValueError, match='mean needs 3 RGB values'):
        MODELS.build(dict(cfg, mean=(1., 2.)))
