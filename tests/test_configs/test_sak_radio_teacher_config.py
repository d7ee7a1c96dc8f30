"""SAK with a RADIO teacher: train the tiny RADIO, then SAK from it, then test without it."""
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from sakbox.datasets.synthetic import generate_synthetic_dataset

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'sak',
                  'sak_vit-tiny-radio-teacher_1xb4-600it_synthetic-nyud-96x128.py')
RADIO = osp.join(ROOT, 'configs', 'radio', 'radio_vit-tiny_1xb32-600it_synthetic-nyud-48x48.py')


def _train(cfg, work_dir, iters=2):
    from mmengine.runner import Runner
    cfg.work_dir = str(work_dir)
    cfg.train_cfg.max_iters = iters
    cfg.param_scheduler = None
    cfg.default_hooks.checkpoint.interval = iters
    cfg.log_level = 'WARNING'
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner, osp.join(str(work_dir), f'iter_{iters}.pth')


@pytest.fixture(scope='module')
def synthetic_nyud(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('data') / 'synthetic_nyud')
    generate_synthetic_dataset('nyud', root, num_train=8, num_val=2, size=(96, 128), seed=0)
    return root


def test_config_uses_one_radio_teacher():
    cfg = Config.fromfile(CONFIG)
    assert list(cfg.model.teachers) == ['radio']
    teacher = cfg.model.teachers.radio
    assert teacher.type == 'RADIOTeacher' and osp.samefile(teacher.config, RADIO)


def test_trains_from_a_trained_radio_and_tests_without_it(synthetic_nyud, tmp_path):
    # 1) a tiny RADIO student, trained for 2 iterations on the same images
    rcfg = Config.fromfile(RADIO)
    rcfg.merge_from_dict({'train_dataloader.dataset.data_root': synthetic_nyud,
                          'train_dataloader.num_workers': 0,
                          'train_dataloader.persistent_workers': False,
                          'train_dataloader.batch_size': 4, 'model.phi_s': None})
    _, radio_ckpt = _train(rcfg, tmp_path / 'radio')
    # 2) SAK distilled from it (the RADIO model as the only, frozen teacher)
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict({
        'model.teachers.radio.checkpoint': radio_ckpt,
        'train_dataloader.dataset.data_root': synthetic_nyud,
        'val_dataloader.dataset.data_root': synthetic_nyud,
        'test_dataloader.dataset.data_root': synthetic_nyud,
        'train_dataloader.num_workers': 0, 'train_dataloader.persistent_workers': False,
        'val_dataloader.num_workers': 0, 'val_dataloader.persistent_workers': False,
        'test_dataloader.num_workers': 0, 'test_dataloader.persistent_workers': False,
        'train_dataloader.batch_size': 2})
    cfg.train_cfg.val_interval = 100  # no validation during these 2 iterations
    runner, ckpt = _train(cfg, tmp_path / 'sak')
    model = runner.model
    teacher = model.teachers['radio']
    assert model.teacher_dims == dict(radio=[96] * 4) and model.expert_names == ['stem', 'radio']
    # the teacher is the trained RADIO student, frozen
    trained_radio = torch.load(radio_ckpt, map_location='cpu', weights_only=True)['state_dict']
    torch.testing.assert_close(teacher.radio.patch_generator.pos_embed,
                               trained_radio['student.patch_generator.pos_embed'])
    assert not any(p.requires_grad for p in teacher.parameters())
    history = runner.message_hub.log_scalars
    assert {f'train/loss_distill_radio_l{i}' for i in range(4)} <= set(history)
    state = torch.load(ckpt, map_location='cpu', weights_only=True)['state_dict']
    assert not any(k.startswith('teachers') for k in state)
    # 3) testing builds no teacher: the RADIO checkpoint is not needed any more
    os.remove(radio_ckpt)
    from sakbox.apis import inference_model, init_model
    cfg_file = str(tmp_path / 'sak_cfg.py')
    cfg.dump(cfg_file)
    test_model = init_model(cfg_file, ckpt)
    assert test_model.teachers is None and test_model.teacher_dims == model.teacher_dims
    img = osp.join(synthetic_nyud, 'images', sorted(os.listdir(osp.join(synthetic_nyud,
                                                                        'images')))[0])
    pred = inference_model(test_model, img)
    assert pred.pred_semseg.data.shape[-2:] == (96, 128)
