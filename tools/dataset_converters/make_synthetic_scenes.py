"""Render a synthetic multi-task dataset in the NYUD-v2 or PASCAL-Context layout.

Example::

    python tools/dataset_converters/make_synthetic_scenes.py --layout nyud \
        --out data/synthetic_nyud
    python tools/dataset_converters/make_synthetic_scenes.py --layout pascal \
        --out data/synthetic_pascal --num-train 200 --num-val 50 --size 128 160 --seed 1
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))

from sakbox.datasets.synthetic import generate_synthetic_dataset  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--layout', choices=['nyud', 'pascal'], required=True,
                        help='on-disk layout: NYUD-v2 (semseg/depth/normals/edge) or '
                        'PASCAL-Context (semseg/human_parts/normals/edge/sal)')
    parser.add_argument('--out', required=True, help='dataset root to write')
    parser.add_argument('--num-train', type=int, default=120, help='training images')
    parser.add_argument('--num-val', type=int, default=40, help='validation images')
    parser.add_argument('--size', type=int, nargs=2, default=(96, 128), metavar=('H', 'W'),
                        help='image height and width')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    args = parser.parse_args(argv)
    if args.num_train < 0 or args.num_val < 0 or args.num_train + args.num_val == 0:
        parser.error('--num-train/--num-val must be >= 0 and not both 0')
    return args


def main(argv=None) -> None:
    """Entry point."""
    args = parse_args(argv)
    generate_synthetic_dataset(args.layout, args.out, num_train=args.num_train,
                               num_val=args.num_val, size=args.size, seed=args.seed,
                               verbose=True)


if __name__ == '__main__':
    main()
