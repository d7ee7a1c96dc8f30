"""Say how much of a ``load_from`` (or resumed) checkpoint actually fitted the model."""
import os.path as osp
from typing import Any, Dict, Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from sakbox.registry import HOOKS
from sakbox.utils.checkpoint_origin import checkpoint_origin_hint
from sakbox.utils.state_dict_fit import compare_state_dict, extract_state_dict


@HOOKS.register_module()
class CheckpointLoadReportHook(Hook):
    """Log how many model tensors a checkpoint loaded by the Runner sets.

    MMEngine loads ``load_from`` (and ``resume``) non-strictly: a checkpoint
    that fits nothing only prints PyTorch's key lists and training starts from
    random weights. This hook keeps that behaviour (fine-tuning from a
    partial checkpoint is legitimate) but logs, before the weights are copied,
    ``load_from FILE: loaded N of M model tensors; K missing (first: ...), U
    unexpected (first: ...)`` - at WARNING level when anything did not fit,
    with a hint when the file looks like an official release or another
    sakbox model, and at INFO level when everything did. ``tools/train.py``
    adds it to every run; ``teachers.*`` keys are left out as on load.
    """

    priority = 'NORMAL'

    def after_load_checkpoint(self, runner, checkpoint: Dict[str, Any]) -> None:
        """Compare ``checkpoint`` with the model it is about to be loaded into."""
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        source = _loaded_file(runner) or 'checkpoint'
        kind = 'resume' if getattr(runner, '_resume', False) else 'load_from'
        try:
            fit = compare_state_dict(model, extract_state_dict(checkpoint), source)
        except Exception as e:  # noqa: BLE001 - a report must never stop the training
            runner.logger.warning(f'{kind} {source}: could not compare the checkpoint with the '
                                  f'model ({type(e).__name__}: {e})')
            return
        if fit.complete:
            runner.logger.info(f'{kind} {source}: {fit.summary()} (everything fits)')
            return
        hint = checkpoint_origin_hint(checkpoint, fit)
        runner.logger.warning(f'{kind} {source}: {fit.summary()}. The other model tensors keep '
                              'their initial values.' + (f'\n{hint}' if hint else ''))


def _loaded_file(runner) -> Optional[str]:
    """The file the Runner is loading: ``load_from``, else the auto-resumed latest one."""
    load_from = getattr(runner, '_load_from', None)
    if load_from:
        return str(load_from)
    if getattr(runner, '_resume', False) and osp.isdir(str(runner.work_dir)):
        from mmengine.runner import find_latest_checkpoint
        return find_latest_checkpoint(runner.work_dir)
    return None
