"""tools/analysis_tools/benchmark_dataloader.py runs and reports a throughput (its smoke test;
the logic is tested in test_dataloader_benchmark.py)."""
import os.path as osp

from tests.utils import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_benchmark_dataloader(nyud_root, capsys):
    tool = load_tool('tools/analysis_tools/benchmark_dataloader.py')
    res = tool.main([osp.join(REPO, 'configs/_base_/datasets/synthetic_nyud.py'),
                     '--data-root', str(nyud_root), '--num-workers', '0', '--num-batches', '3',
                     '--batch-size', '2'])
    assert res['images'] == 6 and res['images_per_s'] > 0
    out = capsys.readouterr().out
    assert 'images/s' in out and 'crop (96, 128)' in out
