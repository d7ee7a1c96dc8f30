"""Reading a teacher-feature cache through memory maps."""
import json
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .index import DONE_FILE, INDEX_FILE, VIEWS_FILE, CacheIndex, feature_file
from .writer import shard_is_complete


class TeacherFeatureCache:
    """Random access to the cached teacher features of (image, view) pairs.

    Shards are opened lazily with ``np.load(mmap_mode='r')`` (in each data
    loader worker, after the fork: nothing is mapped while pickling) and at
    most ``max_open_shards`` stay mapped.

    Args:
        cache_dir (str): Directory holding ``index.json`` and the shards.
        teachers (Sequence[str], optional): Teachers to serve (default all).
        max_open_shards (int): Mapped shards kept per process. Default: 16.
        require_complete (bool): Fail at construction if a shard is unfinished.
            Default: True.

    Raises:
        FileNotFoundError: No index, or unfinished shards (listed).
        KeyError: A requested teacher is not in the cache.
    """

    def __init__(self, cache_dir: str, teachers: Optional[Sequence[str]] = None,
                 max_open_shards: int = 16, require_complete: bool = True) -> None:
        self.cache_dir = cache_dir
        self.index_path = osp.join(cache_dir, INDEX_FILE)
        self.index = CacheIndex.load(cache_dir)
        names = list(self.index.teacher_names if teachers is None else teachers)
        unknown = [n for n in names if n not in self.index.teachers]
        if unknown:
            raise KeyError(f'{self.index_path}: no teachers {unknown} in the cache (key '
                           f"'teachers' holds {self.index.teacher_names})")
        self.teachers = names
        self.max_open_shards = int(max_open_shards)
        if require_complete:
            missing = [s for s in range(self.index.num_shards)
                       if not shard_is_complete(cache_dir, s)]
            if missing:
                shown = ', '.join(self.index.shard_name(s) for s in missing[:8])
                raise FileNotFoundError(
                    f'{cache_dir}: {len(missing)} of {self.index.num_shards} shards are not '
                    f'finished ({shown}{", ..." if len(missing) > 8 else ""}); rerun '
                    'tools/extract_teacher_features.py with the same arguments to finish them')
        self._open: 'OrderedDict[int, dict]' = OrderedDict()

    def __len__(self) -> int:
        return self.index.num_images

    @property
    def num_views(self) -> int:
        """int: Views per image."""
        return self.index.num_views

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state['_open'] = OrderedDict()  # memory maps are reopened in each worker
        return state

    def _shard(self, shard: int) -> dict:
        if shard in self._open:
            self._open.move_to_end(shard)
            return self._open[shard]
        folder = osp.join(self.cache_dir, self.index.shard_name(shard))
        done_path = osp.join(folder, DONE_FILE)
        if not osp.isfile(done_path):
            raise FileNotFoundError(f'{folder} is not finished (no {DONE_FILE}); rerun '
                                    'tools/extract_teacher_features.py to complete it')
        with open(done_path) as f:
            done = json.load(f)
        start, stop = self.index.shard_range(shard)
        n, k = stop - start, self.index.num_views
        entry = dict(img_ids=done['img_ids'],
                     views=self._map(osp.join(folder, VIEWS_FILE), (n, k, 7), 'int32'),
                     feats={})
        for name in self.teachers:
            entry['feats'][name] = [
                self._map(osp.join(folder, feature_file(name, lvl)), (n, k, *shape),
                          self.index.dtype)
                for lvl, shape in enumerate(self.index.level_shapes(name))]
        self._open[shard] = entry
        while len(self._open) > self.max_open_shards:
            self._open.popitem(last=False)
        return entry

    @staticmethod
    def _map(path: str, shape: Tuple[int, ...], dtype: str) -> np.ndarray:
        if not osp.isfile(path):
            raise FileNotFoundError(f'cache file missing: {path}')
        try:
            arr = np.load(path, mmap_mode='r')
        except (ValueError, OSError) as e:  # truncated or not an .npy file
            raise ValueError(f'{path}: unreadable cache file ({e}); delete its shard '
                             'directory and rerun the extraction to redo it') from e
        if arr.shape != tuple(shape) or arr.dtype != np.dtype(dtype):
            raise ValueError(f'{path}: {arr.dtype}{list(arr.shape)}, the cache index '
                             f'announces {dtype}{list(shape)}')
        return arr

    def _locate(self, image: int, view: int) -> Tuple[dict, int]:
        if not 0 <= image < self.index.num_images:
            raise IndexError(f'image {image} out of range for {self.index_path} '
                             f'(num_images={self.index.num_images})')
        if not 0 <= view < self.index.num_views:
            raise IndexError(f'view {view} out of range for {self.index_path} '
                             f'(num_views={self.index.num_views})')
        shard = image // self.index.shard_size
        return self._shard(shard), image - shard * self.index.shard_size

    def img_id(self, image: int) -> str:
        """The id recorded for ``image`` at extraction."""
        entry, i = self._locate(image, 0)
        return entry['img_ids'][i]

    def view_params(self, image: int, view: int) -> np.ndarray:
        """The 7 ``ViewParams`` integers of (image, view)."""
        entry, i = self._locate(image, view)
        return np.array(entry['views'][i, view])

    def features(self, image: int, view: int) -> Dict[str, List[torch.Tensor]]:
        """The cached features of (image, view), copied out of the memory maps.

        Args:
            image (int): Dataset index.
            view (int): View number.

        Returns:
            Dict[str, List[Tensor]]: Per served teacher its levels (C_l, h_l, w_l)
            in the storage dtype (float16).
        """
        entry, i = self._locate(image, view)
        return {name: [torch.from_numpy(np.array(level[i, view])) for level in levels]
                for name, levels in entry['feats'].items()}

    def shard_location(self, image: int) -> str:
        """Path of the shard holding ``image`` (for error messages)."""
        return osp.join(self.cache_dir, self.index.shard_name(image // self.index.shard_size))
