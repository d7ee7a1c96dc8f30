"""sakbox.evaluation.metric_files: the one reader of metric files."""
import json
import math

import pytest

from sakbox.evaluation.metric_files import (
    find_last_metric,
    find_metric,
    load_metric_records,
    load_metrics,
)


def test_load_metrics_keeps_finite_numbers(tmp_path):
    path = tmp_path / 'metrics.json'
    path.write_text(json.dumps(dict(config='c.py', metrics={
        'semseg/mIoU': 20, 'note': 'x', 'flag': True, 'depth/RMSE': 0.5})))
    assert load_metrics(str(path)) == {'semseg/mIoU': 20.0, 'depth/RMSE': 0.5}
    flat = tmp_path / 'flat.json'
    flat.write_text('{"edge/odsF": 50.0, "sal/maxF": NaN}')
    assert load_metrics(str(flat)) == {'edge/odsF': 50.0}


def test_load_metrics_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='metrics JSON not found: .*nope.json'):
        load_metrics(str(tmp_path / 'nope.json'))
    bad = tmp_path / 'list.json'
    bad.write_text('[1, 2]')
    with pytest.raises(ValueError, match='list.json: expected a JSON object'):
        load_metrics(str(bad))


def test_load_metric_records_reads_json_lines_and_work_dirs(tmp_path):
    log = tmp_path / 'scalars.json'
    log.write_text(json.dumps({'depth/RMSE': 9.9, 'step': 1}) + '\n\n'
                   + json.dumps({'depth/RMSE': 0.7, 'step': 2}) + '\n')
    records = load_metric_records(str(log))
    assert records == [{'depth/RMSE': 9.9, 'step': 1}, {'depth/RMSE': 0.7, 'step': 2}]
    assert find_last_metric(records, 'depth/RMSE') == 0.7
    assert find_last_metric(records, 'semseg/mIoU') is None
    (tmp_path / 'wd').mkdir()
    (tmp_path / 'wd' / 'metrics.json').write_text(json.dumps(dict(metrics={'a/b': 1.0})))
    assert load_metric_records(str(tmp_path / 'wd')) == [{'a/b': 1.0}]
    with pytest.raises(FileNotFoundError, match='without metrics.json'):
        load_metric_records(str(tmp_path))
    broken = tmp_path / 'broken.json'
    broken.write_text('{"a": 1}\n{nope')
    with pytest.raises(ValueError, match='neither JSON nor JSON lines'):
        load_metric_records(str(broken))
    empty = tmp_path / 'empty.json'
    empty.write_text('[1]')
    with pytest.raises(ValueError, match='holds no metric dict'):
        load_metric_records(str(empty))


def test_find_metric_exact_then_shortest_suffix():
    assert find_metric({'multitask/semseg/mIoU': 3.0}, 'semseg/mIoU') == 3.0
    assert find_metric({'depth/RMSE': 0.5}, 'semseg/mIoU') is None
    assert find_metric({'a/x/semseg/mIoU': 1.0, 'x/semseg/mIoU': 2.0}, 'semseg/mIoU') == 2.0
    assert find_metric({'x/semseg/mIoU': 2.0, 'semseg/mIoU': 4.0}, 'semseg/mIoU') == 4.0
    assert not math.isnan(find_metric({'k': 1}, 'k'))
