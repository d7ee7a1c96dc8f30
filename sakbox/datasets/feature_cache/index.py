"""The index of a teacher-feature cache (``index.json``) and its file layout.

Layout of a cache directory::

    index.json                     CacheIndex: teachers, level shapes, views, shards
    shard_00000/                   images [0, shard_size), renamed into place when finished
        views.npy                  int32 (n, K, 7): ViewParams of every (image, view)
        <teacher>.l<level>.npy     float16 (n, K, C_l, h_l, w_l), memory-mappable
        done.json                  completion mark: image ids, bytes, seconds
    shard_00001/ ...

A shard is finished iff ``shard_XXXXX/done.json`` exists: shards are written
in ``shard_XXXXX.tmp-<host>-<pid>/`` and moved into place with one atomic
``os.replace`` after everything in them was flushed, so a killed run never
leaves a shard that looks finished.
"""
import copy
import json
import os
import os.path as osp
import socket
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Sequence, Tuple

FORMAT_NAME = 'sakbox-teacher-features'
FORMAT_VERSION = 1
INDEX_FILE = 'index.json'
DONE_FILE = 'done.json'
VIEWS_FILE = 'views.npy'
#: Keys that must agree between a cache and a run that extends or reads it.
STATIC_KEYS = ('format', 'version', 'dtype', 'precision', 'num_images', 'num_views', 'seed',
               'view', 'shard_size', 'teachers')


def to_jsonable(obj: Any) -> Any:
    """Plain JSON types (ConfigDicts become dicts, tuples lists) for comparisons."""
    return json.loads(json.dumps(obj, default=lambda o: dict(o) if hasattr(o, 'items')
                                 else list(o)))


def atomic_write_json(path: str, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` via a temporary file and ``os.replace``.

    Args:
        path (str): Destination.
        obj (Any): JSON-serialisable object.
    """
    tmp = f'{path}.tmp-{socket.gethostname()}-{os.getpid()}'
    with open(tmp, 'w') as f:
        json.dump(obj, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def feature_file(teacher: str, level: int) -> str:
    """File name of one teacher level inside a shard."""
    return f'{teacher}.l{level}.npy'


@dataclass
class CacheIndex:
    """Everything needed to read, check and extend a teacher-feature cache.

    Attributes:
        num_images (int): Images in the dataset (all shards together).
        num_views (int): Views K per image.
        seed (int): View-sampling seed (see ``SeededViewCrop``).
        view (dict): ``SeededViewCrop.view_config()``: size, scale, ratio, flip_prob.
        shard_size (int): Images per shard (the last one may hold fewer).
        teachers (Dict[str, dict]): Per teacher ``cfg`` (as built),
            ``init_seed`` (of a randomly initialised teacher) and ``levels``:
            ``[[C, h, w], ...]`` of one view.
        dtype (str): Storage dtype of the features (``float16``).
        precision (str): Teacher compute precision (``fp32`` or ``bf16``).
        config (str): The config the cache was extracted with (informational).
        complete_shards (List[int]): Finished shards when the index was last
            written (informational; ``done.json`` files are the truth).
        format (str): Format name.
        version (int): Format version.
    """

    num_images: int
    num_views: int
    seed: int
    view: dict
    shard_size: int
    teachers: Dict[str, dict]
    dtype: str = 'float16'
    precision: str = 'fp32'
    config: str = ''
    complete_shards: List[int] = field(default_factory=list)
    format: str = FORMAT_NAME
    version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        self.view = to_jsonable(self.view)
        self.teachers = to_jsonable(self.teachers)
        for key in ('num_images', 'num_views', 'shard_size'):
            if int(getattr(self, key)) < 1:
                raise ValueError(f'CacheIndex: {key} must be >= 1, got {getattr(self, key)}')

    # ----------------------------------------------------------------- layout
    @property
    def num_shards(self) -> int:
        """int: Number of shards."""
        return -(-self.num_images // self.shard_size)

    @property
    def teacher_names(self) -> List[str]:
        """List[str]: Teachers in extraction order."""
        return list(self.teachers)

    def level_shapes(self, teacher: str) -> List[Tuple[int, int, int]]:
        """``(C, h, w)`` of each level of ``teacher`` for one view."""
        return [tuple(int(v) for v in s) for s in self.teachers[teacher]['levels']]

    def shard_range(self, shard: int) -> Tuple[int, int]:
        """``[start, stop)`` image indices of ``shard``."""
        if not 0 <= shard < self.num_shards:
            raise IndexError(f'shard {shard} out of range [0, {self.num_shards})')
        start = shard * self.shard_size
        return start, min(start + self.shard_size, self.num_images)

    @staticmethod
    def shard_name(shard: int) -> str:
        """Directory name of ``shard``."""
        return f'shard_{shard:05d}'

    def bytes_per_view(self) -> int:
        """Bytes of features (+ view record) stored per (image, view)."""
        itemsize = 2 if self.dtype in ('float16', 'bfloat16') else 4
        feats = sum(c * h * w for t in self.teachers for c, h, w in self.level_shapes(t))
        return feats * itemsize + 7 * 4

    # ------------------------------------------------------------------- I/O
    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return asdict(self)

    def save(self, cache_dir: str) -> str:
        """Write ``cache_dir/index.json`` atomically; returns the path."""
        os.makedirs(cache_dir, exist_ok=True)
        path = osp.join(cache_dir, INDEX_FILE)
        atomic_write_json(path, self.to_dict())
        return path

    @classmethod
    def load(cls, cache_dir: str) -> 'CacheIndex':
        """Read ``cache_dir/index.json``.

        Raises:
            FileNotFoundError: No index (not a cache, or extraction never started).
            ValueError: Not a sakbox teacher-feature index, or another version.
        """
        path = osp.join(cache_dir, INDEX_FILE)
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{path} not found: {cache_dir} is not a teacher-feature cache; create it '
                'with tools/extract_teacher_features.py')
        with open(path) as f:
            data = json.load(f)
        if data.get('format') != FORMAT_NAME or data.get('version') != FORMAT_VERSION:
            raise ValueError(f'{path}: format {data.get("format")!r} version '
                             f'{data.get("version")!r}, expected {FORMAT_NAME!r} version '
                             f'{FORMAT_VERSION}')
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f'{path}: unknown keys {sorted(unknown)}')
        return cls(**data)

    def check_matches(self, other: 'CacheIndex', where: str,
                      keys: Sequence[str] = STATIC_KEYS) -> None:
        """Raise if ``other`` (what a run expects) disagrees with this cache.

        Args:
            other (CacheIndex): The expected index.
            where (str): The cache's index file, named in the error.
            keys (Sequence[str]): Keys to compare.

        Raises:
            ValueError: Naming the first key (and teacher) that differs.
        """
        mine, theirs = self.to_dict(), other.to_dict()
        for key in keys:
            if key == 'teachers' and mine[key] != theirs[key]:
                diff = _teacher_diff(mine[key], theirs[key])
                raise ValueError(f'{where}: key {diff} does not match this run; extract '
                                 'into a new directory or delete the cache')
            if mine[key] != theirs[key]:
                raise ValueError(f'{where}: key {key!r} is {mine[key]!r} in the cache but '
                                 f'{theirs[key]!r} for this run; extract into a new directory '
                                 'or delete the cache')


def _teacher_diff(cached: Dict[str, dict], expected: Dict[str, dict]) -> str:
    if list(cached) != list(expected):
        return f"'teachers' ({list(cached)} in the cache vs {list(expected)})"
    for name in cached:
        for sub in sorted(set(cached[name]) | set(expected[name])):
            a, b = cached[name].get(sub), expected[name].get(sub)
            if a != b:
                return f"'teachers.{name}.{sub}' ({a!r} in the cache vs {b!r})"
    return "'teachers'"


def compare_teacher_cfg(cached_cfg: dict, expected_cfg: dict, where: str, name: str) -> None:
    """Check that ``expected_cfg`` (a config's teacher dict) agrees with the cached one.

    Only keys present in ``expected_cfg`` are compared, so a config that
    leaves ``input_mean`` to the distiller still matches. ``input_norm`` is
    always compared: a config that leaves it unset means the class default
    (what the distiller builds and the extractor records), so features
    extracted with one input normalisation are never read for the other.

    Args:
        cached_cfg (dict): ``index.teachers[name]['cfg']``.
        expected_cfg (dict): The teacher's config in the training config.
        where (str): The index file, for the error.
        name (str): Teacher name.

    Raises:
        ValueError: Naming the first differing key.
    """
    # Imported here: reading a cache index must not pull in the model stack at import.
    from sakbox.models.teachers.base_teacher import fill_input_norm
    expected_cfg = to_jsonable(fill_input_norm(copy.deepcopy(expected_cfg),
                                               f'teachers.{name}'))
    for key, value in expected_cfg.items():
        if cached_cfg.get(key) != value:
            raise ValueError(f'{where}: teachers.{name}.cfg.{key} is '
                             f'{cached_cfg.get(key)!r} in the cache but {value!r} in the '
                             'config; the cached features come from another teacher')


def image_id(data_info: dict) -> str:
    """The id a cache records for a dataset item: ``img_id``, else the image file name."""
    if data_info.get('img_id') is not None:
        return str(data_info['img_id'])
    return osp.basename(str(data_info.get('img_path', '')))
