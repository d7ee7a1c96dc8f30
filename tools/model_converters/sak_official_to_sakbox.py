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

The conversion is :func:`sakbox.converters.convert_sak_official_file`; see
docs/model_converters.md for the key mapping.
"""
import argparse
import os.path as osp
import sys

# Runs as a script from any directory: make the repository importable.
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from sakbox.converters import (  # noqa: E402
    UnmappedKeysError,
    check_sak_file_with_config,
    convert_sak_official_file,
)
from sakbox.utils.checkpoint import CheckpointError  # noqa: E402


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


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        meta = convert_sak_official_file(
            args.src, args.dst, stage=None if args.stage == 'auto' else int(args.stage),
            teacher_names=args.teacher_names,
            official_teacher_order=args.official_teacher_order,
            allow_unmapped=args.allow_unmapped)
    except (UnmappedKeysError, ValueError, CheckpointError) as e:
        print(f'ERROR: {e}', file=sys.stderr)
        return 1
    if meta['unmapped_keys']:
        print(f'WARNING: dropped {len(meta["unmapped_keys"])} unmapped key(s): '
              f'{", ".join(meta["unmapped_keys"])}')
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
            check_sak_file_with_config(args.config, args.dst)
        except CheckpointError as e:
            print(f'ERROR: the converted file does not fit {args.config}: {e}', file=sys.stderr)
            return 1
        print(f'OK: {args.dst} loads strictly into the model of {args.config}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
