"""Runner setup behind ``tools/train.py`` and ``tools/test.py``.

The tools parse the command line and print; this module turns their options
into a config (``--cfg-options``, work dir, AMP, resume, visualisation and
dump hooks), builds the MMEngine Runner, loads the evaluated checkpoint
strictly (or what fits, with ``non_strict``) and writes the metrics JSON.
"""
import json
import os.path as osp
import time
from types import SimpleNamespace
from typing import Dict, List, Optional, Tuple

from mmengine.config import Config
from mmengine.runner import Runner

from sakbox.utils import adapt_cfg_to_device, enable_amp, init_cpu_distributed, register_all_modules
from sakbox.utils.checkpoint import CheckpointNotFoundError, check_checkpoint_file
from sakbox.utils.cli import (
    add_custom_hook,
    apply_compile_arg,
    check_training_checkpoint,
    load_cfg,
)
from sakbox.utils.cpu_malloc import apply_cpu_malloc
from sakbox.utils.eval_model_cfg import prepare_model_cfg_for_test
from sakbox.utils.state_dict_fit import StateDictFit

from .inference import load_model_weights

__all__ = [
    'build_train_cfg', 'build_test_cfg', 'build_runner', 'run_train', 'run_test',
    'format_metrics', 'metrics_payload', 'write_metrics_json'
]


def _cli_args(config: str, work_dir: Optional[str], cfg_options: Optional[dict],
              launcher: str) -> SimpleNamespace:
    return SimpleNamespace(config=config, work_dir=work_dir, cfg_options=cfg_options,
                           launcher=launcher)


def build_train_cfg(config: str, work_dir: Optional[str] = None, resume: Optional[str] = None,
                    amp: bool = False, amp_dtype: Optional[str] = None,
                    compile: Optional[List[str]] = None, cfg_options: Optional[dict] = None,
                    launcher: str = 'none') -> Config:
    """The training config of ``tools/train.py``: the file with the command-line overrides.

    Args:
        config: The config file.
        work_dir: ``--work-dir`` (default: the config's, else ``./work_dirs/<name>``).
        resume: ``--resume``: None (no resuming), ``'auto'`` (the latest checkpoint
            of the work dir) or a checkpoint path.
        amp: ``--amp``: mixed precision (:func:`sakbox.utils.enable_amp`).
        amp_dtype: ``--amp-dtype``: ``'bfloat16'`` / ``'float16'`` or None (auto).
        compile: ``--compile`` targets (None: no ``CompileHook``).
        cfg_options: Parsed ``--cfg-options``.
        launcher: ``'none'``, ``'pytorch'`` or ``'slurm'``.

    Returns:
        Config: The config, with a ``CheckpointLoadReportHook`` (MMEngine loads
        ``load_from`` non-strictly; the hook logs how much of it fitted).

    Raises:
        CheckpointNotFoundError: ``resume`` names a file that does not exist.
    """
    cfg = load_cfg(_cli_args(config, work_dir, cfg_options, launcher))
    if amp:
        enable_amp(cfg, amp_dtype)
    apply_compile_arg(cfg, compile)
    if resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif resume is not None:
        if not osp.isfile(resume):
            raise CheckpointNotFoundError(f'--resume checkpoint not found: {resume}', resume)
        cfg.resume = True
        cfg.load_from = resume
    add_custom_hook(cfg, dict(type='CheckpointLoadReportHook'))
    return adapt_cfg_to_device(cfg, launcher)


def build_runner(cfg: Config) -> Runner:
    """``Runner.from_cfg(cfg)``, or the registered runner named by ``cfg.runner_type``."""
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    from sakbox.registry import RUNNERS
    return RUNNERS.build(cfg)


def run_train(config: str, launcher: str = 'none', **options) -> Runner:
    """Train as ``tools/train.py`` does.

    A bad ``load_from`` / ``--resume`` file fails before the Runner builds
    datasets and models (:func:`sakbox.utils.cli.check_training_checkpoint`).
    ``mmcv_ops_shim = True`` (in the file or ``--cfg-options``) installs the
    mmcv.ops shim when the config is loaded (:func:`sakbox.utils.cli.load_cfg`).

    Args:
        config: The config file.
        launcher: ``'none'``, ``'pytorch'`` or ``'slurm'``.
        **options: The other arguments of :func:`build_train_cfg`.

    Returns:
        Runner: The runner, after ``train()``.
    """
    register_all_modules(init_default_scope=False)
    init_cpu_distributed(launcher)
    cfg = build_train_cfg(config, launcher=launcher, **options)
    check_training_checkpoint(cfg)
    apply_cpu_malloc(cfg)
    runner = build_runner(cfg)
    runner.train()
    return runner


def build_test_cfg(config: str, checkpoint: str, work_dir: Optional[str] = None,
                   out: Optional[str] = None, show_dir: Optional[str] = None,
                   save_edge_png: Optional[str] = None, compile: Optional[List[str]] = None,
                   cfg_options: Optional[dict] = None, launcher: str = 'none') -> Config:
    """The evaluation config of ``tools/test.py``: no teachers, no init weights, no ``load_from``.

    Args:
        config: The config file.
        checkpoint: The checkpoint to evaluate (must exist).
        work_dir: ``--work-dir``.
        out: ``--out``: a ``.pkl`` file for the raw predictions (``DumpResults``).
        show_dir: ``--show-dir``: coloured visualisations of every task.
        save_edge_png: ``--save-edge-png``: soft edge maps as 8-bit PNGs.
        compile: ``--compile`` targets.
        cfg_options: Parsed ``--cfg-options``.
        launcher: ``'none'``, ``'pytorch'`` or ``'slurm'``.

    Returns:
        Config: The config.

    Raises:
        CheckpointNotFoundError: ``checkpoint`` does not exist.
        ValueError: ``out`` does not end with ``.pkl`` / ``.pickle``.
    """
    if not osp.isfile(checkpoint):
        raise CheckpointNotFoundError(f'checkpoint not found: {checkpoint}', checkpoint)
    # Testing never needs the teachers (they are neither built nor loaded) nor
    # any initialisation weights (hub or stage-1 files): the checkpoint has all.
    cfg = load_cfg(_cli_args(config, work_dir, cfg_options, launcher),
                   prepare=lambda c: prepare_model_cfg_for_test(c.model, has_checkpoint=True))
    # The Runner would load `load_from` non-strictly (a checkpoint that fits
    # nothing evaluates random weights); test() loads it strictly instead.
    cfg.load_from = None
    cfg.resume = False
    apply_compile_arg(cfg, compile)
    if show_dir or save_edge_png:
        hooks = cfg.setdefault('custom_hooks', [])
        hooks.append(dict(type='MultiTaskVisualizationHook', enable=show_dir is not None,
                          out_dir=show_dir, edge_png_dir=save_edge_png))
    if out is not None:
        if not out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out must end with .pkl, got {out}')
        evaluator = cfg.test_evaluator
        evaluator = list(evaluator) if isinstance(evaluator, (list, tuple)) else [evaluator]
        evaluator.append(dict(type='DumpResults', out_file_path=out))
        cfg.test_evaluator = evaluator
    return adapt_cfg_to_device(cfg, launcher)


def run_test(config: str, checkpoint: str, non_strict: bool = False, launcher: str = 'none',
             **options) -> Tuple[Dict[str, object], StateDictFit, Config]:
    """Evaluate ``checkpoint`` as ``tools/test.py`` does.

    The checkpoint is checked before the Runner is built and loaded into the
    unwrapped model strictly (a :class:`~sakbox.utils.CheckpointMismatchError`
    when it does not fit) or, with ``non_strict``, what fits with a warning;
    ``Runner.test()`` never re-initialises weights, so these are the ones evaluated.
    ``mmcv_ops_shim = True`` installs the mmcv.ops shim when the config is loaded.

    Args:
        config: The config file.
        checkpoint: The checkpoint file.
        non_strict: ``--non-strict``.
        launcher: ``'none'``, ``'pytorch'`` or ``'slurm'``.
        **options: The other arguments of :func:`build_test_cfg`.

    Returns:
        tuple: ``(metrics, fit, cfg)``: the metrics (tensors turned into
        floats), the :class:`~sakbox.utils.state_dict_fit.StateDictFit` of the
        load and the config used.
    """
    register_all_modules(init_default_scope=False)
    init_cpu_distributed(launcher)
    cfg = build_test_cfg(config, checkpoint, launcher=launcher, **options)
    check_checkpoint_file(checkpoint)  # an unreadable file fails before the build
    apply_cpu_malloc(cfg)
    runner = Runner.from_cfg(cfg)
    fit = load_model_weights(runner.model, checkpoint, strict=not non_strict,
                             logger=runner.logger)
    metrics = runner.test()
    metrics = {k: (float(v) if hasattr(v, '__float__') else v) for k, v in metrics.items()}
    return metrics, fit, cfg


def format_metrics(metrics: dict) -> str:
    """Render ``{name: value}`` as an aligned two-column table."""
    if not metrics:
        return '(no metrics)'
    width = max(len(k) for k in metrics)
    lines = [f'{"metric".ljust(width)}  value', f'{"-" * width}  ------']
    for key in sorted(metrics):
        value = metrics[key]
        text = f'{value:.4f}' if isinstance(value, float) else str(value)
        lines.append(f'{key.ljust(width)}  {text}')
    return '\n'.join(lines)


def metrics_payload(config: str, checkpoint: str, metrics: dict,
                    fit: Optional[StateDictFit] = None) -> dict:
    """The content of ``metrics.json``: config, checkpoint, metrics (+ ``partial_weights``).

    Args:
        config: The config file.
        checkpoint: The checkpoint file.
        metrics: The metrics.
        fit: The load's fit; an incomplete one adds the ``partial_weights`` counts.

    Returns:
        dict: The payload.
    """
    payload = dict(config=config, checkpoint=checkpoint, metrics=metrics)
    if fit is not None and not fit.complete:
        payload['partial_weights'] = dict(
            loaded=len(fit.loaded), model_tensors=fit.num_model, missing=len(fit.missing),
            unexpected=len(fit.unexpected), mismatched=len(fit.mismatched))
    return payload


def write_metrics_json(work_dir: str, payload: dict) -> str:
    """Write ``payload`` as ``metrics_<timestamp>.json`` and ``metrics.json`` in ``work_dir``.

    Args:
        work_dir: The work dir.
        payload: :func:`metrics_payload`.

    Returns:
        str: The path of ``metrics.json``.
    """
    stamp = time.strftime('%Y%m%d_%H%M%S', time.localtime())
    for name in (f'metrics_{stamp}.json', 'metrics.json'):
        with open(osp.join(work_dir, name), 'w') as f:
            json.dump(payload, f, indent=2, default=str)
    return osp.join(work_dir, 'metrics.json')
