"""Utilities."""
from .checkpoint import (
    CheckpointError,
    CheckpointMismatchError,
    CheckpointNotFoundError,
    check_checkpoint_file,
    read_checkpoint,
)
from .fsdp import module_class_wrap_policy
from .mmcv_ops_shim import apply_mmcv_ops_shim, install_mmcv_ops_shim
from .setup_env import (
    adapt_cfg_to_device,
    enable_amp,
    fit_dataloader_workers,
    init_cpu_distributed,
    register_all_modules,
)
from .state_dict_fit import (
    StateDictFit,
    compare_state_dict,
    extract_state_dict,
    load_state_dict_checked,
    load_state_dict_file,
    load_state_dict_strict,
    strip_wrapper_prefixes,
)

__all__ = ['adapt_cfg_to_device', 'enable_amp', 'fit_dataloader_workers', 'init_cpu_distributed',
           'register_all_modules', 'module_class_wrap_policy', 'CheckpointError',
           'CheckpointMismatchError', 'CheckpointNotFoundError', 'check_checkpoint_file',
           'read_checkpoint', 'StateDictFit', 'compare_state_dict', 'extract_state_dict',
           'load_state_dict_checked', 'load_state_dict_file', 'load_state_dict_strict',
           'strip_wrapper_prefixes', 'install_mmcv_ops_shim', 'apply_mmcv_ops_shim']
