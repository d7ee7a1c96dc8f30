"""A deterministic dataloader over an ImageNet-style image folder."""
from typing import List, Tuple

from torch.utils.data import DataLoader


def image_folder_loader(data_root: str, img_size: int, batch_size: int = 32,
                        num_workers: int = 0) -> Tuple[DataLoader, List[str]]:
    """A deterministic loader over an ImageNet-style folder (``<class>/<image>``).

    Images are resized (no crop) to ``img_size`` x ``img_size`` and packed as the
    sakbox pipelines do (``gt_label`` in the metainfo).

    Args:
        data_root (str): Folder of ``<class>/<image>`` files.
        img_size (int): Side of the square the images are resized to.
        batch_size (int): Images per batch.
        num_workers (int): Loader worker processes.

    Returns:
        tuple: ``(dataloader, class names)`` (class names in sorted-folder order).
    """
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DefaultScope

    from sakbox.registry import DATASETS
    with DefaultScope.overwrite_default_scope('sakbox'):
        dataset = DATASETS.build(dict(
            type='ImageFolderDataset', data_root=data_root, with_label=True,
            pipeline=[dict(type='LoadImageFromFile'),
                      dict(type='MultiTaskResize', scale=(img_size, img_size), keep_ratio=False),
                      dict(type='PackMultiTaskInputs')]))
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        collate_fn=pseudo_collate)
    return loader, list(dataset.metainfo['classes'])
