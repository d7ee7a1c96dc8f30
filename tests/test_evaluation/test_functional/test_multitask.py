import pytest

from sakbox.evaluation.functional import delta_m, is_lower_better, metric_key


def test_delta_m_hand_computed():
    metrics = {'semseg/mIoU': 55.0, 'depth/RMSE': 0.45, 'normals/mErr': 19.0,
               'edge/odsF': 80.0}
    baselines = {'semseg': 50.0, 'depth/RMSE': 0.5, 'normals': 20.0, 'edge/odsF': 80.0}
    # (+10 %) + (+10 %, lower is better) + (+5 %) + 0 -> mean 6.25 %
    assert delta_m(metrics, baselines) == pytest.approx(6.25)


def test_directions_and_keys():
    assert is_lower_better('depth/RMSE') and is_lower_better('normals/mErr')
    assert not is_lower_better('edge/odsF')
    assert is_lower_better('edge/odsF', {'edge/odsF': True})
    assert metric_key('sal') == 'sal/maxF' and metric_key('depth/absRel') == 'depth/absRel'
    with pytest.raises(KeyError, match='unknown task'):
        metric_key('optical_flow')


def test_errors():
    with pytest.raises(KeyError, match='no evaluated metric'):
        delta_m({'semseg/mIoU': 1.0}, {'depth': 0.5})
    with pytest.raises(ValueError, match='is 0'):
        delta_m({'semseg/mIoU': 1.0}, {'semseg': 0})
