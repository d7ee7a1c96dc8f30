"""PASCAL-Context multi-task dataset (semseg, human parts, saliency, normals, edges)."""
import json
import os.path as osp
from typing import List

from mmengine.logging import print_log

from ..registry import DATASETS
from ..structures.palette import voc_palette
from .class_names import HUMAN_PART_CLASSES, PERSON_CLASS_IND, VOC_CLASSES
from .multitask_dataset import MultiTaskDataset
from .readers import read_pascal_part_categories


@DATASETS.register_module()
class PASCALContextDataset(MultiTaskDataset):
    """PASCAL-Context in the multi-task layout (4998 train / 5105 val images).

    Layout under ``data_root``::

        JPEGImages/<id>.jpg
        semseg/pascal-context/<id>.png     21 VOC classes (semseg/VOC12/<id>.png wins if present)
        human_parts/<id>.mat               PASCAL-Part ``anno`` struct
        sal_distill/<id>.png               saliency, 0-255, thresholded at 0.5
        normals_distill/<id>.png           RGB uint8 normals, (n + 1) * 127.5
        pascal-context/trainval/<id>.mat   ``LabelMap`` of 459 context classes
        json/{nyu_classes,context_classes,pascal_part}.json
        ImageSets/Context/{train,val}.txt  ids, one per line
        ImageSets/Parts/{train,val}.txt    optional cache: id -> object classes (json)

    Edges are the thinned boundaries of ``LabelMap``; normals are valid (else
    the zero vector) only on context classes that NYU also has, plus tvmonitor;
    human parts are grouped into 7 classes and an image without annotated
    people gets an all-ignore map from ``AddIgnoreRegions``.

    Args:
        tasks: Any of ``semseg``, ``human_parts``, ``normals``, ``edge``, ``sal``.
        ann_file: Split file relative to ``data_root``
            (default ``ImageSets/Context/train.txt``).
        images_with_parts_only: Keep only images that show a person. ``None``
            (default) does so exactly when ``human_parts`` is the only task, as
            the reference implementation does; the number dropped is logged.
        **kwargs: See :class:`~sakbox.datasets.multitask_dataset.MultiTaskDataset`.
    """

    METAINFO = dict(classes=VOC_CLASSES, palette=voc_palette(len(VOC_CLASSES)),
                    human_parts_classes=HUMAN_PART_CLASSES,
                    human_parts_palette=voc_palette(len(HUMAN_PART_CLASSES)))
    SUPPORTED_TASKS = ('semseg', 'human_parts', 'normals', 'edge', 'sal')
    TASK_CHANNELS = dict(semseg=len(VOC_CLASSES), human_parts=len(HUMAN_PART_CLASSES),
                         normals=3, edge=1, sal=2)
    DEFAULT_PREFIX = dict(img_path='JPEGImages', semseg='semseg/pascal-context',
                          semseg_voc='semseg/VOC12', human_parts='human_parts',
                          sal='sal_distill', normals='normals_distill',
                          label_map='pascal-context/trainval', json='json',
                          parts_cache='ImageSets/Parts')

    def __init__(self, ann_file: str = 'ImageSets/Context/train.txt',
                 images_with_parts_only=None, **kwargs) -> None:
        self.images_with_parts_only = images_with_parts_only
        super().__init__(ann_file=ann_file, **kwargs)

    def load_data_list(self) -> List[dict]:  # noqa: D102 - see MultiTaskDataset
        self._normals_valid = (self._normals_valid_classes() if 'normals' in self.tasks
                               else None)
        return super().load_data_list()

    def _normals_valid_classes(self) -> List[int]:
        """Context ids whose class NYU also has (not ``unknown``), plus tvmonitor."""
        tables = []
        for name in ('nyu_classes.json', 'context_classes.json'):
            path = osp.join(self.data_prefix['json'], name)
            if not osp.isfile(path):
                raise FileNotFoundError(f'{path} is needed to mask the normals; it is part of '
                                        'the PASCAL-Context multi-task release')
            with open(path) as f:
                tables.append(json.load(f))
        nyu, context = tables
        if 'tvmonitor' not in context:
            raise KeyError(f'{self.data_prefix["json"]}/context_classes.json has no '
                           "'tvmonitor' entry")
        valid = [context[c] for c in nyu if c in context and c != 'unknown']
        return sorted(set(valid + [context['tvmonitor']]))

    def parse_data_info(self, img_id: str) -> dict:
        """Paths and readers of one image's files.

        Args:
            img_id: Id from the split file.

        Returns:
            dict: ``img_id``, ``img_path`` and ``ann_info`` of the selected tasks.
        """
        p = self.data_prefix
        label_map = osp.join(p['label_map'], img_id + '.mat')
        semseg = osp.join(p['semseg_voc'], img_id + '.png')
        if 'semseg' in self.tasks and not osp.isfile(semseg):
            semseg = osp.join(p['semseg'], img_id + '.png')
        specs = dict(
            semseg=lambda: dict(reader='label_png', path=semseg, num_classes=len(VOC_CLASSES)),
            human_parts=lambda: dict(reader='pascal_parts',
                                     path=osp.join(p['human_parts'], img_id + '.mat')),
            normals=lambda: dict(reader='masked_normals',
                                 path=osp.join(p['normals'], img_id + '.png'),
                                 label_map_path=label_map, valid_classes=self._normals_valid),
            edge=lambda: dict(reader='context_edges', path=label_map),
            sal=lambda: dict(reader='binary_png', path=osp.join(p['sal'], img_id + '.png'),
                             threshold=0.5),
        )
        return dict(img_id=img_id, img_path=osp.join(p['img_path'], img_id + '.jpg'),
                    ann_info={t: specs[t]() for t in self.tasks})

    def filter_data(self) -> List[dict]:
        """Drop images without people when asked to (see ``images_with_parts_only``).

        Returns:
            list: The kept data infos.
        """
        only = self.images_with_parts_only
        if only is None:
            only = self.tasks == ['human_parts']
        if not only:
            return self.data_list
        if 'human_parts' not in self.tasks:
            raise ValueError('images_with_parts_only=True needs the human_parts task')
        cats = self._object_categories()
        kept = [d for d in self.data_list if PERSON_CLASS_IND in cats[d['img_id']]]
        print_log(f'{type(self).__name__}: kept {len(kept)} of {len(self.data_list)} images '
                  'that show people (images_with_parts_only)', logger='current')
        if not kept:
            raise ValueError(f'no image of {self.ann_file} shows a person annotated with parts')
        return kept

    def _object_categories(self) -> dict:
        """Object classes per image, from the ``ImageSets/Parts`` cache or the .mat files."""
        ids = [d['img_id'] for d in self.data_list]
        cache = osp.join(self.data_prefix['parts_cache'], osp.basename(self.ann_file))
        if osp.isfile(cache):
            with open(cache) as f:
                cats = json.load(f)
            if all(i in cats for i in ids):
                return cats
        return {d['img_id']: read_pascal_part_categories(d['ann_info']['human_parts']['path'])
                for d in self.data_list}
