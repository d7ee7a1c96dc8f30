"""Log the Mixture-of-Representations router weights during training and validation."""
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.dist import all_reduce
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torch import Tensor

from sakbox.registry import HOOKS


class RouterWeightAccumulator:
    """Running per-key mean of router weights ``{'<task>.level<i>': (B, E)}`` over samples."""

    def __init__(self) -> None:
        self.sums: Dict[str, Tensor] = OrderedDict()
        self.counts: Dict[str, Tensor] = OrderedDict()

    def reset(self) -> None:
        """Forget everything."""
        self.sums.clear()
        self.counts.clear()

    def update(self, weights: Dict[str, Tensor]) -> None:
        """Add a batch.

        Args:
            weights (Dict[str, Tensor]): ``{key: (B, E)}`` (or (B, E, ...),
                averaged over the trailing dims).
        """
        for key, w in weights.items():
            w = w.detach().float()
            if w.dim() > 2:
                w = w.flatten(2).mean(-1)
            s = w.sum(0)
            n = torch.tensor(float(w.shape[0]), device=w.device)
            if key in self.sums:
                self.sums[key] += s
                self.counts[key] += n
            else:
                self.sums[key], self.counts[key] = s.clone(), n

    def means(self, reduce: bool = False) -> Dict[str, Tensor]:
        """Mean weight per key, (E,) on the CPU; ``reduce`` sums over ranks first."""
        out = OrderedDict()
        for key in self.sums:
            s, n = self.sums[key].clone(), self.counts[key].clone()
            if reduce:
                all_reduce(s, op='sum')
                all_reduce(n, op='sum')
            out[key] = (s / n.clamp(min=1)).cpu()
        return out

    @staticmethod
    def as_scalars(means: Dict[str, Tensor], expert_names: Sequence[str],
                   prefix: str) -> Dict[str, float]:
        """``{f'{prefix}/{task}/level{i}/{expert}': value}``."""
        scalars = OrderedDict()
        for key, m in means.items():
            task, _, level = key.partition('.')
            for e, v in zip(_names(expert_names, len(m)), m.tolist()):
                scalars[f'{prefix}/{task}/{level or "all"}/{e}'] = v
        return scalars

    @staticmethod
    def format_table(means: Dict[str, Tensor], expert_names: Sequence[str]) -> str:
        """A text table: one row per ``task.level``, one column per expert."""
        if not means:
            return '(no router weights recorded)'
        tasks = list(dict.fromkeys(k.partition('.')[0] for k in means))
        means = OrderedDict(sorted(means.items(), key=lambda kv: (
            tasks.index(kv[0].partition('.')[0]), _level(kv[0]))))
        width = max(len(k) for k in means)
        n = max(len(m) for m in means.values())
        names = _names(expert_names, n)
        col = max(7, max(len(e) for e in names))
        lines = [' ' * width + ' ' + ' '.join(e.rjust(col) for e in names)]
        for key, m in means.items():
            lines.append(key.ljust(width) + ' ' + ' '.join(f'{v:{col}.3f}' for v in m.tolist()))
        return '\n'.join(lines)


def _level(key: str) -> int:
    level = key.partition('.')[2]
    digits = ''.join(c for c in level if c.isdigit())
    return int(digits) if digits else 0


def _names(expert_names: Sequence[str], n: int) -> List[str]:
    names = list(expert_names)
    return names if len(names) == n else [f'expert{i}' for i in range(n)]


@HOOKS.register_module()
class RouterStatsHook(Hook):
    """Mean router weights per task, level and expert.

    After every training iteration the hook reads the model's
    ``last_router_weights`` (``{'<task>.level<i>': (B, E)}``, experts in the
    model's ``expert_names`` order, e.g. ``['stem', 'dinov2', 'clip', 'sam']``);
    every ``interval`` iterations the means over those iterations are sent to
    the visualizer (TensorBoard / local JSON) as ``router/train/<task>/level<i>/
    <expert>`` and stored in the message hub under the same names. Over a
    validation epoch the means over all samples (all ranks) are logged as
    ``router/val/...`` plus a text table in the log.

    Args:
        interval (int): Training iterations between logs. Default: 50.
        log_val (bool): Log over validation epochs. Default: True.
        log_text (bool): Also write tables to the text log. Default: True.
        attr (str): Model attribute holding the router weights.
    """

    priority = 'NORMAL'

    def __init__(self, interval: int = 50, log_val: bool = True, log_text: bool = True,
                 attr: str = 'last_router_weights') -> None:
        if interval < 1:
            raise ValueError(f'RouterStatsHook: interval must be >= 1, got {interval}')
        self.interval = interval
        self.log_val = log_val
        self.log_text = log_text
        self.attr = attr
        self._train = RouterWeightAccumulator()
        self._val = RouterWeightAccumulator()

    def _model(self, runner):
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def _read(self, runner, acc: RouterWeightAccumulator) -> None:
        weights = getattr(self._model(runner), self.attr, None)
        if weights:
            acc.update(weights)

    def _emit(self, runner, acc: RouterWeightAccumulator, mode: str, step: int) -> None:
        means = acc.means(reduce=True)
        acc.reset()
        if not means:
            return
        experts = getattr(self._model(runner), 'expert_names', [])
        scalars = acc.as_scalars(means, experts, f'router/{mode}')
        for key, value in scalars.items():
            runner.message_hub.update_scalar(key, value)
        runner.visualizer.add_scalars(scalars, step=step)
        if self.log_text:
            runner.logger.info(f'router weights ({mode}, iter {step}):\n'
                               + acc.format_table(means, experts))

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:  # noqa: D102
        self._read(runner, self._train)
        if self.every_n_train_iters(runner, self.interval):
            self._emit(runner, self._train, 'train', runner.iter + 1)

    def before_val_epoch(self, runner) -> None:  # noqa: D102
        self._val.reset()

    def after_val_iter(self, runner, batch_idx: int, data_batch=None,
                       outputs=None) -> None:  # noqa: D102
        if self.log_val:
            self._read(runner, self._val)

    def after_val_epoch(self, runner, metrics: Optional[dict] = None) -> None:  # noqa: D102
        if self.log_val:
            self._emit(runner, self._val, 'val', runner.iter)
