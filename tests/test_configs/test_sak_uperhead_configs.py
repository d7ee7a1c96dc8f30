"""The mmseg-decoder SAK configs: the tiny one trains and tests through the runner."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from sakbox.apis import init_model
from sakbox.apis.runner import run_train
from sakbox.datasets.synthetic import generate_synthetic_dataset

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY = osp.join(ROOT, 'configs', 'sak', 'sak_vit-tiny-uperhead_1xb4-600it_synthetic-nyud-96x128.py')
VIT_B = osp.join(ROOT, 'configs', 'sak', 'sak_vit-b-uperhead_8xb1-40k_nyud-448x576.py')


@pytest.mark.parametrize('path', [TINY, VIT_B], ids=osp.basename)
def test_configs_opt_in_to_the_shim_and_use_mmseg_decoders(path):
    cfg = Config.fromfile(path)
    assert cfg.mmcv_ops_shim is True
    model = cfg.model
    assert model.neck.type == 'mmseg.MultiLevelNeck' and len(model.neck.scales) == 4
    assert model.decode_heads.type == 'mmseg.UPerHead'
    assert model.decode_heads.in_index == [0, 1, 2, 3]
    assert 'loss_decode' not in model.decode_heads  # losses come from task_losses
    assert list(model.auxiliary_heads) == ['semseg']
    assert model.auxiliary_heads.semseg.type == 'mmseg.FCNHead'
    assert model.auxiliary_loss_weight == 0.4
    # BN in the heads: converted to SyncBN on CUDA by sync_bn (ViT-B), never SyncBN itself
    assert model.decode_heads.norm_cfg.type == 'BN'
    base = Config.fromfile(path.replace('-uperhead', ''))
    assert cfg.model.tasks == base.model.tasks and cfg.model.task_losses == base.model.task_losses
    assert cfg.train_cfg == base.train_cfg and cfg.optim_wrapper == base.optim_wrapper
    assert cfg.get('sync_bn') == base.get('sync_bn')


def test_tiny_config_trains_through_the_runner_and_loads_strictly(tmp_path):
    data = str(tmp_path / 'nyud')
    generate_synthetic_dataset('nyud', data, num_train=4, num_val=2, seed=0)
    options = {'train_cfg.max_iters': 2, 'train_dataloader.batch_size': 2,
               'default_hooks.logger.interval': 1}
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options[f'{loader}.num_workers'] = 0
        options[f'{loader}.dataset.data_root'] = data
    work_dir = str(tmp_path / 'work')
    torch.manual_seed(0)
    runner = run_train(TINY, work_dir=work_dir, cfg_options=options)
    model = runner.model
    assert type(model.neck).__name__ == 'MultiLevelNeck'
    assert {type(h).__name__ for h in model.decode_heads.values()} == {'UPerHead'}
    assert list(model.auxiliary_heads) == ['semseg']
    scalars = runner.message_hub.log_scalars
    assert 'train/loss_semseg_aux' in scalars and 'train/loss_edge' in scalars
    assert torch.isfinite(torch.tensor(scalars['train/loss'].current()))
    # the checkpoint (neck and auxiliary head included) loads strictly, without teachers
    model = init_model(TINY, osp.join(work_dir, 'iter_2.pth'))
    assert model.teachers is None and 'auxiliary_heads.semseg.conv_seg.weight' in \
        model.state_dict()
    for key, value in runner.model.state_dict().items():
        if not key.startswith('teachers.'):
            torch.testing.assert_close(model.state_dict()[key], value, msg=key)
