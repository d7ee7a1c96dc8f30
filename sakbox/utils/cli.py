"""Command-line pieces shared by ``tools/train.py`` and ``tools/test.py``."""
import argparse
import os
import os.path as osp
import sys
from typing import Any, Callable, List, Optional

from mmengine.config import Config, DictAction

from .checkpoint import CheckpointError, check_checkpoint_file, is_url
from .mmcv_ops_shim import apply_mmcv_ops_shim
from .renamed_types import check_renamed_types
from .setup_env import fit_dataloader_workers


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """Add ``--cfg-options``, ``--launcher`` and ``--local-rank`` to ``parser``."""
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, e.g. model.student.pretrained=False')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def add_compile_arg(parser: argparse.ArgumentParser) -> None:
    """Add ``--compile [TARGET ...]`` (see :func:`apply_compile_arg`)."""
    parser.add_argument(
        '--compile', nargs='*', metavar='TARGET', default=None,
        help='torch.compile these submodules (default: student decode_heads) through '
        'CompileHook; a submodule whose compilation fails runs eagerly')


def apply_compile_arg(cfg: Config, targets: Optional[List[str]]) -> Config:
    """Append a ``CompileHook`` to ``cfg.custom_hooks`` for ``--compile``.

    Args:
        cfg: The config to modify in place.
        targets: The ``--compile`` value: None (flag absent: nothing is
            done), ``[]`` (the hook's default targets) or submodule names.

    Returns:
        Config: ``cfg``.
    """
    if targets is None:
        return cfg
    hook = dict(type='CompileHook')
    if targets:
        hook['targets'] = list(targets)
    hooks = list(cfg.get('custom_hooks') or [])
    hooks.append(hook)
    cfg.custom_hooks = hooks
    return cfg


def parse_with_common_args(parser: argparse.ArgumentParser,
                           argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse ``argv``; export ``LOCAL_RANK`` for launchers that pass it as an argument.

    Args:
        parser: A parser that went through :func:`add_common_args`.
        argv: The arguments (default: ``sys.argv[1:]``).

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Load a config file and merge ``--cfg-options`` into it.

    Dataloaders left with ``num_workers=0`` get ``persistent_workers=False``
    (:func:`~sakbox.utils.fit_dataloader_workers`). A config that opts in with
    ``mmcv_ops_shim = True`` gets the mmcv.ops shim installed, so that the tools
    which build its model from here can build mmseg heads
    (:func:`~sakbox.utils.mmcv_ops_shim.apply_mmcv_ops_shim`).

    Args:
        path: The config file.
        cfg_options: Parsed ``--cfg-options`` (``DictAction``), or None.

    Returns:
        Config: The loaded config.

    Raises:
        FileNotFoundError: ``path`` does not exist (named in the message).
        ValueError: The config uses a sakbox type that was renamed
            (:mod:`sakbox.utils.renamed_types`).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file not found: {path}')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    check_renamed_types(cfg, path)
    apply_mmcv_ops_shim(cfg)
    return fit_dataloader_workers(cfg)


def load_cfg(args: argparse.Namespace,
             prepare: Optional[Callable[[Config], None]] = None) -> Config:
    """Load ``args.config`` and apply ``--cfg-options`` and ``--work-dir``.

    As in :func:`load_config`, ``num_workers=0`` turns ``persistent_workers`` off.

    The work dir defaults to ``./work_dirs/<config name>``.

    Args:
        args: Parsed arguments with ``config``, ``cfg_options``, ``launcher``
            and ``work_dir``.
        prepare: Called on the config before ``--cfg-options`` are merged, so
            that the user's overrides win over the tool's adjustments.

    Returns:
        Config: The loaded config.
    """
    cfg = load_config(args.config)
    cfg.launcher = args.launcher
    if prepare is not None:
        prepare(cfg)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
        check_renamed_types(cfg, args.config)
        apply_mmcv_ops_shim(cfg)  # `--cfg-options mmcv_ops_shim=True` opts in too
        fit_dataloader_workers(cfg)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg


def add_non_strict_arg(parser: argparse.ArgumentParser) -> None:
    """Add ``--non-strict``: load the checkpoint tensors that fit, with a warning."""
    parser.add_argument(
        '--non-strict', action='store_true',
        help='load only the checkpoint tensors that fit the model (the others keep their '
        'initial, random values) and warn with the counts; by default a checkpoint that '
        'does not fit exactly is an error')


def run_cli(main: Callable[[], Any], prog: str) -> Any:
    """Run a tool's ``main()``; a :class:`CheckpointError` exits 1 with its message only.

    The message already names the file and what is wrong with it, so a
    traceback would only hide it. A process group that is still initialised
    when ``main()`` ends is shut down (after a barrier when ``main()``
    succeeded): a gloo group left to the interpreter's exit can abort a rank
    with ``terminate called without an active exception`` after its work is
    done, and torchrun then reports the whole job as failed.

    Args:
        main: The tool's entry point (called without arguments).
        prog: The tool's name, prefixed to the message (e.g. ``'tools/test.py'``).

    Returns:
        What ``main()`` returns.
    """
    ok = False
    try:
        out = main()
        ok = True
        return out
    except CheckpointError as e:
        sys.exit(f'{prog}: error: {e}')
    finally:
        _shutdown_process_group(barrier=ok)


def _shutdown_process_group(barrier: bool) -> None:
    import torch.distributed as dist
    if not (dist.is_available() and dist.is_initialized()):
        return
    if barrier:
        dist.barrier()
    dist.destroy_process_group()


def add_custom_hook(cfg: Config, hook: dict) -> Config:
    """Append ``hook`` to ``cfg.custom_hooks`` unless a hook of its type is there.

    Args:
        cfg: The config to modify in place.
        hook: A hook config with a ``type``.

    Returns:
        Config: ``cfg``.
    """
    hooks = list(cfg.get('custom_hooks') or [])
    if not any(h.get('type') == hook['type'] for h in hooks):
        hooks.append(dict(hook))
    cfg.custom_hooks = hooks
    return cfg


def checkpoint_to_load(cfg: Config) -> Optional[str]:
    """The checkpoint file a training Runner built from ``cfg`` will read, if any.

    Args:
        cfg: A training config (``load_from``, ``resume``, ``work_dir``).

    Returns:
        str or None: ``load_from``; with ``resume`` and no ``load_from``, the
        latest checkpoint of the work dir (None when there is none yet).
    """
    if cfg.get('load_from'):
        return str(cfg.load_from)
    if cfg.get('resume') and cfg.get('work_dir') and osp.isdir(cfg.work_dir):
        from mmengine.runner import find_latest_checkpoint
        return find_latest_checkpoint(cfg.work_dir)
    return None


def check_training_checkpoint(cfg: Config) -> None:
    """Fail now if the checkpoint that ``load_from`` / ``--resume`` names cannot be read.

    Cheap (see :func:`sakbox.utils.check_checkpoint_file`): a missing, empty,
    truncated or weights-only-refused file stops the tool before the Runner
    builds datasets and models, with the same message evaluation gives. URLs
    are left to MMEngine.

    Args:
        cfg: A training config.

    Raises:
        CheckpointError: The file cannot be loaded.
    """
    path = checkpoint_to_load(cfg)
    if path is not None and not is_url(path):
        check_checkpoint_file(path)
