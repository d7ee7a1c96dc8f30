"""Prepare a trained checkpoint for release: keep the weights, name the file by its hash.

Example::

    python tools/model_converters/publish_model.py work_dirs/sak_nyud/iter_40000.pth \\
        release/sak_vit-b_nyud.pth
    # -> release/sak_vit-b_nyud-1a2b3c4d.pth

Only ``meta`` and ``state_dict`` are kept (optimizer, message hub, parameter
schedulers and any teacher weights are dropped), the input is read with
``torch.load(weights_only=True)``, and the output is renamed
``<OUT_FILE without .pth>-<first 8 hex digits of its sha256>.pth``, as OpenMMLab's
model zoo names files. The published file loads strictly with ``tools/test.py`` and
``init_model``. The work is :func:`sakbox.utils.publish_checkpoint.publish_checkpoint`.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from sakbox.utils.cli import run_cli  # noqa: E402
from sakbox.utils.publish_checkpoint import publish_checkpoint  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description='Slim a checkpoint and name it by its hash')
    parser.add_argument('in_file', help='training checkpoint (e.g. work_dirs/x/iter_600.pth)')
    parser.add_argument('out_file', help='output name before the hash (e.g. model.pth)')
    return parser.parse_args(argv)


def main(argv=None) -> str:
    """Entry point; prints and returns the published file."""
    args = parse_args(argv)
    path, summary = publish_checkpoint(args.in_file, args.out_file)
    dropped = ', '.join(summary['dropped']) or 'nothing'
    teachers = (f'; dropped {summary["teacher_tensors"]} teacher tensors'
                if summary['teacher_tensors'] else '')
    print(f'kept meta and {summary["tensors"]} state_dict tensors; dropped {dropped}{teachers}')
    print(path)
    return path


if __name__ == '__main__':
    run_cli(main, 'tools/model_converters/publish_model.py')
