"""sakbox.utils.publish_checkpoint: a slimmed, hash-named checkpoint that still loads strictly."""
import hashlib
import os.path as osp

import numpy as np
import pytest
import torch

from sakbox.apis import inference_model, init_model
from sakbox.utils import CheckpointError
from sakbox.utils.publish_checkpoint import publish_checkpoint, slim_checkpoint

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY = osp.join(ROOT, 'configs', 'sak', 'sak_vit-tiny_synthetic-nyud.py')


def _training_checkpoint(model) -> dict:
    """What tools/train.py saves: weights + optimizer, message hub, schedulers (+ teachers)."""
    optim = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sum(p.sum() for p in model.parameters()).backward()
    optim.step()
    optim.zero_grad()
    state_dict = model.state_dict()
    state_dict['teachers.dinov2.cls_token'] = torch.zeros(1, 1, 64)  # save_teachers=True
    return dict(meta=dict(iter=3, dataset_meta=dict(num_classes=40)), state_dict=state_dict,
                optimizer=optim.state_dict(), message_hub=dict(log_scalars={}),
                param_schedulers=[dict(last_epoch=3)])


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    torch.manual_seed(0)
    model = init_model(TINY)
    path = tmp_path_factory.mktemp('ckpt') / 'iter_3.pth'
    torch.save(_training_checkpoint(model), path)
    return model, str(path)


def test_published_file_loads_strictly_and_predicts_the_same(trained, tmp_path):
    model, src = trained
    final, summary = publish_checkpoint(src, str(tmp_path / 'rel' / 'sak_tiny.pth'))
    with open(final, 'rb') as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    assert final == str(tmp_path / 'rel' / f'sak_tiny-{sha[:8]}.pth') and summary['sha256'] == sha
    assert sorted(osp.basename(p) for p in (tmp_path / 'rel').iterdir()) == [osp.basename(final)]
    assert summary['dropped'] == ['message_hub', 'optimizer', 'param_schedulers']
    assert summary['teacher_tensors'] == 1
    ckpt = torch.load(final, map_location='cpu', weights_only=True)
    assert sorted(ckpt) == ['meta', 'state_dict'] and ckpt['meta']['iter'] == 3
    assert not any(k.startswith('teachers.') for k in ckpt['state_dict'])
    assert osp.getsize(final) < osp.getsize(src)  # no AdamW moments

    published = init_model(TINY, final)  # strict: every tensor, nothing else
    img = np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    expected, got = inference_model(model, img), inference_model(published, img)
    for task in ('semseg', 'depth', 'normals', 'edge'):
        assert torch.equal(getattr(expected, f'pred_{task}').data,
                           getattr(got, f'pred_{task}').data), task


def test_publishing_is_reproducible(trained, tmp_path):
    _, src = trained
    first, _ = publish_checkpoint(src, str(tmp_path / 'a.pth'))
    again, _ = publish_checkpoint(src, str(tmp_path / 'a.pth'))
    assert first == again
    no_suffix, _ = publish_checkpoint(src, str(tmp_path / 'b'))
    assert osp.basename(no_suffix).startswith('b-') and no_suffix.endswith('.pth')


def test_inputs_that_are_no_training_checkpoint_raise_naming_the_file(tmp_path):
    text = tmp_path / 'notes.pth'
    text.write_text('not weights')
    with pytest.raises(CheckpointError, match=r'notes.pth is not a PyTorch checkpoint'):
        publish_checkpoint(str(text), str(tmp_path / 'out.pth'))
    other = tmp_path / 'other.pth'
    torch.save(dict(epoch=3, weights=[1, 2]), other)
    with pytest.raises(CheckpointError, match=r"other.pth is not a sakbox training checkpoint: "
                       r"expected a dict with a 'state_dict' of tensors .* got top-level keys "
                       r"\['epoch', 'weights'\]"):
        publish_checkpoint(str(other), str(tmp_path / 'out.pth'))
    with pytest.raises(CheckpointError, match='t.pth holds only teacher weights'):
        slim_checkpoint(dict(state_dict={'teachers.a.w': torch.zeros(1)}), 't.pth')
    assert not list(tmp_path.glob('out*'))
