"""The official SAK key layout and its map to sakbox distiller keys.

The official training scripts save the student's ``state_dict()``: the bare
``SAK`` backbone in stage 1, ``MultiTaskModel(backbone=SAK, heads)`` in stage 2
(teachers are never saved). This module reads what such a state dict contains
(:func:`detect_stage`, :func:`read_layout`) and maps every key to
:class:`MultiTeacherDistiller` (stage 1) or :class:`MultiTaskDistiller`
(stage 2) names (:func:`convert_sak_official_state_dict`); see
``docs/model_converters.md`` for the table. It only renames (and, for a
requested teacher order, permutes the router rows with the router's own
:func:`~sakbox.models.routers.mor_router.permute_expert_outputs`): no tensor
is resampled, so the converted model computes exactly what the official one
did. Files are read and written by :mod:`sakbox.converters.sak_official`.
"""
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from torch import Tensor

#: Official ``MultiTaskModel`` attribute names (stage 2).
OFFICIAL_BACKBONE = 'backbone.'
OFFICIAL_HEADS = 'heads.'
#: What ``peft.get_peft_model`` puts between ``vit.`` and the timm ViT's keys.
PEFT_WRAPPER = 'base_model.model.'
#: Prefixes of a whole official distiller's state dict (``MTMT_Distiller``).
DISTILLER_STUDENT = 'student.'
DISTILLER_TEACHERS = 'teachers.'
#: sakbox prefixes.
SAKBOX_STEM = 'student.'
SAKBOX_HEADS = 'decode_heads.'

_ADAPTER_PARAMS = ('down.weight', 'down.bias', 'up.weight', 'up.bias', 'scale')
_HEAD_PARAM = re.compile(r'^(linears\.\d+\.(weight|bias)'
                         r'|linear_fuse\.0\.(weight|bias)'
                         r'|linear_fuse\.1\.(weight|bias|running_mean|running_var'
                         r'|num_batches_tracked)'
                         r'|last_conv\.(weight|bias))$')
_TSAP = re.compile(r'^tsap\.([^.]+)\.(\d+)\.(.+)$')
_OUT_NORM = re.compile(r'^out_norms\.(\d+)_([^.]+)\.(weight|bias)$')
_ALIGNER = re.compile(r'^ts_aligners\.(\d+)_([^.]+)\.(weight|bias)$')
_MOR = re.compile(r'^mor\.(\d+)_([^.]+)\.router\.module\.(\d)\.(weight|bias)$')
#: timm ViT parts that neither the official stem nor SAKViT has.
_VIT_DROPPED = ('norm.', 'fc_norm.', 'head.', 'head_drop.', 'attn_pool.')
#: Index of the MoR MLP's last Linear (Linear, LayerNorm, GELU, Linear).
_MOR_LAST = 3


class UnmappedKeysError(KeyError):
    """Raised when official keys have no sakbox counterpart."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


@dataclass
class OfficialLayout:
    """What an official SAK student state dict contains (read from its keys).

    Attributes:
        stage (int): 1 (bare ``SAK``) or 2 (``MultiTaskModel``).
        official_teacher_names (List[str]): In the official order (first
            appearance of ``tsap.<teacher>``), the routers' expert order.
        teacher_names (List[str]): After conversion: the sakbox names in the
            sakbox order (equal to the official ones unless renamed/reordered).
        tasks (List[str]): Stage 2: in the order of ``heads.<task>``.
        out_indices (List[int]): Output blocks (from ``out_norms.<i>_<t>``).
        num_adapters (int): Adapters per path (ViT depth + 1).
        aligners (bool): Whether ``ts_aligners`` exist.
        routers (bool): Whether MoR routers exist (``router_type='mor'``).
        noisy_gating (bool, optional): Read from the router width.
        lora (bool): Whether the ViT was wrapped by ``peft.get_peft_model``.
    """

    stage: int
    official_teacher_names: List[str] = field(default_factory=list)
    teacher_names: List[str] = field(default_factory=list)
    tasks: List[str] = field(default_factory=list)
    out_indices: List[int] = field(default_factory=list)
    num_adapters: int = 0
    aligners: bool = False
    routers: bool = False
    noisy_gating: Optional[bool] = None
    lora: bool = False


def detect_stage(keys: Sequence[str]) -> int:
    """Tell the official stage from the keys.

    Args:
        keys (Sequence[str]): Keys of an official student state dict.

    Returns:
        int: 1 for a bare ``SAK`` state dict, 2 for ``MultiTaskModel``
        (``backbone.`` / ``heads.`` keys).

    Raises:
        ValueError: If the keys are not those of an official SAK student.
    """
    if any(k.startswith((OFFICIAL_BACKBONE, OFFICIAL_HEADS)) for k in keys):
        return 2
    if any(k.startswith(('vit.', 'tsap.')) for k in keys):
        return 1
    raise ValueError('not an official SAK state dict: no key starts with vit. / tsap. (stage 1) '
                     f'or backbone. / heads. (stage 2); first keys: {list(keys)[:5]}')


def _first_seen(names: List[str]) -> List[str]:
    return list(OrderedDict.fromkeys(names))


def read_layout(sd: Dict[str, Tensor], stage: int) -> OfficialLayout:
    """Read teachers, tasks, output blocks and options from the keys.

    Args:
        sd (dict): Official student state dict (``backbone.`` kept in stage 2).
        stage (int): 1 or 2.

    Returns:
        OfficialLayout: The layout.
    """
    pre = OFFICIAL_BACKBONE if stage == 2 else ''
    bb = [k[len(pre):] for k in sd if k.startswith(pre)]
    lay = OfficialLayout(stage=stage)
    lay.teacher_names = _first_seen([m.group(1) for m in map(_TSAP.match, bb) if m])
    lay.official_teacher_names = list(lay.teacher_names)
    if not lay.teacher_names:
        raise ValueError(f'no teacher-specific adapter path ({pre}tsap.<teacher>.<i>.*) found: '
                         'not a SAK student.')
    lay.out_indices = sorted({int(m.group(1)) for m in map(_OUT_NORM.match, bb) if m})
    adapters = {int(m.group(2)) for m in map(_TSAP.match, bb) if m}
    lay.num_adapters = max(adapters) + 1
    lay.aligners = any(_ALIGNER.match(k) for k in bb)
    mor = [m for m in map(_MOR.match, bb) if m]
    lay.routers = bool(mor)
    lay.lora = any(k.startswith('vit.' + PEFT_WRAPPER) for k in bb)
    if stage == 2:
        lay.tasks = _first_seen([k[len(OFFICIAL_HEADS):].split('.')[0] for k in sd
                                 if k.startswith(OFFICIAL_HEADS)])
    if mor:
        key = next((pre + m.group(0) for m in mor
                    if int(m.group(3)) == _MOR_LAST and m.group(4) == 'weight'), None)
        if key is None:
            raise ValueError(f'the MoR routers have no last Linear ({pre}mor.<i>_<task>.router.'
                             f'module.{_MOR_LAST}.weight).')
        experts = 1 + len(lay.teacher_names)
        rows = sd[key].shape[0]
        if rows not in (experts, 2 * experts):
            raise ValueError(f'{key} has {rows} outputs; expected {experts} (plain) or '
                             f'{2 * experts} (noisy gating) for {len(lay.teacher_names)} '
                             'teachers.')
        lay.noisy_gating = rows == 2 * experts
    return lay


def _expert_permutation(official: List[str], target: List[str]) -> Optional[List[int]]:
    """Row order of the router's logits for the target expert order (None = unchanged)."""
    if official == target:
        return None
    return [0] + [1 + official.index(t) for t in target]


def parse_teacher_names(entries: Optional[Sequence[str]],
                        official: List[str]) -> Tuple[Dict[str, str], List[str]]:
    """Read ``--teacher-names`` entries ``NAME`` or ``OFFICIAL=NAME``.

    Args:
        entries (Sequence[str], optional): sakbox teachers in the sakbox
            config's order; None keeps the official names and order.
        official (List[str]): Official names in the official order.

    Returns:
        Tuple[Dict[str, str], List[str]]: ``{official: sakbox}`` renames and
        the official names in the sakbox order.
    """
    if not entries:
        return {t: t for t in official}, list(official)
    rename, order = {}, []
    for entry in entries:
        src, _, dst = entry.partition('=')
        dst = dst or src
        if src not in official:
            raise ValueError(f'--teacher-names: {src!r} is not a teacher of the checkpoint '
                             f'(it has {official}).')
        if src in rename:
            raise ValueError(f'--teacher-names: {src!r} is given twice.')
        rename[src] = dst
        order.append(src)
    missing = [t for t in official if t not in rename]
    if missing:
        raise ValueError(f'--teacher-names must list every teacher of the checkpoint '
                         f'({official}); missing {missing}.')
    if len(set(rename.values())) != len(rename):
        raise ValueError(f'--teacher-names maps two teachers to one name: {entries}')
    return rename, order


def convert_sak_official_state_dict(sd: Dict[str, Tensor],
                                    stage: Optional[int] = None,
                                    teacher_names: Optional[Sequence[str]] = None,
                                    official_teacher_order: Optional[Sequence[str]] = None,
                                    allow_unmapped: bool = False
                                    ) -> Tuple['OrderedDict[str, Tensor]', OfficialLayout,
                                               List[str]]:
    """Map an official SAK student state dict to sakbox distiller keys.

    Rules (``P`` = ``backbone.`` in stage 2, empty in stage 1; ``lvl`` = the
    rank of block ``i`` among the output blocks):

    * ``P vit.<k>`` -> ``student.vit.<k>`` (a ``peft`` ``base_model.model.``
      wrapper is removed);
    * ``P tsap.<t>.<j>.<p>`` -> ``student.paths.<t>.adapters.<j>.<p>``;
    * ``P out_norms.<i>_<t>.<p>`` -> ``student.out_norms.<t>.<lvl>.<p>``;
    * ``P ts_aligners.<i>_<t>.<p>`` -> ``student.aligners.<t>.<lvl>.<p>``;
    * ``P mor.<i>_<task>.router.module.<n>.<p>`` ->
      ``student.routers.<task>.<lvl>.mlp.<n>.<p>``;
    * ``heads.<task>.<k>`` -> ``decode_heads.<task>.<k>`` (stage 2).

    Args:
        sd (dict): Official student state dict (see
            :func:`unwrap_sak_official`).
        stage (int, optional): 1 or 2; None detects it from the keys.
        teacher_names (Sequence[str], optional): sakbox teacher order (and
            renames ``OFFICIAL=NAME``); the routers' expert rows are permuted
            to match. None keeps the official names and order.
        official_teacher_order (Sequence[str], optional): The official
            config's teacher order, when the file's key order cannot be
            trusted (e.g. safetensors sorts keys). None: the order of the
            ``tsap.<teacher>`` keys.
        allow_unmapped (bool): Drop keys without a sakbox counterpart instead
            of raising.

    Returns:
        Tuple[OrderedDict, OfficialLayout, List[str]]: The sakbox state dict,
        the official layout and the unmapped (dropped) keys.

    Raises:
        UnmappedKeysError: If keys cannot be mapped and ``allow_unmapped`` is False.
    """
    # Lazy: importing sakbox.models (timm, every component) is only needed here.
    from sakbox.models.routers.mor_router import permute_expert_outputs

    detected = detect_stage(list(sd))
    if stage is not None and int(stage) != detected:
        hint = ('it has backbone. / heads. keys (a stage-2 MultiTaskModel)' if detected == 2
                else 'it has no backbone. / heads. keys (a bare stage-1 SAK)')
        raise ValueError(f'stage {stage} was requested (--stage {stage}) but {hint}.')
    lay = read_layout(sd, detected)
    if official_teacher_order is not None:
        if sorted(official_teacher_order) != sorted(lay.teacher_names):
            raise ValueError(f'official teacher order {list(official_teacher_order)} does not '
                             f'name the checkpoint\'s teachers {sorted(lay.teacher_names)}.')
        lay.teacher_names = list(official_teacher_order)
        lay.official_teacher_names = list(official_teacher_order)
    rename, order = parse_teacher_names(teacher_names, lay.teacher_names)
    perm = _expert_permutation(lay.teacher_names, order)
    level = {i: lvl for lvl, i in enumerate(lay.out_indices)}
    pre = OFFICIAL_BACKBONE if detected == 2 else ''

    def stem_key(k: str, v: Tensor) -> Tuple[Optional[str], Tensor]:
        if k.startswith('vit.'):
            rest = k[len('vit.'):]
            if rest.startswith(PEFT_WRAPPER):
                rest = rest[len(PEFT_WRAPPER):]
            # The official stem has no final norm / head (SAKViT prunes them too).
            if rest.startswith(_VIT_DROPPED):
                return None, v
            return f'vit.{rest}', v
        m = _TSAP.match(k)
        if m and m.group(1) in rename and m.group(3) in _ADAPTER_PARAMS:
            return f'paths.{rename[m.group(1)]}.adapters.{m.group(2)}.{m.group(3)}', v
        m = _OUT_NORM.match(k)
        if m and m.group(2) in rename and int(m.group(1)) in level:
            return f'out_norms.{rename[m.group(2)]}.{level[int(m.group(1))]}.{m.group(3)}', v
        m = _ALIGNER.match(k)
        if m and m.group(2) in rename and int(m.group(1)) in level:
            return f'aligners.{rename[m.group(2)]}.{level[int(m.group(1))]}.{m.group(3)}', v
        m = _MOR.match(k)
        if m and int(m.group(1)) in level:
            n = int(m.group(3))
            if perm is not None and n == _MOR_LAST:
                v = permute_expert_outputs(v, perm, bool(lay.noisy_gating))
            return (f'routers.{m.group(2)}.{level[int(m.group(1))]}.mlp.{n}.{m.group(4)}', v)
        return None, v

    out, unmapped = OrderedDict(), []
    for k, v in sd.items():
        new = None
        if k.startswith(pre) and (detected == 1 or k.startswith(OFFICIAL_BACKBONE)):
            new, v = stem_key(k[len(pre):], v)
            new = None if new is None else SAKBOX_STEM + new
        elif detected == 2 and k.startswith(OFFICIAL_HEADS):
            task, _, rest = k[len(OFFICIAL_HEADS):].partition('.')
            if _HEAD_PARAM.match(rest):
                new = f'{SAKBOX_HEADS}{task}.{rest}'
        if new is None:
            unmapped.append(k)
        elif new in out:
            raise ValueError(f'two official keys map to {new!r} (the second is {k!r}).')
        else:
            out[new] = v
    if unmapped and not allow_unmapped:
        raise UnmappedKeysError(
            f'{len(unmapped)} official key(s) have no sakbox counterpart: '
            f'{", ".join(unmapped[:20])}{" ..." if len(unmapped) > 20 else ""} '
            '(use --allow-unmapped to drop them).')
    lay.teacher_names = [rename[t] for t in order]
    return out, lay, unmapped
