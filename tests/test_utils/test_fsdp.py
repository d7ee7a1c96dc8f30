"""FSDP set-up: the wrap policy, the FSDP config and FlexibleRunner building in tools/train.py."""
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.registry import FUNCTIONS, DefaultScope

from sakbox.apis.runner import build_runner, build_train_cfg
from sakbox.registry import MODELS
from sakbox.utils import module_class_wrap_policy, register_all_modules

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FSDP_CFG = osp.join(ROOT, 'configs', 'sak', 'sak_vit-l_8xb1-fsdp-40k_nyud-448x576.py')
TOY_FSDP_CFG = osp.join(ROOT, 'tests', 'fixtures', 'configs', 'toy_fsdp.py')


def test_fsdp_config_and_its_policy_resolve_as_mmengine_looks_them_up():
    cfg = Config.fromfile(FSDP_CFG)
    assert cfg.runner_type == 'FlexibleRunner' and cfg.strategy.type == 'FSDPStrategy'
    assert cfg.model.student.arch == 'vit_large_patch16_384'  # the ViT-L recipe underneath
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    policy = cfg.strategy.model_wrapper.auto_wrap_policy
    # MMFullyShardedDataParallel resolves the policy through MMEngine's root FUNCTIONS.
    with DefaultScope.overwrite_default_scope('sakbox'):
        with FUNCTIONS.switch_scope_and_registry(None):
            assert FUNCTIONS.get(policy.type) is module_class_wrap_policy


def test_policy_wraps_blocks_and_adapters_not_the_paths():
    torch.manual_seed(0)
    stem = MODELS.build(dict(type='SAKViT', teacher_dims=dict(dino=32), arch='vit_base_patch16_384',
                             img_size=32, tasks=['semseg'],
                             model_kwargs=dict(depth=4, embed_dim=32, num_heads=2)))
    wrapped = {type(m).__name__ for m in stem.modules()
               if module_class_wrap_policy(m, recurse=False, nonwrapped_numel=0)}
    assert wrapped == {'Block', 'BottleneckAdapter'}
    # the adapter paths are entered through forward_block(), which FSDP would not see
    assert not module_class_wrap_policy(stem.paths['dino'], False, 0)
    assert module_class_wrap_policy(stem, recurse=True, nonwrapped_numel=0)
    assert module_class_wrap_policy(stem, False, 0, class_names=['SAKViT'])


def test_train_tool_builds_the_flexible_runner_from_runner_type(tmp_path):
    register_all_modules(init_default_scope=False)
    cfg = build_train_cfg(TOY_FSDP_CFG, work_dir=str(tmp_path))
    runner = build_runner(cfg)
    assert type(runner).__name__ == 'FlexibleRunner'
    assert type(runner.strategy).__name__ == 'FSDPStrategy'

