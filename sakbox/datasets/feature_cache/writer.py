"""Writing one shard of a teacher-feature cache, atomically."""
import os
import os.path as osp
import shutil
import socket
import time
from typing import Dict, List, Sequence

import numpy as np
import torch

from .index import DONE_FILE, VIEWS_FILE, CacheIndex, atomic_write_json, feature_file


def shard_is_complete(cache_dir: str, shard: int) -> bool:
    """Whether ``shard`` of the cache in ``cache_dir`` was finished."""
    return osp.isfile(osp.join(cache_dir, CacheIndex.shard_name(shard), DONE_FILE))


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # e.g. Windows
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ShardWriter:
    """Fill one shard in a temporary directory, then move it into place.

    Features are written straight into ``.npy`` memory maps, so a shard never
    has to fit in memory. :meth:`commit` flushes them, writes ``done.json``
    and renames the directory; until then the shard does not exist for
    readers or for a resumed extraction.

    Args:
        cache_dir (str): The cache directory (holding ``index.json``).
        index (CacheIndex): The cache's index.
        shard (int): Shard number.
    """

    def __init__(self, cache_dir: str, index: CacheIndex, shard: int) -> None:
        self.cache_dir = cache_dir
        self.index = index
        self.shard = shard
        self.start, self.stop = index.shard_range(shard)
        self.final_dir = osp.join(cache_dir, index.shard_name(shard))
        self.tmp_dir = f'{self.final_dir}.tmp-{socket.gethostname()}-{os.getpid()}'
        if osp.exists(self.tmp_dir):
            shutil.rmtree(self.tmp_dir)
        os.makedirs(self.tmp_dir)
        n, k = self.stop - self.start, index.num_views
        self._written = np.zeros((n, k), dtype=bool)
        self._views = np.lib.format.open_memmap(
            osp.join(self.tmp_dir, VIEWS_FILE), mode='w+', dtype=np.int32, shape=(n, k, 7))
        self._feats: Dict[str, List[np.memmap]] = {}
        for name in index.teacher_names:
            self._feats[name] = [
                np.lib.format.open_memmap(
                    osp.join(self.tmp_dir, feature_file(name, lvl)), mode='w+',
                    dtype=np.dtype(index.dtype), shape=(n, k, *shape))
                for lvl, shape in enumerate(index.level_shapes(name))]
        self._t0 = time.perf_counter()

    def write(self, image: int, view: int, view_params: Sequence[int],
              feats: Dict[str, Sequence[torch.Tensor]]) -> None:
        """Store the features of one (image, view).

        Args:
            image (int): Dataset index, in ``[start, stop)`` of this shard.
            view (int): View number.
            view_params (Sequence[int]): The 7 ``ViewParams`` integers.
            feats (Dict[str, Sequence[Tensor]]): Per teacher its levels, each
                (C_l, h_l, w_l) of the shapes recorded in the index.

        Raises:
            ValueError: A teacher or level shape that the index does not announce.
        """
        if not self.start <= image < self.stop:
            raise IndexError(f'image {image} is not in shard {self.shard} '
                             f'[{self.start}, {self.stop})')
        i = image - self.start
        self._views[i, view] = np.asarray(view_params, dtype=np.int32)
        if set(feats) != set(self._feats):
            raise ValueError(f'features for teachers {sorted(feats)}, but the cache index '
                             f'holds {sorted(self._feats)}')
        for name, levels in feats.items():
            shapes = self.index.level_shapes(name)
            if len(levels) != len(shapes):
                raise ValueError(f'teacher {name!r} returned {len(levels)} levels, the cache '
                                 f'index announces {len(shapes)}')
            for lvl, (x, shape) in enumerate(zip(levels, shapes)):
                if tuple(x.shape) != shape:
                    raise ValueError(f'teacher {name!r} level {lvl}: shape {tuple(x.shape)}, '
                                     f'the cache index announces {shape}')
                arr = x.detach().to('cpu', torch.float32).numpy()
                self._feats[name][lvl][i, view] = arr  # cast to the storage dtype here
        self._written[i, view] = True

    @property
    def missing(self) -> int:
        """int: (image, view) pairs not written yet."""
        return int((~self._written).sum())

    def commit(self, img_ids: Sequence[str]) -> int:
        """Finish the shard: flush, write ``done.json`` and move it into place.

        Args:
            img_ids (Sequence[str]): Id of every image of the shard, in order
                (checked by readers against their dataset).

        Returns:
            int: Bytes written.

        Raises:
            RuntimeError: If some (image, view) was never written.
        """
        if self.missing:
            raise RuntimeError(f'shard {self.shard}: {self.missing} (image, view) pairs were '
                               'not written; not committing it')
        if len(img_ids) != self.stop - self.start:
            raise ValueError(f'shard {self.shard}: {len(img_ids)} image ids for '
                             f'{self.stop - self.start} images')
        arrays = [self._views] + [a for levels in self._feats.values() for a in levels]
        for arr in arrays:
            arr.flush()
        nbytes = 0
        for name in os.listdir(self.tmp_dir):
            path = osp.join(self.tmp_dir, name)
            nbytes += osp.getsize(path)
            with open(path, 'rb') as f:
                os.fsync(f.fileno())
        self._views, self._feats = None, {}
        del arrays
        atomic_write_json(osp.join(self.tmp_dir, DONE_FILE), dict(
            shard=self.shard, start=self.start, stop=self.stop, img_ids=list(img_ids),
            bytes=nbytes, seconds=round(time.perf_counter() - self._t0, 3)))
        _fsync_dir(self.tmp_dir)
        if osp.exists(self.final_dir):  # an unfinished leftover without done.json
            shutil.rmtree(self.final_dir)
        os.replace(self.tmp_dir, self.final_dir)
        _fsync_dir(self.cache_dir)
        return nbytes

    def abort(self) -> None:
        """Drop the temporary directory."""
        self._views, self._feats = None, {}
        shutil.rmtree(self.tmp_dir, ignore_errors=True)
