"""Fixtures shared with the dataset tests (the synthetic NYUD-v2 root)."""
from tests.test_datasets.conftest import nyud_root  # noqa: F401
