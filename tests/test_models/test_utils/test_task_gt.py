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


@pytest.mark.parametrize('task', ['semseg', 'depth', 'normals'])
def test_gt_is_stacked_at_the_batch_offset(task):
    c = 3 if task == 'normals' else 1
    dtype = torch.int64 if task == 'semseg' else torch.float32
    pad = 255 if task == 'semseg' else 0
    a = torch.arange(1, 1 + c * 12, dtype=dtype).view(c, 3, 4)
    s0, s1 = sample(**{task: a}), sample(**{task: a[:, :2, :3]})
    s0.set_metainfo(dict(batch_offset=(2, 1)))
    s1.set_metainfo(dict(batch_offset=(0, 3)))
    out = stack_task_gt([s0, s1], task, (6, 6))
    assert torch.equal(out[0, :, 2:5, 1:5], a) and torch.equal(out[1, :, 0:2, 3:6], a[:, :2, :3])
    inside = torch.zeros(2, 6, 6, dtype=torch.bool)
    inside[0, 2:5, 1:5] = True
    inside[1, 0:2, 3:6] = True
    assert (out.permute(1, 0, 2, 3)[:, ~inside] == pad).all()
    s0.set_metainfo(dict(batch_offset=(4, 0)))
    with pytest.raises(ValueError, match=r'at batch_offset \(4, 0\), which does not fit'):
        stack_task_gt([s0], task, (6, 6))


@pytest.mark.parametrize('position', ['center', 'bottom_right'])
def test_gt_lands_under_its_pixels_after_the_preprocessor(position):
    """The ground truth stacked for the loss sits under the same pixels as the image."""
    from mmengine.dataset import pseudo_collate

    from sakbox.models.data_preprocessors import MultiTaskDataPreProcessor

    items = []
    for h, w in [(11, 14), (16, 9), (5, 7)]:
        img = torch.randint(0, 256, (3, h, w), dtype=torch.uint8,
                            generator=torch.Generator().manual_seed(h * w))
        s = MultiTaskDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w)))
        s.set_gt('semseg', img[:1].long())  # the label map is the blue channel
        s.set_gt('normals', img.float() / 255)
        items.append(dict(inputs=img, data_samples=s))
    pre = MultiTaskDataPreProcessor(mean=None, std=None, bgr_to_rgb=False, size=(16, 16),
                                    pad_value=-1, pad_position=position)
    out = pre(pseudo_collate(items))
    size = out['inputs'].shape[-2:]
    seg = stack_task_gt(out['data_samples'], 'semseg', size)
    normals = stack_task_gt(out['data_samples'], 'normals', size)
    image = out['inputs']
    valid = image[:, 0] >= 0
    assert torch.equal(seg[:, 0][valid], image[:, 0][valid].long())
    assert (seg[:, 0][~valid] == 255).all()
    torch.testing.assert_close(normals[valid.unsqueeze(1).expand_as(normals)],
                               (image / 255)[valid.unsqueeze(1).expand_as(image)])
    assert (normals.permute(1, 0, 2, 3)[:, ~valid] == 0).all()
