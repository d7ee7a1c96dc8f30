"""Test-wide settings: no hub access, sakbox as the default scope, repo root on the path."""
import os
import os.path as osp
import sys

os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

# What teacher_precision='auto' means must not depend on the host: the main pass
# resolves it as on an AVX2-only CPU (fp32). `make test` then runs the tests
# marked `auto_precision` again with SAKBOX_NATIVE_BF16=1, as on AMX /
# AVX512-BF16 CPUs, so both behaviours are checked on every machine kind.
os.environ.setdefault('SAKBOX_NATIVE_BF16', '0')

#: Test files whose code paths resolve teacher_precision='auto' (distillers with
#: teachers, the tools that run them); tiny models, so emulated bf16 stays fast.
AUTO_PRECISION_PATHS = (
    'tests/test_models/test_distillers/',
    'tests/test_engine/test_optim_wrappers/',
    'tests/test_utils/test_precision.py',
    'tests/test_tools/test_benchmark_train.py',
    'tests/test_analysis/test_teacher_precision_check.py',
    'tests/test_datasets/test_feature_cache/test_extraction.py',
    'tests/test_configs/test_radio_configs.py',
    'tests/test_configs/test_sak_stage1_cached_configs.py',
    'tests/test_apis/test_teacher_free_evaluation.py',
)


def pytest_collection_modifyitems(config, items):
    """Mark the tests of :data:`AUTO_PRECISION_PATHS` with ``auto_precision``."""
    import pytest
    for item in items:
        if item.nodeid.startswith(AUTO_PRECISION_PATHS):
            item.add_marker(pytest.mark.auto_precision)
