"""Parameters and FLOPs of a config's model, in total and per top-level submodule.

Example::

    python tools/analysis_tools/get_flops.py configs/sak/sak_vit-b_nyud.py
    python tools/analysis_tools/get_flops.py configs/sak_nyud.py --shape 448 576 --with-teachers

The model is built as ``tools/test.py`` builds it (no teachers, no pretrained
weights; nothing is downloaded) and ``model(inputs, mode='tensor')`` is counted on one
``1x3xHxW`` input; the default size is the config's test canvas
(``model.data_preprocessor.size``), else its crop size. ``--with-teachers`` also
builds the teachers from a random init and counts each one on the same input. The
counting is :mod:`sakbox.analysis.model_complexity`.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import DictAction  # noqa: E402

from sakbox.analysis.model_complexity import (  # noqa: E402
    ComplexityReport,
    build_model_for_flops,
    default_input_shape,
    format_complexity,
    model_complexity,
)
from sakbox.utils import register_all_modules  # noqa: E402
from sakbox.utils.cli import load_config  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description="Count a model's parameters and FLOPs")
    parser.add_argument('config', help='config file')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='input size (default: the config\'s test / crop size)')
    parser.add_argument('--with-teachers', action='store_true',
                        help='also build the teachers (random init) and count each one')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. model.student.depth=2')
    return parser.parse_args(argv)


def main(argv=None) -> ComplexityReport:
    """Entry point; prints the table and returns the report."""
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    cfg = load_config(args.config, args.cfg_options)
    shape = tuple(args.shape) if args.shape else default_input_shape(cfg)
    model = build_model_for_flops(cfg, with_teachers=args.with_teachers)
    report = model_complexity(model, shape)
    print(f'{args.config}:')
    print(format_complexity(report))
    return report


if __name__ == '__main__':
    main()
