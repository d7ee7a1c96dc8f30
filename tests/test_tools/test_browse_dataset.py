"""tools/analysis_tools/browse_dataset.py on scenes written by make_synthetic_scenes.py
(the drawing is sakbox.analysis.dataset_browser, tested in
tests/test_analysis/test_dataset_browser.py)."""
import os.path as osp

import mmcv
import pytest

from tests.utils import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'sak', 'sak_vit-tiny_synthetic-nyud.py')


def test_writes_one_panel_per_sample(tmp_path, capsys):
    data = tmp_path / 'nyud'
    load_tool('tools/dataset_converters/make_synthetic_scenes.py').main(
        ['--layout', 'nyud', '--out', str(data), '--num-train', '3', '--num-val', '2',
         '--size', '40', '56', '--seed', '1'])
    tool = load_tool('tools/analysis_tools/browse_dataset.py')
    out = tmp_path / 'browse'
    written = tool.main([CONFIG, '--split', 'val', '--not-show', '--output-dir', str(out),
                         '--max-samples', '5', '--cfg-options',
                         f'val_dataloader.dataset.data_root={data}'])
    # the 2 val ids follow the 3 train ids
    assert sorted(osp.basename(p) for p in written) == ['0_000003.png', '1_000004.png']
    for path in written:
        panel = mmcv.imread(path)
        # input + semseg / depth / normals / edge tiles of 56 px, 2 px apart
        assert panel.shape[1] == 5 * 56 + 4 * 2
    assert f'2 panels of the val split written to {out}' in capsys.readouterr().out


def test_not_show_without_output_dir_is_refused():
    tool = load_tool('tools/analysis_tools/browse_dataset.py')
    with pytest.raises(SystemExit):
        tool.parse_args([CONFIG, '--not-show'])
