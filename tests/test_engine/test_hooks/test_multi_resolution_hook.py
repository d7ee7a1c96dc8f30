"""MultiResolutionHook: a seeded per-iteration resolution handed to the model."""
from types import SimpleNamespace

import pytest
import torch
from mmengine.logging import MessageHub
from torch.utils.data import Dataset

from sakbox.engine.hooks import MultiResolutionHook
from sakbox.registry import DATASETS, HOOKS, MODELS


class _Model:
    def __init__(self):
        self.sizes = []

    def set_train_resolution(self, size):
        self.sizes.append(size)


def _runner(model, it):
    return SimpleNamespace(model=model, iter=it,
                           message_hub=MessageHub.get_instance('test_multi_res_hook'))


def test_seeded_draws_interval_and_reset():
    hook = HOOKS.build(dict(type='MultiResolutionHook', resolutions=[32, (48, 64), 96],
                            interval=2, seed=3))
    model = _Model()
    for it in range(40):
        hook.before_train_iter(_runner(model, it), batch_idx=it)
    assert set(model.sizes) == {(32, 32), (48, 64), (96, 96)}
    assert all(model.sizes[i] == model.sizes[i + 1] for i in range(0, 40, 2))
    # a fresh hook (e.g. after resuming) reproduces the sequence
    again = MultiResolutionHook([32, (48, 64), 96], interval=2, seed=3)
    assert [again.resolution_at(i) for i in range(40)] == model.sizes
    runner = _runner(model, 39)
    assert runner.message_hub.get_info('train_resolution') == model.sizes[-1]
    hook.after_train(runner)
    assert model.sizes[-1] is None


def test_probs_and_errors():
    hook = MultiResolutionHook([16, 32], probs=[0.0, 1.0])
    assert {hook.resolution_at(i) for i in range(20)} == {(32, 32)}
    with pytest.raises(ValueError, match='one per resolution'):
        MultiResolutionHook([16, 32], probs=[1.0])
    with pytest.raises(ValueError, match='must not be empty'):
        MultiResolutionHook([])
    with pytest.raises(AttributeError, match='set_train_resolution'):
        hook.before_train_iter(_runner(object(), 0), batch_idx=0)


@DATASETS.register_module(name='RandomUint8Images', force=True)
class RandomUint8Images(Dataset):
    """``length`` random uint8 (3, size, size) images."""

    def __init__(self, length: int = 4, size: int = 32) -> None:
        self.imgs = torch.randint(0, 256, (length, 3, size, size), dtype=torch.uint8,
                                  generator=torch.Generator().manual_seed(0))

    def __len__(self):
        return len(self.imgs)

    def __getitem__(self, idx):
        return dict(inputs=self.imgs[idx])


@MODELS.register_module(name='SizeRecordingTeacher', force=True)
class SizeRecordingTeacher(torch.nn.Module):
    """Frozen 1-level conv teacher that records the input sizes it sees."""

    def __init__(self, dim: int = 8, input_mean=None, input_std=None) -> None:
        super().__init__()
        self.embed_dims = [dim]
        self.conv = torch.nn.Conv2d(3, dim, 8, 8).requires_grad_(False)
        self.seen_sizes = []

    @torch.no_grad()
    def forward(self, x):  # noqa: D102
        self.seen_sizes.append(tuple(x.shape[-2:]))
        return [self.conv(x)]


def test_runner_trains_radio_distiller_at_drawn_sizes(tmp_path):
    from mmengine.runner import Runner

    runner = Runner(
        model=dict(type='RADIODistiller',
                   student=dict(type='RADIOViT', arch=dict(embed_dim=16, depth=1, num_heads=2),
                                patch_size=8, max_img_size=64),
                   teachers=dict(t=dict(type='SizeRecordingTeacher', dim=8)),
                   data_preprocessor=dict(type='ImgDataPreprocessor', mean=[127.5] * 3,
                                          std=[64.0] * 3)),
        work_dir=str(tmp_path),
        train_dataloader=dict(dataset=dict(type='RandomUint8Images'), batch_size=2,
                              sampler=dict(type='InfiniteSampler', shuffle=True),
                              collate_fn=dict(type='default_collate'), num_workers=0),
        train_cfg=dict(by_epoch=False, max_iters=4),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=1e-3)),
        custom_hooks=[dict(type='MultiResolutionHook', resolutions=[24, (40, 32)], seed=0)],
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=4, by_epoch=False),
                           logger=dict(type='LoggerHook', interval=1)),
        default_scope='sakbox', log_level='WARNING')
    runner.train()
    teacher = runner.model.teachers['t']
    hook = MultiResolutionHook([24, (40, 32)], seed=0)
    assert teacher.seen_sizes == [hook.resolution_at(i) for i in range(4)]
    assert runner.model.train_resolution is None  # reset after training
    ckpt = torch.load(tmp_path / 'iter_4.pth', map_location='cpu', weights_only=False)
    assert not any(k.startswith('teachers') for k in ckpt['state_dict'])
