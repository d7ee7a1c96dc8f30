"""Task losses vs reference computations (official SAK formulas, ignore rules)."""
import pytest
import torch
import torch.nn.functional as F

from sakbox.models.losses import (
    BalancedBCELoss,
    DepthL1Loss,
    L1Loss,
    MultiTaskCrossEntropyLoss,
    NormalsL1Loss,
)
from sakbox.registry import MODELS


def official_ce(pred, label, balanced=False, ignore=255):
    """Official SAK CELoss formula written out."""
    label = label.squeeze(1).long()
    weight = None
    if balanced:
        valid = label[label != ignore].float()
        w_pos = (1 - valid).sum() / valid.numel()
        weight = torch.stack([1 - w_pos, w_pos])
    loss = F.cross_entropy(pred, label, weight=weight, ignore_index=ignore, reduction='sum')
    return loss / max(int((label != ignore).sum()), 1)


def official_bbce(pred, label, w=0.95, ignore=255):
    mask = label != ignore
    out, lab = pred[mask], label[mask].float()
    factor = 1 / (1 - w)
    return F.binary_cross_entropy_with_logits(out, lab, pos_weight=torch.tensor(w * factor)) \
        / factor


def official_l1(pred, label, normalize=False, ignore=255):
    if normalize:
        pred = F.normalize(pred, p=2, dim=1)
    mask = (label != ignore).all(dim=1, keepdim=True)
    loss = (pred.masked_select(mask) - label.masked_select(mask)).abs().sum()
    return loss / max(int(mask.sum()), 1)


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(0)


@pytest.mark.parametrize('num_classes', [2, 5])
@pytest.mark.parametrize('weight', [1.0, 2.0])
def test_ce_matches_official_without_invalid(gen, num_classes, weight):
    pred = torch.randn(2, num_classes, 6, 7, generator=gen)
    label = torch.randint(0, num_classes, (2, 1, 6, 7), generator=gen)
    loss = MultiTaskCrossEntropyLoss(loss_weight=weight)(pred, label)
    assert torch.allclose(loss, weight * official_ce(pred, label))
    # sum / #valid is the plain mean when every pixel is valid
    assert torch.allclose(loss, weight * F.cross_entropy(pred, label[:, 0]))


def test_ce_ignores_255_and_counts_valid(gen):
    pred = torch.randn(1, 3, 4, 4, generator=gen, requires_grad=True)
    label = torch.randint(0, 3, (1, 1, 4, 4), generator=gen)
    label[..., :2, :] = 255
    loss = MultiTaskCrossEntropyLoss()(pred, label)
    keep = label[0, 0] != 255
    logp = F.log_softmax(pred[0], 0)
    ref = -logp.permute(1, 2, 0)[keep].gather(1, label[0, 0][keep][:, None]).sum() / keep.sum()
    assert torch.allclose(loss, ref)
    loss.backward()
    assert pred.grad[..., :2, :].abs().sum() == 0  # ignored pixels get no gradient
    assert torch.allclose(loss, official_ce(pred, label))


def test_ce_all_ignored_is_zero_with_graph(gen):
    pred = torch.randn(1, 3, 2, 2, generator=gen, requires_grad=True)
    loss = MultiTaskCrossEntropyLoss()(pred, torch.full((1, 1, 2, 2), 255))
    assert loss.item() == 0 and loss.requires_grad


def test_balanced_ce_matches_official_and_hand(gen):
    pred = torch.randn(2, 2, 5, 5, generator=gen)
    label = torch.randint(0, 2, (2, 1, 5, 5), generator=gen)
    loss = MultiTaskCrossEntropyLoss(balanced=True)(pred, label)
    assert torch.allclose(loss, official_ce(pred, label, balanced=True))
    # hand: w0 = #pos / N, w1 = #neg / N; sum of weighted NLL / N
    n = label.numel()
    n_pos = label.sum()
    w = torch.tensor([n_pos / n, (n - n_pos) / n])
    nll = F.cross_entropy(pred, label[:, 0], reduction='none')
    hand = (nll * w[label[:, 0]]).sum() / n
    assert torch.allclose(loss, hand)
    # with ignore: statistics over valid pixels only
    label[0, 0, 0] = 255
    assert torch.allclose(MultiTaskCrossEntropyLoss(balanced=True)(pred, label),
                          official_ce(pred, label, balanced=True))


def test_balanced_ce_rejects_non_binary(gen):
    with pytest.raises(ValueError, match='binary'):
        MultiTaskCrossEntropyLoss(balanced=True)(torch.randn(1, 2, 2, 2), torch.full((1, 1, 2, 2), 3))


@pytest.mark.parametrize('pos_weight', [0.95, 0.7])
def test_balanced_bce_matches_official_and_hand(gen, pos_weight):
    pred = torch.randn(2, 1, 6, 6, generator=gen)
    label = torch.randint(0, 2, (2, 1, 6, 6), generator=gen)
    loss = BalancedBCELoss(pos_weight=pos_weight, loss_weight=50)(pred, label)
    assert torch.allclose(loss, 50 * official_bbce(pred, label, pos_weight))
    p = torch.sigmoid(pred)
    y = label.float()
    hand = -(pos_weight * y * torch.log(p) + (1 - pos_weight) * (1 - y) * torch.log(1 - p))
    assert torch.allclose(loss, 50 * hand.mean(), atol=1e-5)
    label[:, :, :3] = 255
    hand_valid = hand[:, :, 3:].mean()
    assert torch.allclose(BalancedBCELoss(pos_weight)(pred, label), hand_valid, atol=1e-5)


def test_normals_l1_matches_official_and_ignores_zero_vectors(gen):
    pred = torch.randn(2, 3, 5, 5, generator=gen)
    gt = F.normalize(torch.randn(2, 3, 5, 5, generator=gen), dim=1)
    loss = NormalsL1Loss(loss_weight=10)(pred, gt)
    assert torch.allclose(loss, 10 * official_l1(pred, gt, normalize=True))
    assert torch.allclose(loss, L1Loss(normalize=True, loss_weight=10)(pred, gt))
    # official marks invalid normals with 255; sakbox with zero vectors: same loss
    gt_zero, gt_255 = gt.clone(), gt.clone()
    gt_zero[0, :, 1:3] = 0
    gt_255[0, :, 1:3] = 255
    a = NormalsL1Loss()(pred, gt_zero)
    assert torch.allclose(a, official_l1(pred, gt_255, normalize=True))
    assert torch.allclose(NormalsL1Loss()(pred, gt_255), a)
    # hand: per valid pixel, sum over channels of |n(pred) - gt|, mean over pixels
    valid = gt_zero.abs().sum(1) > 0
    hand = (F.normalize(pred, dim=1) - gt_zero).abs().sum(1)[valid].mean()
    assert torch.allclose(a, hand)


def test_depth_l1_matches_official_and_ignores_nonpositive(gen):
    pred = torch.randn(2, 1, 4, 6, generator=gen)
    gt = torch.rand(2, 1, 4, 6, generator=gen) * 5 + 0.1
    assert torch.allclose(DepthL1Loss()(pred, gt), official_l1(pred, gt))
    assert torch.allclose(DepthL1Loss()(pred, gt), (pred - gt).abs().mean())
    gt_inv = gt.clone()
    gt_inv[0, 0, 0] = 0.0
    gt_inv[1, 0, 1] = -1.0
    gt_inv[1, 0, 2] = 255
    keep = (gt_inv > 0) & (gt_inv != 255)
    assert torch.allclose(DepthL1Loss()(pred, gt_inv), (pred - gt_inv).abs()[keep].mean())
    # official: invalid depth was set to 255 by the dataset
    gt_off = gt_inv.clone()
    gt_off[~keep] = 255
    assert torch.allclose(DepthL1Loss()(pred, gt_inv), official_l1(pred, gt_off))


def test_losses_all_invalid_and_shape_errors():
    pred = torch.randn(1, 1, 2, 2, requires_grad=True)
    assert DepthL1Loss()(pred, torch.zeros(1, 1, 2, 2)).item() == 0
    assert BalancedBCELoss()(pred, torch.full((1, 1, 2, 2), 255)).item() == 0
    with pytest.raises(ValueError, match='same shape'):
        DepthL1Loss()(pred, torch.zeros(1, 1, 3, 2))
    with pytest.raises(ValueError, match='pos_weight'):
        BalancedBCELoss(pos_weight=1.0)


@pytest.mark.parametrize('name', ['MultiTaskCrossEntropyLoss', 'BalancedBCELoss', 'L1Loss', 'DepthL1Loss',
                                  'NormalsL1Loss', 'FeatureDistillLoss'])
def test_registered(name):
    assert MODELS.get(name) is not None
