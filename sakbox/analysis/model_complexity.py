"""Parameters and FLOPs of a model's ``tensor`` forward, per top-level submodule.

The logic of ``tools/analysis_tools/get_flops.py``. The model is built as
evaluation builds it (:func:`~sakbox.utils.eval_model_cfg.prepare_model_cfg_for_test`:
no teachers, no pretrained weights), optionally with the teachers (random
init), and ``model(inputs, mode='tensor')`` runs once on a normalised
``(1, 3, H, W)`` input under ``torch.no_grad()`` in fp32. FLOPs come from
:func:`sakbox.utils.benchmark.count_flops` (``torch.utils.flop_counter``: a
multiply-add = 2 FLOPs; element-wise ops, norms and resizes count 0), so the
figures agree with the benchmark tools.
"""
import copy
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import DefaultScope

from sakbox.registry import MODELS
from sakbox.utils.benchmark import count_flops, count_params, flop_counter, format_table
from sakbox.utils.eval_model_cfg import prepare_model_cfg_for_test
from sakbox.utils.pretrained import disable_pretrained
from sakbox.utils.sizes import to_hw

__all__ = ['ComplexityRow', 'ComplexityReport', 'default_input_shape', 'build_model_for_flops',
           'model_complexity', 'format_complexity']

#: Where the input size is read from, in order: the canvas the data preprocessor
#: pads every batch to (the size the model runs at in testing), then the crop.
SHAPE_KEYS = ('model.data_preprocessor.size', 'crop_size', 'img_size', 'model.student.img_size')
#: Row of the parameters and FLOPs of the top-level model itself, outside every child.
OTHER_ROW = '(top-level model)'


@dataclass
class ComplexityRow:
    """One row of the table: a module's parameters and the FLOPs it ran."""

    name: str
    params: int
    flops: float


@dataclass
class ComplexityReport:
    """What :func:`model_complexity` measured.

    Attributes:
        model_name: The top-level model's class name.
        shape: ``(H, W)`` of the input.
        total: The deployed model (everything but the teachers).
        modules: Its top-level submodules that hold parameters or ran FLOPs,
            plus :data:`OTHER_ROW` when the top-level model holds parameters or
            ran FLOPs itself.
        teachers: One row per teacher (empty without teachers).
    """

    model_name: str
    shape: Tuple[int, int]
    total: ComplexityRow
    modules: List[ComplexityRow] = field(default_factory=list)
    teachers: List[ComplexityRow] = field(default_factory=list)

    @property
    def teachers_total(self) -> Optional[ComplexityRow]:
        """All teachers together (None without teachers)."""
        if not self.teachers:
            return None
        return ComplexityRow('teachers (all)', sum(r.params for r in self.teachers),
                             sum(r.flops for r in self.teachers))


def _lookup(cfg: Config, dotted: str):
    node = cfg
    for part in dotted.split('.'):
        if not hasattr(node, 'get'):
            return None
        node = node.get(part)
        if node is None:
            return None
    return node


def default_input_shape(cfg: Config) -> Tuple[int, int]:
    """The input ``(H, W)`` a config's model runs at.

    Args:
        cfg (Config): A full config.

    Returns:
        Tuple[int, int]: The first of :data:`SHAPE_KEYS` that the config sets.

    Raises:
        ValueError: None of them is set (then ``--shape`` must be given).
    """
    for key in SHAPE_KEYS:
        size = _lookup(cfg, key)
        if size is not None:
            return to_hw(size, key)
    raise ValueError(f'the config sets none of {", ".join(SHAPE_KEYS)}: give the input '
                     'size explicitly (get_flops.py --shape H W)')


def build_model_for_flops(cfg: Config, with_teachers: bool = False) -> nn.Module:
    """Build ``cfg.model`` as evaluation does, in eval mode; teachers on request.

    Args:
        cfg (Config): A full config (not modified).
        with_teachers (bool): Also build the teachers, from a random init
            (their pretrained weights and checkpoints are switched off).

    Returns:
        nn.Module: The model.

    Raises:
        ValueError: ``with_teachers`` for a model config without ``teachers``.
    """
    model_cfg = copy.deepcopy(cfg.model)
    prepare_model_cfg_for_test(model_cfg, has_checkpoint=True)
    if with_teachers:
        if not model_cfg.get('teachers'):
            raise ValueError(f'--with-teachers: the model {model_cfg.get("type")} has no '
                             '`teachers` in its config')
        model_cfg['build_teachers'] = True
        disable_pretrained(model_cfg, teachers=True)
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'sakbox')):
        return MODELS.build(model_cfg).eval()


def _top_level_flops(counts: Dict[str, Dict], root: str, names: Sequence[str]
                     ) -> Dict[str, float]:
    """FLOPs per top-level child from ``FlopCounterMode.get_flop_counts()``.

    A child that was called has its own entry ``<root>.<child>``. A container
    that is only indexed (an ``nn.ModuleDict`` of heads) has none; its called
    descendants are summed, outermost first so that nothing counts twice.
    """
    out = {}
    for name in names:
        prefix = f'{root}.{name}'
        keys = [k for k in counts if k == prefix or k.startswith(prefix + '.')]
        # Keep the keys that no other found key contains (their counts include their
        # descendants').
        outer = [k for k in keys if not any(k.startswith(o + '.') for o in keys if o != k)]
        out[name] = float(sum(sum(counts[k].values()) for k in outer))
    return out


def model_complexity(model: nn.Module, shape: Sequence[int]) -> ComplexityReport:
    """Count the parameters and the FLOPs of ``model(inputs, mode='tensor')``.

    Args:
        model (nn.Module): A model from :func:`build_model_for_flops`; teachers,
            when built, are counted on their own (each on the same input, as
            the distillers call them) and are not part of the total.
        shape (Sequence[int]): ``(H, W)`` of the input.

    Returns:
        ComplexityReport: Totals, per top-level submodule and per teacher.
    """
    h, w = to_hw(shape, 'shape')
    param = next(model.parameters(), None)
    x = torch.randn(1, 3, h, w, device=param.device if param is not None else 'cpu')
    teachers = getattr(model, 'teachers', None) or {}
    # Distillers keep their teachers outside the module tree; never count them twice.
    teacher_ids = {id(p) for t in teachers.values() for p in t.parameters()}
    deployed_params = sum(p.numel() for p in model.parameters() if id(p) not in teacher_ids)
    root = type(model).__name__
    # count_flops gives the total as every benchmark tool counts it; the outer counter
    # sees the same operations (dispatch modes nest) and attributes them to modules.
    attribution = flop_counter()
    with torch.no_grad(), attribution:
        total = count_flops(lambda t: model(t, mode='tensor'), x)['forward']
    counts = attribution.get_flop_counts()
    children = [(n, m) for n, m in model.named_children() if n != 'teachers']
    per_child = _top_level_flops(counts, root, [n for n, _ in children])
    rows = [ComplexityRow(n, count_params(m), per_child[n]) for n, m in children
            if count_params(m) or per_child[n]]
    own_flops = total - sum(per_child.values())
    own_params = sum(p.numel() for p in model.parameters(recurse=False))
    if own_flops or own_params:
        rows.append(ComplexityRow(OTHER_ROW, own_params, own_flops))
    teacher_rows = []
    with torch.no_grad():
        for name, teacher in teachers.items():
            teacher_rows.append(ComplexityRow(name, count_params(teacher),
                                              count_flops(teacher, x)['forward']))
    return ComplexityReport(root, (h, w), ComplexityRow('total', deployed_params, total),
                            rows, teacher_rows)


def format_complexity(report: ComplexityReport) -> str:
    """The report as a plain-text table (parameters in M, GFLOPs, share of the total).

    Args:
        report (ComplexityReport): What :func:`model_complexity` returned.

    Returns:
        str: The table, with a header line.
    """
    def row(r: ComplexityRow, name: str, of: float) -> list:
        share = f'{100 * r.flops / of:.1f}%' if of else '-'
        return [name, f'{r.params / 1e6:.3f}', f'{r.flops / 1e9:.4g}', share]

    h, w = report.shape
    total = report.total
    rows = [row(total, f'{report.model_name} (total)', total.flops)]
    rows += [row(r, f'  {r.name}', total.flops) for r in report.modules]
    if report.teachers:
        all_teachers = report.teachers_total
        rows += [row(r, f'teacher {r.name}', all_teachers.flops) for r in report.teachers]
        rows.append(row(all_teachers, all_teachers.name, all_teachers.flops))
    head = (f"input 1x3x{h}x{w}; FLOPs of model(inputs, mode='tensor') under no_grad, fp32 "
            '(a multiply-add = 2 FLOPs; teachers are not part of the total, their share '
            'is of all teachers)')
    return head + '\n' + format_table(['module', 'params (M)', 'GFLOPs', 'share'], rows)
