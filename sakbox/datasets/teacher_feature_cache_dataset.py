"""A dataset wrapper that serves cached teacher features with the matching views."""
import copy
from typing import Dict, Optional, Sequence, Union

import numpy as np
from mmengine.dataset import BaseDataset

from ..registry import DATASETS
from .feature_cache import TeacherFeatureCache
from .feature_cache.index import compare_teacher_cfg, image_id, to_jsonable
from .transforms.cached_views import SeededViewCrop


@DATASETS.register_module()
class TeacherFeatureCacheDataset:
    """Offline distillation: the wrapped images, cropped as cached, with their features.

    For item ``idx`` a view ``k`` of the ``K`` cached views is chosen, its
    recorded crop/flip (``ViewParams``) is put in the results as
    ``view_params`` so that the pipeline's :class:`SeededViewCrop` reproduces
    exactly the image the teachers saw, and the cached features are attached
    to the packed data sample as the data field ``teacher_feats``
    (``{teacher: [(C_l, h_l, w_l) float16, ...]}``), which the distillers use
    instead of running those teachers.

    The view is drawn from ``np.random`` of the loading process, like the
    online pipeline's ``RandomResizedCrop`` draws its box: MMEngine seeds
    each data-loader worker from the run's seed (``IterationSeedHook`` seeds
    the main process with ``num_workers=0``).

    Args:
        dataset (BaseDataset | dict): The image dataset (its pipeline must
            contain a ``SeededViewCrop`` with the cache's view settings).
        cache_dir (str): The cache written by ``tools/extract_teacher_features.py``.
        teachers (Sequence[str] | Dict[str, dict], optional): Teachers to
            serve; given as the model's teacher configs, each is also checked
            against the config the cache was extracted with, and their order
            against the cache's (it fixes the router experts and the init
            seeds). Default: all.
        teacher_init_seed (int, optional): The model's ``teacher_init_seed``:
            checked against the seeds the cached (random) teachers were built with.
        view (str | int): ``'random'`` (default) or a fixed view number.
        check_img_ids (bool): Compare each item's ``img_id`` with the one
            recorded at extraction. Default: True.
        max_open_shards (int): Memory-mapped shards kept open per process.
        lazy_init (bool): Defer loading the dataset and the cache index.
    """

    def __init__(self, dataset: Union[BaseDataset, dict], cache_dir: str,
                 teachers: Optional[Union[Sequence[str], Dict[str, dict]]] = None,
                 teacher_init_seed: Optional[int] = None, view: Union[str, int] = 'random',
                 check_img_ids: bool = True, max_open_shards: int = 16,
                 lazy_init: bool = False) -> None:
        if isinstance(dataset, dict):
            dataset = DATASETS.build(dataset)
        self.dataset = dataset
        self.cache_dir = cache_dir
        self.teacher_cfgs = (copy.deepcopy(dict(teachers))
                             if isinstance(teachers, dict) else None)
        self.teacher_names = None if teachers is None else list(teachers)
        self.teacher_init_seed = teacher_init_seed
        if not (view == 'random' or isinstance(view, int)):
            raise ValueError(f"TeacherFeatureCacheDataset: view must be 'random' or an int, "
                             f'got {view!r}')
        self.view = view
        self.check_img_ids = check_img_ids
        self.max_open_shards = max_open_shards
        self.cache: Optional[TeacherFeatureCache] = None
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        """dict: The wrapped dataset's metainfo."""
        return copy.deepcopy(self.dataset.metainfo)

    def full_init(self) -> None:
        """Load the dataset and the cache index and check that they belong together."""
        if self._fully_initialized:
            return
        self.dataset.full_init()
        cache = TeacherFeatureCache(self.cache_dir, self.teacher_names, self.max_open_shards)
        where = cache.index_path
        if len(self.dataset) != cache.index.num_images:
            raise ValueError(f"{where}: key 'num_images' is {cache.index.num_images} but the "
                             f'dataset ({type(self.dataset).__name__}) has '
                             f'{len(self.dataset)} images')
        if isinstance(self.view, int) and not 0 <= self.view < cache.num_views:
            raise ValueError(f"{where}: key 'num_views' is {cache.num_views}; view="
                             f'{self.view} is out of range')
        crops = [t for t in getattr(self.dataset.pipeline, 'transforms', [])
                 if isinstance(t, SeededViewCrop)]
        if len(crops) != 1:
            raise ValueError(f'TeacherFeatureCacheDataset: the wrapped pipeline needs exactly '
                             f'one SeededViewCrop (found {len(crops)}) to apply the cached '
                             'views')
        expected = to_jsonable(crops[0].view_config())
        for key, value in expected.items():
            if cache.index.view.get(key) != value:
                raise ValueError(f"{where}: key 'view.{key}' is "
                                 f'{cache.index.view.get(key)!r} in the cache but the '
                                 f'pipeline\'s SeededViewCrop has {value!r}')
        if self.teacher_cfgs is not None:
            order = [n for n in cache.index.teacher_names if n in self.teacher_cfgs]
            if order != list(self.teacher_cfgs):
                raise ValueError(f"{where}: key 'teachers' holds {order} in this order, the "
                                 f'config {list(self.teacher_cfgs)}')
            for name, cfg in self.teacher_cfgs.items():
                compare_teacher_cfg(cache.index.teachers[name]['cfg'], cfg, where, name)
        if self.teacher_init_seed is not None:
            for i, name in enumerate(cache.index.teacher_names):
                recorded = cache.index.teachers[name].get('init_seed')
                if recorded != self.teacher_init_seed + i:
                    raise ValueError(f"{where}: key 'teachers.{name}.init_seed' is "
                                     f'{recorded!r}, but teacher_init_seed='
                                     f'{self.teacher_init_seed} builds it with seed '
                                     f'{self.teacher_init_seed + i}')
        self.cache = cache
        self._fully_initialized = True

    def __len__(self) -> int:
        self.full_init()
        return len(self.dataset)

    def choose_view(self) -> int:
        """The view to serve next (see the class docstring)."""
        if self.view == 'random':
            return int(np.random.randint(self.cache.num_views))
        return int(self.view)

    def prepare(self, idx: int, view: int) -> dict:
        """Run the pipeline on view ``view`` of item ``idx`` and attach its features.

        Args:
            idx (int): Dataset index.
            view (int): Cached view number.

        Returns:
            dict: ``inputs`` and ``data_samples`` (with ``teacher_feats``).
        """
        self.full_init()
        info = self.dataset.get_data_info(idx)
        if self.check_img_ids:
            cached = self.cache.img_id(idx)
            if cached != image_id(info):
                raise ValueError(
                    f'{self.cache.shard_location(idx)}: image {idx} was {cached!r} at '
                    f'extraction but the dataset now gives {image_id(info)!r}; the image list '
                    'changed, extract the features again')
        info['view_idx'] = view
        info['view_params'] = self.cache.view_params(idx, view)
        results = self.dataset.pipeline(info)
        if results is None:
            raise ValueError(f'the pipeline dropped item {idx} ({info.get("img_path")}); '
                             'cached views cannot skip images')
        results['data_samples'].set_field(self.cache.features(idx, view), 'teacher_feats')
        return results

    def __getitem__(self, idx: int) -> dict:
        self.full_init()
        return self.prepare(idx, self.choose_view())

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(dataset={type(self.dataset).__name__}, '
                f'cache_dir={self.cache_dir!r}, view={self.view!r})')
