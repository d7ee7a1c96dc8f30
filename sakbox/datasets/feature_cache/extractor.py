"""Running frozen teachers over the fixed views of a dataset into a cache."""
import contextlib
import os
import os.path as osp
import shutil
import time
from typing import Callable, Dict, List, Optional, Sequence

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

from ...utils.precision import PRECISION_DTYPES
from ..transforms.cached_views import SeededViewCrop
from .index import CacheIndex, image_id
from .writer import ShardWriter, shard_is_complete


def find_view_crop(pipeline) -> SeededViewCrop:
    """The single :class:`SeededViewCrop` of a built pipeline (``Compose``)."""
    crops = [t for t in getattr(pipeline, 'transforms', []) if isinstance(t, SeededViewCrop)]
    if len(crops) != 1:
        raise ValueError(f'the dataset pipeline needs exactly one SeededViewCrop, found '
                         f'{len(crops)}')
    return crops[0]


class _ViewItems(Dataset):
    """(image, view) pairs of a dataset, run through its pipeline."""

    def __init__(self, dataset, pairs: Sequence[tuple]) -> None:
        self.dataset = dataset
        self.pairs = list(pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> dict:
        idx, view = self.pairs[i]
        results = self.dataset.get_data_info(idx)
        img_id = image_id(results)
        results['view_idx'] = view
        params = None
        # Step through the transforms to read the drawn view before packing.
        for transform in self.dataset.pipeline.transforms:
            results = transform(results)
            if results is None:
                raise ValueError(f'the pipeline dropped item {idx}; cached views cannot '
                                 'skip images')
            if isinstance(transform, SeededViewCrop):
                params = tuple(int(v) for v in results['view_params'])
        return dict(idx=idx, view=view, img_id=img_id, params=params,
                    inputs=results['inputs'], data_samples=results['data_samples'])


def _collate(items: List[dict]) -> List[dict]:
    return items


class TeacherFeatureExtractor:
    """Compute and store the teacher features of ``K`` views of every image.

    Args:
        teachers (Dict[str, nn.Module]): Frozen teachers by name (cache order).
        data_preprocessor (nn.Module): The student's data preprocessor (the
            teachers receive its output, as in online distillation).
        dataset: A built dataset whose pipeline holds one ``SeededViewCrop``.
        device (str | torch.device): Where the teachers run.
        precision (str): ``fp32``, ``bf16`` or ``fp16`` (autocast).
        batch_size (int): Views per teacher forward.
        num_workers (int): Data-loading workers.
        log (Callable[[str], None], optional): Progress messages.
    """

    def __init__(self, teachers: Dict[str, nn.Module], data_preprocessor: nn.Module, dataset,
                 device='cpu', precision: str = 'fp32', batch_size: int = 8,
                 num_workers: int = 0, log: Optional[Callable[[str], None]] = None) -> None:
        if precision not in PRECISION_DTYPES:
            raise ValueError(f'precision must be one of {sorted(PRECISION_DTYPES)}, got '
                             f'{precision!r}')
        self.device = torch.device(device)
        self.teachers = {n: t.to(self.device).eval() for n, t in teachers.items()}
        self.data_preprocessor = data_preprocessor.to(self.device)
        self.dataset = dataset
        self.view_crop = find_view_crop(dataset.pipeline)
        self.precision = precision
        self.batch_size = int(batch_size)
        self.num_workers = int(num_workers)
        self.log = log or (lambda msg: None)

    def _autocast(self):
        dtype = PRECISION_DTYPES[self.precision]
        if dtype is torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=dtype)

    @torch.inference_mode()
    def run_teachers(self, items: List[dict]) -> Dict[str, List[torch.Tensor]]:
        """Preprocess a list of packed items and run every teacher.

        Args:
            items (List[dict]): Items with ``inputs`` and ``data_samples``.

        Returns:
            Dict[str, List[Tensor]]: Per teacher its levels (B, C_l, h_l, w_l), float32.
        """
        data = self.data_preprocessor(
            dict(inputs=[it['inputs'] for it in items],
                 data_samples=[it['data_samples'] for it in items]), False)
        with self._autocast():
            return {name: [x.float() for x in t(data['inputs'])]
                    for name, t in self.teachers.items()}

    def build_index(self, num_views: int, seed: int, shard_size: int,
                    teacher_cfgs: Dict[str, dict], config: str = '') -> CacheIndex:
        """The index this run writes: level shapes are read off one forward pass.

        Args:
            num_views (int): Views per image.
            seed (int): View-sampling seed (set on the pipeline's ``SeededViewCrop``).
            shard_size (int): Images per shard.
            teacher_cfgs (Dict[str, dict]): What to record of each teacher
                (``cfg`` as built, ``init_seed``, ...); ``levels`` is added.
            config (str): Config file name, recorded.

        Returns:
            CacheIndex: The expected index.
        """
        self.view_crop.seed = int(seed)
        probe = self.run_teachers([_ViewItems(self.dataset, [(0, 0)])[0]])
        teachers = {name: dict(teacher_cfgs[name],
                               levels=[list(x.shape[1:]) for x in probe[name]])
                    for name in self.teachers}
        return CacheIndex(num_images=len(self.dataset), num_views=num_views, seed=seed,
                          view=self.view_crop.view_config(), shard_size=shard_size,
                          teachers=teachers, precision=self.precision, config=config)

    def extract_shard(self, cache_dir: str, index: CacheIndex, shard: int) -> int:
        """Compute, write and commit one shard.

        Args:
            cache_dir (str): Cache directory.
            index (CacheIndex): Its index.
            shard (int): Shard number.

        Returns:
            int: Bytes written.
        """
        self.view_crop.seed = index.seed
        start, stop = index.shard_range(shard)
        pairs = [(i, k) for i in range(start, stop) for k in range(index.num_views)]
        loader = DataLoader(_ViewItems(self.dataset, pairs), batch_size=self.batch_size,
                            num_workers=self.num_workers, collate_fn=_collate)
        writer = ShardWriter(cache_dir, index, shard)
        img_ids: Dict[int, str] = {}
        try:
            for items in loader:
                feats = self.run_teachers(items)
                for b, it in enumerate(items):
                    img_ids[it['idx']] = it['img_id']
                    writer.write(it['idx'], it['view'], it['params'],
                                 {n: [x[b] for x in levels] for n, levels in feats.items()})
            return writer.commit([img_ids[i] for i in range(start, stop)])
        except BaseException:
            writer.abort()
            raise

    def extract(self, cache_dir: str, index: CacheIndex, shards: Sequence[int]) -> dict:
        """Extract the unfinished ones of ``shards`` (finished ones are skipped).

        Args:
            cache_dir (str): Cache directory (its ``index.json`` already written).
            index (CacheIndex): Its index.
            shards (Sequence[int]): The shards of this process.

        Returns:
            dict: ``shards_done``, ``shards_skipped``, ``images``, ``views``,
            ``bytes`` and ``seconds`` of this process.
        """
        _remove_stale_tmp(cache_dir, index, shards)
        stats = dict(shards_done=[], shards_skipped=[], images=0, views=0, bytes=0,
                     seconds=0.0)
        t0 = time.perf_counter()
        for shard in shards:
            if shard_is_complete(cache_dir, shard):
                stats['shards_skipped'].append(shard)
                continue
            ts = time.perf_counter()
            nbytes = self.extract_shard(cache_dir, index, shard)
            start, stop = index.shard_range(shard)
            stats['shards_done'].append(shard)
            stats['images'] += stop - start
            stats['views'] += (stop - start) * index.num_views
            stats['bytes'] += nbytes
            dt = time.perf_counter() - ts
            self.log(f'{index.shard_name(shard)}: {stop - start} images x {index.num_views} '
                     f'views in {dt:.1f} s ({(stop - start) / max(dt, 1e-9):.2f} images/s, '
                     f'{nbytes / 2**20:.1f} MiB)')
        stats['seconds'] = time.perf_counter() - t0
        return stats


def _remove_stale_tmp(cache_dir: str, index: CacheIndex, shards: Sequence[int]) -> None:
    """Drop leftovers of killed runs (``shard_XXXXX.tmp-*``) of this process's shards."""
    names = {index.shard_name(s) for s in shards}
    for entry in os.listdir(cache_dir):
        base, sep, _ = entry.partition('.tmp-')
        if sep and base in names and osp.isdir(osp.join(cache_dir, entry)):
            shutil.rmtree(osp.join(cache_dir, entry), ignore_errors=True)
