"""The dataset meta (class names, palettes) that goes with a built model."""
from typing import Optional

from sakbox.registry import DATASETS

__all__ = ['model_dataset_meta']


def model_dataset_meta(model) -> Optional[dict]:
    """Class names / palettes for the model's predictions.

    ``model.dataset_meta`` when set, else the ``METAINFO`` of the dataset class
    named by the config's test (or val) dataloader, else None (fixed palette).

    Args:
        model: A model from :func:`sakbox.apis.init_model` (with ``model.cfg``).

    Returns:
        dict or None: The dataset meta.
    """
    meta = getattr(model, 'dataset_meta', None)
    if meta:
        return dict(meta)
    cfg = getattr(model, 'cfg', None)
    for key in ('test_dataloader', 'val_dataloader'):
        ds_type = ((cfg.get(key) or {}).get('dataset') or {}).get('type') if cfg else None
        if ds_type:
            try:
                return dict(getattr(DATASETS.get(ds_type), 'METAINFO', None) or {}) or None
            except KeyError:
                return None
    return None
