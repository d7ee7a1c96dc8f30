"""Base class of the dense multi-task datasets (split file of ids + one folder per task)."""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.dataset import BaseDataset

from ..structures.tasks import task_names


def read_split_file(path: str) -> List[str]:
    """Read a split file with one image id per line.

    Args:
        path: The split file.

    Returns:
        list: The ids, in file order, blank lines skipped.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it lists no id or repeats one.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'split file not found: {path}')
    with open(path) as f:
        ids = [line.strip() for line in f if line.strip()]
    if not ids:
        raise ValueError(f'split file {path} lists no image ids')
    seen = set()
    dupes = [i for i in ids if i in seen or seen.add(i)]
    if dupes:
        raise ValueError(f'split file {path} repeats ids {dupes[:5]}')
    return ids


class MultiTaskDataset(BaseDataset):
    """A dataset of images with dense annotations for several tasks.

    Subclasses set :attr:`SUPPORTED_TASKS`, :attr:`DEFAULT_PREFIX` (folder of
    the images and of each task's files, relative to ``data_root``),
    :attr:`TASK_CHANNELS` and implement :meth:`parse_data_info`. Each data
    info holds ``img_path``, ``img_id`` and ``ann_info = {task: dict(reader=...,
    path=..., **reader_args)}`` which
    :class:`~sakbox.datasets.transforms.LoadMultiTaskAnnotations` decodes with
    :data:`sakbox.datasets.readers.READERS`.

    Args:
        tasks: Tasks to load, any subset of :attr:`SUPPORTED_TASKS` (default: all).
        ann_file: Split file, relative to ``data_root``.
        data_root: Dataset root.
        data_prefix: Overrides of :attr:`DEFAULT_PREFIX`.
        check_files: Check at start-up that every file of every listed id exists,
            failing with the missing files and their ids (a few ms per thousand ids).
        **kwargs: Passed to :class:`mmengine.dataset.BaseDataset` (``pipeline``,
            ``test_mode``, ``indices``, ``metainfo``, ``lazy_init``, ...).
    """

    SUPPORTED_TASKS: Tuple[str, ...] = ()
    DEFAULT_PREFIX: Dict[str, str] = {}
    TASK_CHANNELS: Dict[str, int] = {}

    def __init__(self, tasks: Optional[Sequence[str]] = None, ann_file: str = '',
                 data_root: str = '', data_prefix: Optional[dict] = None,
                 check_files: bool = True, **kwargs) -> None:
        tasks = list(self.SUPPORTED_TASKS if tasks is None else tasks)
        unknown = [t for t in tasks if t not in self.SUPPORTED_TASKS]
        if unknown or not tasks:
            raise ValueError(f'{type(self).__name__} supports tasks {list(self.SUPPORTED_TASKS)}, '
                             f'got {tasks}')
        # Keep the canonical task order whatever order the config lists them in.
        names = task_names()
        self.tasks = [t for t in names if t in tasks] + [t for t in tasks if t not in names]
        self.check_files = check_files
        prefix = dict(self.DEFAULT_PREFIX)
        prefix.update(data_prefix or {})
        metainfo = dict(kwargs.pop('metainfo', None) or {})
        metainfo.setdefault('tasks', tuple(self.tasks))
        metainfo.setdefault('task_channels', {t: self.TASK_CHANNELS[t] for t in self.tasks})
        super().__init__(ann_file=ann_file, data_root=data_root, data_prefix=prefix,
                         metainfo=metainfo, **kwargs)

    def parse_data_info(self, img_id: str) -> dict:  # noqa: D102 - documented in the class
        raise NotImplementedError

    def load_data_list(self) -> List[dict]:
        """Read the split file and build one data info per id.

        Returns:
            list: Data infos (see the class docstring).
        """
        data_list = [self.parse_data_info(img_id) for img_id in read_split_file(self.ann_file)]
        if self.check_files:
            self._check_files(data_list)
        return data_list

    def _check_files(self, data_list: List[dict]) -> None:
        missing = []
        for info in data_list:
            files = [('image', info['img_path'])] + [
                (task, path) for task, spec in info['ann_info'].items()
                for key, path in spec.items() if key.endswith('path')]
            missing += [(info['img_id'], task, path) for task, path in files
                        if not osp.isfile(path)]
        if missing:
            listing = '\n'.join(f'  id {i!r} ({t}): {p}' for i, t, p in missing[:10])
            more = f'\n  ... and {len(missing) - 10} more' if len(missing) > 10 else ''
            raise FileNotFoundError(
                f'{type(self).__name__}: {len(missing)} file(s) of ids listed in {self.ann_file} '
                f'are missing (tasks {self.tasks}):\n{listing}{more}')

    def get_img_ids(self) -> List[str]:
        """Image ids in dataset order."""
        return [self.get_data_info(i)['img_id'] for i in range(len(self))]
