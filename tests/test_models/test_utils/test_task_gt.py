"""stack_task_gt and postprocess_logits."""
import pytest
import torch
import torch.nn.functional as F

from sakbox.models.utils import postprocess_logits, stack_task_gt
from sakbox.structures import MultiTaskDataSample


def sample(**gts):
    s = MultiTaskDataSample(metainfo=dict(img_path='x.png'))
    for task, data in gts.items():
        s.set_gt(task, data)
    return s


@pytest.mark.parametrize('task,dtype,pad', [
    ('semseg', torch.int64, 255), ('edge', torch.int64, 255), ('sal', torch.int64, 255),
    ('human_parts', torch.int64, 255), ('depth', torch.float32, 0),
    ('normals', torch.float32, 0)])
def test_pad_values_and_dtypes(task, dtype, pad):
    c = 3 if task == 'normals' else 1
    a = torch.ones(c, 3, 4, dtype=dtype)
    b = torch.full((c, 5, 2), 2, dtype=dtype)
    out = stack_task_gt([sample(**{task: a}), sample(**{task: b})], task, (5, 6))
    assert out.shape == (2, c, 5, 6) and out.dtype == dtype
    assert (out[0, :, :3, :4] == 1).all() and (out[0, :, 3:] == pad).all()
    assert (out[0, :, :, 4:] == pad).all()
    assert (out[1, :, :, :2] == 2).all() and (out[1, :, :, 2:] == pad).all()


def test_missing_sample_gt_is_invalid_and_errors():
    out = stack_task_gt([sample(semseg=torch.zeros(1, 2, 2, dtype=torch.int64)), sample()],
                        'semseg', (2, 2))
    assert (out[1] == 255).all() and (out[0] == 0).all()
    with pytest.raises(KeyError, match='gt_depth'):
        stack_task_gt([sample()], 'depth', (2, 2))
    with pytest.raises(ValueError, match='does not fit in the batch input size'):
        stack_task_gt([sample(depth=torch.ones(1, 4, 4))], 'depth', (2, 2))


def test_postprocess():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, 3, 3, generator=g)
    sem = postprocess_logits('semseg', x)
    assert sem.dtype == torch.int64 and sem.shape == (2, 1, 3, 3)
    assert (sem[:, 0] == x.argmax(1)).all()
    n = postprocess_logits('normals', x[:, :3])
    assert torch.allclose(n.norm(dim=1), torch.ones(2, 3, 3))
    d = postprocess_logits('depth', x[:, :1])
    assert (d >= 0).all() and torch.allclose(d, x[:, :1].clamp(min=0))
    e = postprocess_logits('edge', x[:, :1])
    assert torch.allclose(e, torch.sigmoid(x[:, :1]))
    s = postprocess_logits('sal', x[:, :2])
    assert torch.allclose(s, F.softmax(x[:, :2], 1)[:, 1:2])
    with pytest.raises(KeyError, match='optical_flow'):
        postprocess_logits('optical_flow', x)
