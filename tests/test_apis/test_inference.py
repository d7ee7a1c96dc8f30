"""init_model / inference_model round trip on the tiny SAK config."""
import os.path as osp
import re

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import save_checkpoint

from sakbox.apis import inference_model, init_model, load_model_weights, prepare_model_cfg_for_test
from sakbox.registry import MODELS
from sakbox.utils import CheckpointError, CheckpointMismatchError, register_all_modules
from tests.fixtures.official_sak_checkpoints import (
    official_multitask_state_dict,
    official_training_checkpoint,
)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'sak', 'sak_vit-tiny_1xb4-600it_synthetic-nyud-96x128.py')


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


def _edited_checkpoint(model, path):
    """``model``'s weights with a head tensor missing and one key too many."""
    sd = model.state_dict()
    sd.pop('decode_heads.semseg.last_conv.bias')
    sd['decode_heads.flow.weight'] = torch.zeros(1)
    save_checkpoint(dict(state_dict=sd, meta=dict()), path)
    return sd


def test_checkpoint_that_does_not_fit_names_file_counts_and_keys(trained, tmp_path):
    model, _ = trained
    bad = str(tmp_path / 'bad.pth')
    _edited_checkpoint(model, bad)
    num = len(model.state_dict())
    with pytest.raises(CheckpointMismatchError) as err:
        init_model(CONFIG, bad)
    msg = str(err.value)
    assert f'checkpoint {bad} does not fit MultiTaskDistiller' in msg
    assert f'loaded {num - 1} of {num} model tensors' in msg
    assert '1 missing (first: decode_heads.semseg.last_conv.bias)' in msg
    assert '1 unexpected (first: decode_heads.flow.weight)' in msg
    assert '--non-strict' in msg
    with pytest.raises(FileNotFoundError):
        inference_model(init_model(CONFIG), str(tmp_path / 'missing.png'))


def test_shape_mismatch_is_named_with_both_shapes(trained, tmp_path):
    model, _ = trained
    sd = model.state_dict()
    sd['decode_heads.depth.last_conv.weight'] = sd['decode_heads.depth.last_conv.weight'][:, :4]
    bad = str(tmp_path / 'narrow.pth')
    save_checkpoint(dict(state_dict=sd, meta=dict()), bad)
    want = tuple(model.state_dict()['decode_heads.depth.last_conv.weight'].shape)
    got = (want[0], 4) + want[2:]
    with pytest.raises(CheckpointMismatchError,
                       match=re.escape(f'1 with another shape (first: decode_heads.depth.'
                                       f'last_conv.weight: checkpoint {got} vs model {want})')):
        init_model(CONFIG, bad)


def test_non_strict_loads_what_fits_and_keeps_the_rest(trained, tmp_path):
    model, _ = trained
    bad = str(tmp_path / 'bad.pth')
    sd = _edited_checkpoint(model, bad)
    loose = init_model(CONFIG, bad, strict=False)
    for key, value in loose.state_dict().items():
        if key == 'decode_heads.semseg.last_conv.bias':  # not in the file: still the init
            assert not torch.equal(value, model.state_dict()[key])
        else:
            assert torch.equal(value, sd[key]), key


def test_load_model_weights_strict_leaves_the_model_untouched(trained, tmp_path):
    model, _ = trained
    bad = str(tmp_path / 'bad.pth')
    _edited_checkpoint(model, bad)
    target = init_model(CONFIG)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(CheckpointMismatchError):
        load_model_weights(target, bad)
    assert all(torch.equal(v, before[k]) for k, v in target.state_dict().items())
    fit = load_model_weights(target, bad, strict=False)
    assert not fit.complete and len(fit.loaded) == len(before) - 1
    assert fit.missing == ['decode_heads.semseg.last_conv.bias']
    assert fit.unexpected == ['decode_heads.flow.weight']


def test_official_sak_release_gets_the_converter_hint(tmp_path):
    src = str(tmp_path / 'nyud_checkpoint.pth')
    torch.save(official_training_checkpoint(official_multitask_state_dict()), src)
    with pytest.raises(CheckpointMismatchError) as err:
        init_model(CONFIG, src)
    msg = str(err.value)
    assert 'looks like an official SAK release' in msg and 'backbone.tsap.' in msg
    assert f'python tools/model_converters/sak_official_to_sakbox.py {src} ' in msg


def test_unreadable_checkpoint_names_the_file(tmp_path):
    path = tmp_path / 'weights.pth'
    path.write_text('not weights')
    with pytest.raises(CheckpointError, match=f'{re.escape(str(path))} is not a PyTorch '
                                              'checkpoint: it is a text file'):
        init_model(CONFIG, str(path))


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
