"""sakbox.evaluation.compare: aggregation over seeds, Delta_m and tables on fake metrics."""
import statistics

import pytest

from sakbox.evaluation.compare import format_tables, summarize
from sakbox.evaluation.functional import delta_m

# Two configs x three seeds; the light head is 10% worse on semseg and 10% better on depth
# at every seed, equal on normals and edge, so its Delta_m is exactly 0 with no spread.
REF = [dict(zip(('semseg/mIoU', 'depth/RMSE', 'normals/mErr', 'edge/odsF'), v))
       for v in [(20.0, 0.8, 18.0, 50.0), (18.0, 0.7, 17.0, 54.0), (22.0, 0.9, 19.0, 52.0)]]
LIGHT = [{'semseg/mIoU': 18.0, 'depth/RMSE': 0.72, 'normals/mErr': 18.0, 'edge/odsF': 52.0}
         for _ in range(3)]


def test_mean_std_and_delta_m_against_reference_means():
    summary = summarize({'ref': REF, 'light': LIGHT})
    assert summary['reference'] == 'ref'
    assert summary['delta_keys'] == ['semseg/mIoU', 'normals/mErr', 'depth/RMSE', 'edge/odsF']
    ref = summary['configs']['ref']['metrics']
    assert ref['semseg/mIoU']['mean'] == pytest.approx(20.0)
    assert ref['semseg/mIoU']['std'] == pytest.approx(2.0)  # sample std (n - 1)
    assert ref['depth/RMSE']['std'] == pytest.approx(statistics.stdev([0.8, 0.7, 0.9]))
    assert summary['baselines'] == pytest.approx(
        {'semseg/mIoU': 20.0, 'normals/mErr': 18.0, 'depth/RMSE': 0.8, 'edge/odsF': 52.0})
    # (-10% semseg) + (+10% depth, lower is better) + 0 + 0 over 4 tasks.
    light = summary['configs']['light']['delta_m']
    assert light['mean'] == pytest.approx(0.0, abs=1e-9)
    assert light['std'] == pytest.approx(0.0, abs=1e-9)
    # The reference against its own mean: mean 0, spread = seed noise; per-seed values
    # are sakbox's delta_m with the reference means as baselines.
    ref_dm = summary['configs']['ref']['delta_m']
    assert ref_dm['mean'] == pytest.approx(0.0, abs=1e-9)
    assert ref_dm['values'] == pytest.approx([delta_m(r, summary['baselines']) for r in REF])
    assert ref_dm['std'] > 0


def test_delta_m_sign_and_custom_keys():
    better = [dict(r, **{'semseg/mIoU': r['semseg/mIoU'] * 1.2}) for r in REF]
    summary = summarize({'ref': REF, 'better': better}, delta_keys=['semseg/mIoU'])
    assert summary['delta_keys'] == ['semseg/mIoU']
    assert summary['configs']['better']['delta_m']['mean'] == pytest.approx(20.0)


def test_only_keys_of_every_seed_are_aggregated_and_errors_name_the_problem():
    seeds = [dict(REF[0], extra=1.0), REF[1]]
    summary = summarize({'ref': seeds})
    assert 'extra' not in summary['configs']['ref']['metrics']
    with pytest.raises(KeyError, match='not reported by every seed'):
        summarize({'ref': seeds}, delta_keys=['extra'])
    with pytest.raises(KeyError, match='no primary task metric'):
        summarize({'ref': [{'loss': 1.0}]})
    with pytest.raises(ValueError, match="without any finished run: \\['b'\\]"):
        summarize({'a': REF, 'b': []})


def test_single_seed_has_zero_std():
    summary = summarize({'ref': REF[:1], 'light': LIGHT[:1]})
    assert summary['configs']['ref']['metrics']['edge/odsF'] == dict(mean=50.0, std=0.0, n=1)


def test_format_tables_lists_every_metric_and_delta_m():
    text = format_tables(summarize({'ref': REF, 'light': LIGHT}))
    lines = text.splitlines()
    assert lines[0] == ('| config | seeds | semseg/mIoU | normals/mErr | depth/RMSE | edge/odsF '
                        '| Δm (%) |')
    assert lines[2].startswith('| `ref` (reference) | 3 | 20.00 ± 2.00 | 18.00 ± 1.00 | '
                               '0.800 ± 0.100 | 52.00 ± 2.00 | +0.00 ± ')
    assert lines[3] == ('| `light` | 3 | 18.00 ± 0.00 | 18.00 ± 0.00 | 0.720 ± 0.000 | '
                        '52.00 ± 0.00 | +0.00 ± 0.00 |')
    assert '| depth/RMSE | 0.800 ± 0.100 | 0.720 ± 0.000 |' in lines
