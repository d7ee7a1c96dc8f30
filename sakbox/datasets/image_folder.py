"""Plain image collections for stage-1 (feature) distillation."""
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple

from mmengine.dataset import BaseDataset

from ..registry import DATASETS

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.ppm', '.pgm', '.tif', '.tiff', '.webp')


def _is_image(name: str, extensions: Sequence[str]) -> bool:
    return name.lower().endswith(tuple(extensions))


@DATASETS.register_module()
class ImageFolderDataset(BaseDataset):
    """Images from a class-folder tree, a flat folder or a list file; labels optional.

    The source is chosen from the arguments:

    * ``ann_file`` given: a list file, one ``relative/path [label]`` per line,
      paths relative to ``data_prefix['img_path']`` (``img_suffix`` is appended
      to paths without one, so NYU/PASCAL split files of bare ids work).
    * otherwise, if the folder has sub-folders: an ImageNet-style tree
      ``<class>/<image>``; classes are the sorted sub-folder names.
    * otherwise: every image directly in the folder, unlabelled.

    Each data info holds ``img_path``, ``img_id`` (the relative path without
    extension) and, when labelled, ``gt_label`` (int), which
    :class:`~sakbox.datasets.transforms.PackMultiTaskInputs` puts in the metainfo.

    Args:
        data_root: Root folder.
        data_prefix: ``dict(img_path=...)``: the image folder, relative to ``data_root``.
        ann_file: Optional list file, relative to ``data_root``.
        img_suffix: Suffix appended to list-file paths that have no extension.
        extensions: File endings that count as images when scanning folders.
        with_label: Force labels on/off; ``None``: labels when the source has them.
        **kwargs: Passed to :class:`mmengine.dataset.BaseDataset`.
    """

    METAINFO = dict(classes=())

    def __init__(self, data_root: str = '', data_prefix: Optional[dict] = None,
                 ann_file: str = '', img_suffix: str = '.jpg',
                 extensions: Sequence[str] = IMG_EXTENSIONS,
                 with_label: Optional[bool] = None, **kwargs) -> None:
        self.img_suffix = img_suffix
        self.extensions = tuple(e.lower() for e in extensions)
        self.with_label = with_label
        super().__init__(ann_file=ann_file, data_root=data_root,
                         data_prefix=data_prefix or dict(img_path=''), **kwargs)

    def load_data_list(self) -> List[dict]:
        """Scan the folder or read the list file.

        Returns:
            list: Data infos.
        """
        folder = self.data_prefix['img_path'] or self.data_root
        if self.ann_file:
            items = self._from_list_file(self.ann_file)
        else:
            if not osp.isdir(folder):
                raise FileNotFoundError(f'image folder not found: {folder}')
            subdirs = sorted(d for d in os.listdir(folder) if osp.isdir(osp.join(folder, d)))
            items = self._from_tree(folder, subdirs) if subdirs else self._from_flat(folder)
        if not items:
            source = self.ann_file or folder
            raise ValueError(f'{type(self).__name__}: no images found in {source} '
                             f'(extensions {list(self.extensions)})')
        labelled = all(label is not None for _, label in items)
        if self.with_label and not labelled:
            raise ValueError(f'with_label=True but {self.ann_file or folder} has unlabelled '
                             'images')
        use_label = labelled if self.with_label is None else self.with_label
        data_list = []
        for rel, label in items:
            info = dict(img_path=osp.join(folder, rel), img_id=osp.splitext(rel)[0])
            if use_label:
                info['gt_label'] = int(label)
            data_list.append(info)
        return data_list

    def _from_tree(self, folder: str, classes: List[str]) -> List[Tuple[str, int]]:
        loose = [f for f in os.listdir(folder)
                 if _is_image(f, self.extensions) and osp.isfile(osp.join(folder, f))]
        if loose:
            raise ValueError(f'{folder} mixes class sub-folders with loose images (e.g. '
                             f'{loose[0]!r}); use a list file (ann_file) for such a layout')
        self._metainfo['classes'] = tuple(classes)
        items = []
        for label, cls in enumerate(classes):
            for root, _, files in sorted(os.walk(osp.join(folder, cls), followlinks=True)):
                for f in sorted(files):
                    if _is_image(f, self.extensions):
                        items.append((osp.relpath(osp.join(root, f), folder), label))
        return items

    def _from_flat(self, folder: str) -> List[Tuple[str, None]]:
        return [(f, None) for f in sorted(os.listdir(folder)) if _is_image(f, self.extensions)]

    def _from_list_file(self, path: str) -> List[Tuple[str, Optional[int]]]:
        if not osp.isfile(path):
            raise FileNotFoundError(f'list file not found: {path}')
        items = []
        with open(path) as f:
            for n, line in enumerate(f, 1):
                parts = line.split()
                if not parts:
                    continue
                if len(parts) > 2:
                    raise ValueError(f'{path}:{n}: expected "path [label]", got {line.strip()!r}')
                rel = parts[0] if osp.splitext(parts[0])[1] else parts[0] + self.img_suffix
                try:
                    label = int(parts[1]) if len(parts) == 2 else None
                except ValueError:
                    raise ValueError(f'{path}:{n}: label {parts[1]!r} is not an integer') \
                        from None
                items.append((rel, label))
        return items
