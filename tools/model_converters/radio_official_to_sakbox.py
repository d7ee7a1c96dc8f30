"""Convert a released AM-RADIO (v2.5-style ViT) checkpoint to a sakbox RADIODistiller one.

The conversion is :func:`sakbox.converters.convert_radio_official_file`; see
``docs/radio.md`` for the key mapping. The matching config fragment is printed.

Usage::

    python tools/model_converters/radio_official_to_sakbox.py radio-v2.5-b_half.pth.tar \\
        radio_v2.5-b_sakbox.pth [--teachers clip siglip dino_v2 sam] [--num-heads 12]
"""
import argparse
import os.path as osp
import pprint
import sys

import torch

# Runs as a script from any directory: make the repository importable.
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from sakbox.converters import convert_radio_official_file, radio_config_fragment  # noqa: E402
from sakbox.utils.checkpoint import CheckpointError  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:  # noqa: D103
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('src', help='official checkpoint (.pth.tar)')
    p.add_argument('dst', help='output sakbox checkpoint')
    p.add_argument('--teachers', nargs='+', help='adaptor heads to keep (default: all)')
    p.add_argument('--num-heads', type=int, help='attention heads (if not inferable)')
    p.add_argument('--dtype', default='float32', choices=['float32', 'float16', 'bfloat16'])
    p.add_argument('--unsafe-load', action='store_true',
                   help='torch.load(weights_only=False): only for files you trust')
    return p.parse_args(argv)


def main(argv=None) -> None:  # noqa: D103
    a = parse_args(argv)
    try:
        out = convert_radio_official_file(a.src, a.dst, a.teachers, a.num_heads,
                                          getattr(torch, a.dtype), unsafe=a.unsafe_load)
    except CheckpointError as e:
        sys.exit(f'ERROR: {e}')
    print(f'saved {len(out["state_dict"])} tensors to {a.dst}\n'
          'config fragment (teacher_options go into RADIODistiller; teacher configs are '
          'yours to give):')
    pprint.pprint(radio_config_fragment(out['meta']['radio_config']), width=100)


if __name__ == '__main__':
    main()
