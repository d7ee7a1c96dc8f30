"""sakbox.apis.dataset_meta: the class names / palettes of a built model."""
from types import SimpleNamespace

from mmengine.config import Config

from sakbox.apis.dataset_meta import model_dataset_meta
from sakbox.datasets import NYUDv2Dataset


def test_model_meta_then_the_config_dataset_class_then_none():
    assert model_dataset_meta(SimpleNamespace(dataset_meta={'classes': ('a',)})) == {
        'classes': ('a',)}
    cfg = Config(dict(test_dataloader=dict(dataset=dict(type='NYUDv2Dataset'))))
    meta = model_dataset_meta(SimpleNamespace(dataset_meta=None, cfg=cfg))
    assert meta == dict(NYUDv2Dataset.METAINFO)
    unknown = Config(dict(val_dataloader=dict(dataset=dict(type='NoSuchDataset'))))
    assert model_dataset_meta(SimpleNamespace(cfg=unknown)) is None
    assert model_dataset_meta(SimpleNamespace()) is None
