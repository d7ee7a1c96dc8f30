"""sakbox.analysis.dataloader_benchmark on the synthetic NYUD set."""
import os.path as osp

from mmengine.config import Config
from mmengine.registry import init_default_scope

from sakbox.analysis.dataloader_benchmark import benchmark_dataloader, pipeline_cpu_cost

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_benchmark_dataloader_cycles_and_times(nyud_root):
    init_default_scope('sakbox')
    dl = Config.fromfile(osp.join(REPO, 'configs/_base_/datasets/synthetic_nyud.py')) \
        .train_dataloader
    dl.dataset.data_root = str(nyud_root)
    dl.update(num_workers=0, persistent_workers=False, batch_size=2)
    res = benchmark_dataloader(dl.to_dict(), 3)
    assert res['images'] == 6 and res['images_per_s'] > 0 and res['first_batch_s'] > 0
    assert res['cpu_ms_per_image'] > 0  # in-process loading reports its CPU cost
    assert pipeline_cpu_cost(dl.to_dict(), num_samples=2) > 0
