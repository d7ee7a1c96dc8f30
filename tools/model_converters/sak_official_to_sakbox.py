"""Convert an official SAK checkpoint (innovator-zero/SAK) to a sakbox checkpoint.

Stage-1 files (the bare ``SAK`` student) become :class:`MultiTeacherDistiller`
state dicts, stage-2 files (``MultiTaskModel``: ``backbone.`` + ``heads.``)
:class:`MultiTaskDistiller` ones. Teacher weights are dropped. The output,
``{'meta': {...}, 'state_dict': {...}}``, loads with
``torch.load(weights_only=True)``, ``tools/test.py``, ``init_model`` and
``load_from``; a converted stage-1 file also serves as
``model.student.checkpoint`` of a stage-2 config.

Examples::

    python tools/model_converters/sak_official_to_sakbox.py \\
        nyud_checkpoint.pth work_dirs/sak_nyud_official.pth --config configs/sak_nyud.py
    python tools/model_converters/sak_official_to_sakbox.py 29_checkpoint.pth s1.pth \\
        --stage 1 --teacher-names dinov2 clip sam

See docs/model_converters.md for the key mapping.
"""
import argparse
import hashlib
import os
import os.path as osp
import sys

import torch

# Runs as a script from any directory: make the repository importable.
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from sakbox.models.utils.sak_official_keys import (  # noqa: E402
    UnmappedKeysError,
    convert_official_state_dict,
    unwrap_official_checkpoint,
)
from sakbox.utils.checkpoint import CheckpointError, read_checkpoint  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert an official SAK checkpoint (stage 1 or 2) to sakbox.')
    parser.add_argument('src', help='official checkpoint (.pth / .pt / .bin / .safetensors)')
    parser.add_argument('dst', help='output sakbox checkpoint (.pth)')
    parser.add_argument('--stage', choices=['1', '2', 'auto'], default='auto',
                        help='stage of the official file: 1 = distillation only (bare SAK), '
                        '2 = multi-task model with heads; auto = read it from the keys')
    parser.add_argument('--teacher-names', nargs='+', metavar='NAME',
                        help='teachers in the order of the sakbox config\'s `teachers` dict '
                        '(NAME, or OFFICIAL=NAME to rename); the routers\' expert rows are '
                        'reordered to match. Default: the official names and order')
    parser.add_argument('--official-teacher-order', nargs='+', metavar='NAME',
                        help='teacher order of the official config (its `teachers:` list). '
                        'Default: the order of the tsap.<teacher> keys in the file; needed '
                        'for .safetensors files with routers, whose keys are sorted')
    parser.add_argument('--allow-unmapped', action='store_true',
                        help='print keys without a sakbox counterpart and drop them '
                        '(default: stop with an error naming them)')
    parser.add_argument('--config',
                        help='a sakbox config to check the result against: the model is built '
                        'without teachers and the converted weights are loaded strictly')
    return parser.parse_args(argv)


def load_official(path: str):
    """Read an official file; ``weights_only=False`` only as a noted fallback.

    Unreadable files (missing, empty, truncated, not a checkpoint) fail with
    :func:`sakbox.utils.read_checkpoint`'s message.
    """
    try:
        return read_checkpoint(path, map_location='cpu')
    except CheckpointError as e:
        if not e.weights_only_refused:
            raise
        # Only for this explicitly named file: the official scripts also pickle the
        # optimizer / scheduler state, which some versions refuse under weights_only.
        print(f'NOTE: {path} cannot be read with weights_only=True ('
              f'{", ".join(e.refused_globals) or "its pickle protocol"}); reading it with '
              'weights_only=False because you named this file explicitly. Only do this for '
              'files from a source you trust.')
        return read_checkpoint(path, map_location='cpu', weights_only=False)


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def convert(src: str, dst: str, stage: str = 'auto', teacher_names=None,
            official_teacher_order=None, allow_unmapped: bool = False) -> dict:
    """Convert ``src`` to ``dst``; return the written checkpoint's ``meta``."""
    obj = load_official(src)
    if isinstance(obj, dict) and isinstance(obj.get('meta'), dict) and \
            'official_stage' in obj['meta']:
        raise ValueError(f'{src} was already converted by this tool (from '
                         f'{obj["meta"].get("converted_from")}); load it directly.')
    sd, info, dropped = unwrap_official_checkpoint(obj, src)
    if src.endswith('.safetensors') and official_teacher_order is None and any(
            '.router.module.' in k for k in sd):
        raise ValueError(f'{src}: safetensors files store keys sorted, so the official teacher '
                         'order (the routers\' expert order) is lost; pass '
                         '--official-teacher-order as in the official config.')
    state_dict, layout, unmapped = convert_official_state_dict(
        sd, stage=None if stage == 'auto' else int(stage), teacher_names=teacher_names,
        official_teacher_order=official_teacher_order, allow_unmapped=allow_unmapped)
    if unmapped:
        print(f'WARNING: dropped {len(unmapped)} unmapped key(s): {", ".join(unmapped)}')
    meta = dict(
        converted_from=osp.basename(src),
        source_sha256=sha256(src),
        converter='tools/model_converters/sak_official_to_sakbox.py',
        official_stage=layout.stage,
        model_type='MultiTaskDistiller' if layout.stage == 2 else 'MultiTeacherDistiller',
        teacher_names=list(layout.teacher_names),
        official_teacher_names=list(layout.official_teacher_names),
        tasks=list(layout.tasks),
        out_indices=list(layout.out_indices),
        vit_depth=layout.num_adapters - 1,
        aligners=layout.aligners,
        router=('MoRRouter' if layout.routers else None),
        noisy_gating=layout.noisy_gating,
        lora=layout.lora,
        dropped_teacher_keys=len(dropped),
        unmapped_keys=list(unmapped),
        **{f'official_{k}': v for k, v in info.items()})
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    tmp = dst + '.tmp'
    torch.save(dict(meta=meta, state_dict=state_dict), tmp)
    os.replace(tmp, dst)
    # What was written must load without pickled objects.
    read_checkpoint(dst, map_location='cpu')
    return meta


def check_with_config(config: str, dst: str) -> None:
    """Build ``config``'s model without teachers and load ``dst`` strictly.

    The teachers are never built (not even for a stage-1 distiller, whose
    test-time default builds them): the check needs only their widths, and
    building them would download their weights.
    """
    from sakbox.apis import init_model
    init_model(config, dst, cfg_options={'model.build_teachers_for_test': False})
    print(f'OK: {dst} loads strictly into the model of {config}')


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        meta = convert(args.src, args.dst, args.stage, args.teacher_names,
                       args.official_teacher_order, args.allow_unmapped)
    except (UnmappedKeysError, ValueError, CheckpointError) as e:
        print(f'ERROR: {e}', file=sys.stderr)
        return 1
    print(f'Converted official stage-{meta["official_stage"]} checkpoint {args.src} -> '
          f'{args.dst} ({meta["model_type"]})')
    print(f'  teachers (router expert order after the stem): {meta["teacher_names"]}')
    if meta['tasks']:
        print(f'  tasks: {meta["tasks"]}')
    print(f'  ViT depth {meta["vit_depth"]}, out_indices {meta["out_indices"]}, '
          f'aligners {"on (use aligner=True)" if meta["aligners"] else "off"}, '
          f'router {meta["router"]} (noisy_gating={meta["noisy_gating"]})')
    if meta['dropped_teacher_keys']:
        print(f'  dropped {meta["dropped_teacher_keys"]} teacher weights')
    if args.config:
        try:
            check_with_config(args.config, args.dst)
        except CheckpointError as e:
            print(f'ERROR: the converted file does not fit {args.config}: {e}', file=sys.stderr)
            return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
