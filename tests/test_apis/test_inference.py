"""init_model / inference_model round trip on the tiny SAK config."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import save_checkpoint

from sakbox.apis import inference_model, init_model, prepare_model_cfg_for_test
from sakbox.registry import MODELS
from sakbox.utils import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'sak', 'sak_vit-tiny_synthetic-nyud.py')


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A training-time model (with teachers) and its checkpoint."""
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(CONFIG)
    with DefaultScope.overwrite_default_scope('sakbox'):
        model = MODELS.build(cfg.model)
    # move the weights away from the init so that loading is visible
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    path = str(tmp_path_factory.mktemp('ckpt') / 'model.pth')
    save_checkpoint(dict(state_dict=model.state_dict(), meta=dict()), path)
    return model.eval(), path


def test_init_model_has_no_teachers_and_same_outputs(trained):
    model, path = trained
    assert model.teachers is not None
    test_model = init_model(CONFIG, path)
    assert test_model.teachers is None and not test_model.training
    assert test_model.cfg.model.build_teachers is False
    x = torch.randn(1, 3, 96, 128)
    a, b = model(x, mode='tensor'), test_model(x, mode='tensor')
    for t in a:
        assert torch.allclose(a[t], b[t], atol=1e-5), t


@pytest.mark.parametrize('size', [(96, 128), (70, 90)])
def test_inference_on_array_path_and_list(trained, tmp_path, size):
    _, path = trained
    model = init_model(CONFIG, path)
    img = np.random.default_rng(0).integers(0, 255, (*size, 3), dtype=np.uint8)
    out = inference_model(model, img)
    assert out.pred_semseg.shape == size and out.pred_semseg.data.dtype == torch.int64
    assert out.pred_normals.data.shape == (3, *size)
    assert out.pred_depth.data.dtype == torch.float32 and (out.pred_depth.data >= 0).all()
    assert 0 <= out.pred_edge.data.min() and out.pred_edge.data.max() <= 1
    assert 'gt_semseg' not in out
    file = str(tmp_path / 'img.png')
    cv2.imwrite(file, img)
    from_file = inference_model(model, file)
    assert torch.equal(from_file.pred_semseg.data, out.pred_semseg.data)
    both = inference_model(model, [file, file])
    assert len(both) == 2 and torch.equal(both[1].pred_semseg.data, out.pred_semseg.data)


def test_checkpoint_that_does_not_fit_names_keys(trained, tmp_path):
    model, _ = trained
    sd = model.state_dict()
    sd.pop('decode_heads.semseg.last_conv.bias')
    sd['decode_heads.flow.weight'] = torch.zeros(1)
    bad = str(tmp_path / 'bad.pth')
    save_checkpoint(dict(state_dict=sd, meta=dict()), bad)
    with pytest.raises(KeyError, match=r'decode_heads\.semseg\.last_conv\.bias.*'
                                       r'decode_heads\.flow\.weight'):
        init_model(CONFIG, bad)
    with pytest.raises(FileNotFoundError):
        inference_model(init_model(CONFIG), str(tmp_path / 'missing.png'))


def test_prepare_model_cfg_for_test():
    cfg = dict(type='MultiTaskDistiller', teachers=dict(a=dict()), build_teachers=True,
               init_cfg=dict(type='Pretrained', checkpoint='x'),
               student=dict(type='SAKViT', pretrained=True, checkpoint='s1.pth'))
    prepare_model_cfg_for_test(cfg)
    assert cfg['build_teachers'] is False and 'init_cfg' not in cfg
    assert cfg['student'] == dict(type='SAKViT', pretrained=False, checkpoint=None)
    cfg = dict(teachers=dict(a=dict()), build_teachers_for_test=True)
    assert prepare_model_cfg_for_test(cfg, has_checkpoint=False)['build_teachers'] is True


@pytest.mark.parametrize('size', [(85, 115), (96, 128), (90, 101)])
def test_inference_runs_the_model_on_the_official_padded_input(trained, size):
    """inference_model = official protocol: normalise, pad centred to 96x128 with 0,
    run at that size, crop the image region back."""
    _, path = trained
    model = init_model(CONFIG, path)
    img = np.random.default_rng(1).integers(0, 255, (*size, 3), dtype=np.uint8)
    out = inference_model(model, img)
    rgb = img[..., ::-1].astype(np.float32)
    norm = (rgb / 255 - np.array([0.485, 0.456, 0.406], np.float32)) \
        / np.array([0.229, 0.224, 0.225], np.float32)
    h, w = size
    top, left = (96 - h) // 2, (128 - w) // 2
    canvas = np.zeros((96, 128, 3), np.float32)
    canvas[top:top + h, left:left + w] = norm
    x = torch.from_numpy(canvas.transpose(2, 0, 1).copy())[None]
    with torch.no_grad():
        logits = model(x, mode='tensor')
    assert out.pad_offset == (top, left) and out.pred_semseg.shape == size
    torch.testing.assert_close(out.pred_depth.data[0],
                               logits['depth'][0, 0, top:top + h, left:left + w].clamp(min=0),
                               atol=1e-4, rtol=1e-4)
    agree = (out.pred_semseg.data[0] ==
             logits['semseg'][0, :, top:top + h, left:left + w].argmax(0)).float().mean()
    assert agree > 0.999  # ties aside, the same labels
