"""NYUD-v2 multi-task dataset (semantic segmentation, depth, surface normals, edges)."""
import os.path as osp

from ..registry import DATASETS
from ..structures.palette import voc_palette
from .class_names import NYU40_CLASSES
from .multitask_dataset import MultiTaskDataset


@DATASETS.register_module()
class NYUDv2Dataset(MultiTaskDataset):
    """NYUD-v2 in the multi-task layout (795 train / 654 val images at 480x640).

    Layout under ``data_root``::

        images/<id>.png         RGB image
        segmentation/<id>.png   40-class labels stored as 1..40, 0 = void
        depth/<id>.npy          float32 depth in metres
        normals/<id>.png        RGB uint8, (n + 1) * 127.5
        edge/<id>.png           boundaries, 0 / 255
        gt_sets/{train,val}.txt ids, one per line

    Decoded per the data contract: semseg 0..39 with void -> 255; depth as is
    (``<= 0`` invalid); normals in [-1, 1]; edges 0/1.

    Args:
        tasks: Any of ``semseg``, ``depth``, ``normals``, ``edge`` (default: all).
        ann_file: Split file relative to ``data_root`` (default ``gt_sets/train.txt``).
        **kwargs: See :class:`~sakbox.datasets.multitask_dataset.MultiTaskDataset`.
    """

    METAINFO = dict(classes=NYU40_CLASSES, palette=voc_palette(len(NYU40_CLASSES) + 1)[1:])
    SUPPORTED_TASKS = ('semseg', 'depth', 'normals', 'edge')
    TASK_CHANNELS = dict(semseg=len(NYU40_CLASSES), depth=1, normals=3, edge=1)
    DEFAULT_PREFIX = dict(img_path='images', semseg='segmentation', depth='depth',
                          normals='normals', edge='edge')

    def __init__(self, ann_file: str = 'gt_sets/train.txt', **kwargs) -> None:
        super().__init__(ann_file=ann_file, **kwargs)

    def parse_data_info(self, img_id: str) -> dict:
        """Paths and readers of one image's files.

        Args:
            img_id: Id from the split file.

        Returns:
            dict: ``img_id``, ``img_path`` and ``ann_info`` of the selected tasks.
        """
        p = self.data_prefix
        specs = dict(
            semseg=dict(reader='label_png', path=osp.join(p['semseg'], img_id + '.png'),
                        num_classes=len(NYU40_CLASSES), reduce_zero_label=True),
            depth=dict(reader='depth_npy', path=osp.join(p['depth'], img_id + '.npy')),
            normals=dict(reader='normals_png', path=osp.join(p['normals'], img_id + '.png')),
            edge=dict(reader='binary_png', path=osp.join(p['edge'], img_id + '.png')),
        )
        return dict(img_id=img_id, img_path=osp.join(p['img_path'], img_id + '.png'),
                    ann_info={t: specs[t] for t in self.tasks})
