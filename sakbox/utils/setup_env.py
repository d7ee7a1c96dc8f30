"""Environment set-up shared by the command-line tools."""
import datetime
import os
import warnings
from typing import Optional

import torch
import torch.distributed as dist
from mmengine.config import Config, ConfigDict


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every sakbox component so that all registries are filled.

    The registries also import lazily through ``locations``; this eager path
    is for scripts that look components up before the first build.

    Args:
        init_default_scope: Make ``sakbox`` the current default scope.
    """
    import sakbox.datasets  # noqa: F401
    import sakbox.engine  # noqa: F401
    import sakbox.evaluation  # noqa: F401
    import sakbox.models  # noqa: F401
    import sakbox.visualization  # noqa: F401
    if init_default_scope:
        from mmengine.registry import DefaultScope
        never_created = (DefaultScope.get_current_instance() is None
                         or not DefaultScope.check_instance_created('sakbox'))
        if never_created:
            DefaultScope.get_instance('sakbox', scope_name='sakbox')
        elif DefaultScope.get_current_instance().scope_name != 'sakbox':
            DefaultScope.get_instance(
                f'sakbox-{datetime.datetime.now()}', scope_name='sakbox')


def init_cpu_distributed(launcher: str, timeout_s: int = 1800) -> bool:
    """Start a gloo process group when CUDA is unavailable.

    MMEngine's launchers call ``torch.cuda.set_device`` and fail on machines
    without a GPU driver. When the process group is already initialised,
    MMEngine skips its own initialisation, so starting gloo here makes
    ``torchrun`` work on CPU-only machines. On CUDA machines nothing is done
    and MMEngine initialises NCCL as usual.

    Args:
        launcher: ``'none'``, ``'pytorch'`` or ``'slurm'``.
        timeout_s: Collective timeout in seconds.

    Returns:
        bool: True if this function initialised a gloo group.
    """
    if launcher == 'none' or torch.cuda.is_available() or dist.is_initialized():
        return False
    if launcher == 'slurm':
        _slurm_env_to_torch_env()
    for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        if key not in os.environ:
            raise RuntimeError(
                f'--launcher {launcher} needs the environment variable {key}; start the '
                'job with tools/dist_train.sh (torchrun) or tools/slurm_train.sh')
    dist.init_process_group(backend='gloo', init_method='env://',
                            timeout=datetime.timedelta(seconds=timeout_s))
    return True


def _slurm_env_to_torch_env() -> None:
    """Map SLURM variables to the ones ``init_method='env://'`` reads."""
    import subprocess
    os.environ.setdefault('RANK', os.environ['SLURM_PROCID'])
    os.environ.setdefault('WORLD_SIZE', os.environ['SLURM_NTASKS'])
    os.environ.setdefault('LOCAL_RANK', os.environ.get('SLURM_LOCALID', '0'))
    if 'MASTER_ADDR' not in os.environ:
        node_list = os.environ['SLURM_NODELIST']
        addr = subprocess.getoutput(f'scontrol show hostname {node_list} | head -n1')
        os.environ['MASTER_ADDR'] = addr
    os.environ.setdefault('MASTER_PORT', '29500')


def adapt_cfg_to_device(cfg: Config, launcher: str) -> Config:
    """Adjust a config to the hardware it runs on.

    On a machine without CUDA: DDP gets ``device_ids=None`` (MMEngine would
    pass ``[LOCAL_RANK]``, which DDP refuses for CPU modules), and SyncBN
    conversion is dropped (it needs CUDA) so plain BatchNorm is kept.

    Args:
        cfg: The config to modify in place.
        launcher: The launcher in use.

    Returns:
        Config: ``cfg``.
    """
    if torch.cuda.is_available():
        return cfg
    if launcher != 'none':
        wrapper = cfg.get('model_wrapper_cfg') or ConfigDict(type='MMDistributedDataParallel')
        wrapper['device_ids'] = None
        cfg.model_wrapper_cfg = wrapper
    if cfg.get('sync_bn'):
        warnings.warn('CUDA is unavailable: keeping plain BatchNorm instead of '
                      f'sync_bn={cfg.sync_bn!r}')
        cfg.sync_bn = None
    return cfg


def fit_dataloader_workers(cfg: Config) -> Config:
    """Switch ``persistent_workers`` off in every dataloader with ``num_workers=0``.

    PyTorch refuses ``persistent_workers=True`` without worker processes, so
    ``--cfg-options train_dataloader.num_workers=0`` (the usual first step
    when debugging a pipeline) would fail on every config that keeps its
    workers alive. Every top-level ``*_dataloader`` entry is adjusted (a list
    of dataloaders, as for several validation sets, too).

    Args:
        cfg: The config to modify in place.

    Returns:
        Config: ``cfg``.
    """
    for key in list(cfg.keys()):
        if not key.endswith('dataloader'):
            continue
        loaders = cfg[key]
        for loader in (loaders if isinstance(loaders, (list, tuple)) else [loaders]):
            if (isinstance(loader, dict) and loader.get('persistent_workers')
                    and not loader.get('num_workers', 0)):
                loader['persistent_workers'] = False
    return cfg


def enable_amp(cfg: Config, dtype: Optional[str] = None) -> Config:
    """Switch the optimizer wrapper to mixed precision.

    On CUDA: MMEngine's ``AmpOptimWrapper`` (bf16 where supported, otherwise
    fp16 with dynamic loss scaling; ``dtype`` overrides). On CPU: sakbox's
    :class:`~sakbox.engine.AutocastOptimWrapper` with bf16.

    Args:
        cfg: The config to modify in place.
        dtype: ``'bfloat16'`` or ``'float16'``; None picks per device.

    Returns:
        Config: ``cfg``.
    """
    from .precision import bf16_supported
    optim_wrapper = cfg.optim_wrapper
    if optim_wrapper.get('type', 'OptimWrapper') not in ('OptimWrapper', 'AmpOptimWrapper',
                                                         'AutocastOptimWrapper'):
        raise ValueError(f'--amp cannot convert optim_wrapper.type='
                         f'{optim_wrapper.type!r}; set the AMP wrapper in the config instead')
    if torch.cuda.is_available():
        if dtype is None:
            dtype = 'bfloat16' if bf16_supported('cuda') else 'float16'
        optim_wrapper.type = 'AmpOptimWrapper'
        optim_wrapper.dtype = dtype
        if dtype == 'float16':
            optim_wrapper.setdefault('loss_scale', 'dynamic')
    else:
        if not bf16_supported('cpu'):
            warnings.warn('bf16 is emulated on this CPU (no AMX/AVX512-BF16, or '
                          'SAKBOX_NATIVE_BF16=0): bf16 autocast may be slower than fp32')
        optim_wrapper.type = 'AutocastOptimWrapper'
        optim_wrapper.dtype = dtype or 'bfloat16'
    return cfg
