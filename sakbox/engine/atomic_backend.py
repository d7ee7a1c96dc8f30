"""A local file backend whose writes are atomic."""
import os
import os.path as osp
import tempfile
from pathlib import Path
from typing import Union

from mmengine.fileio import LocalBackend, register_backend


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """:class:`mmengine.fileio.LocalBackend` that never leaves a partial file.

    Bytes go to a temporary file in the target's folder, are flushed and
    fsync'ed, and the file is then renamed over the target (``os.replace`` is
    atomic on POSIX). A crash mid-save leaves the previous checkpoint intact.
    Use it with ``CheckpointHook(backend_args=dict(backend='atomic_local'))``.
    """

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        """Write ``obj`` to ``filepath`` atomically."""
        _atomic_write(obj, filepath, 'wb')

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        """Write text to ``filepath`` atomically."""
        _atomic_write(obj.encode(encoding), filepath, 'wb')


def _atomic_write(data: bytes, filepath: Union[str, Path], mode: str) -> None:
    filepath = str(filepath)
    folder = osp.dirname(osp.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.' + osp.basename(filepath) + '.', suffix='.tmp',
                               dir=folder)
    try:
        with os.fdopen(fd, mode) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
