"""tools/analysis_tools/benchmark_dataloader.py runs and reports a throughput."""
import importlib.util
import os.path as osp

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _load(rel):
    spec = importlib.util.spec_from_file_location(osp.basename(rel)[:-3], osp.join(REPO, rel))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_dataloader(nyud_root, capsys):
    tool = _load('tools/analysis_tools/benchmark_dataloader.py')
    res = tool.main([osp.join(REPO, 'configs/_base_/datasets/synthetic_nyud.py'),
                     '--data-root', str(nyud_root), '--num-workers', '0', '--num-batches', '3',
                     '--batch-size', '2'])
    assert res['images'] == 6 and res['images_per_s'] > 0
    out = capsys.readouterr().out
    assert 'images/s' in out and 'crop (96, 128)' in out
