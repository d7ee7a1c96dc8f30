"""Read checkpoint files, and say clearly what is wrong with the ones that cannot be read.

One reader for every user-given checkpoint (evaluation, inference, teachers,
converters): :func:`read_checkpoint`. A file that cannot be used raises a
:class:`CheckpointError` naming the file and the problem - missing, empty, not
a checkpoint at all (text, an image, an HTML page, a Git LFS pointer),
truncated, or holding Python objects that ``torch.load(weights_only=True)``
refuses (then the refused classes are named, with the safe ways to proceed).
:func:`check_checkpoint_file` is the cheap pre-flight that the training tool
runs before building a Runner.
"""
import os.path as osp
import pickle
import re
import zipfile
from typing import Any, Dict, List, Optional

import torch

#: First bytes of a ``torch.save`` file (a zip archive, torch >= 1.6).
ZIP_MAGIC = b'PK\x03\x04'
#: First bytes of a legacy (``_use_new_zipfile_serialization=False``) ``torch.save`` file:
#: pickle protocol 2 and torch's magic number.
LEGACY_TORCH_MAGIC = b'\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19'
#: Signatures of files people mistake for checkpoints.
_OTHER_FORMATS = (
    (b'\x89PNG\r\n\x1a\n', 'a PNG image'),
    (b'\xff\xd8\xff', 'a JPEG image'),
    (b'\x1f\x8b', 'a gzip archive (unpack it first)'),
    (b'\x93NUMPY', 'a numpy .npy array'),
    (b'\x89HDF', 'an HDF5 file'),
    (b'version https://git-lfs', 'a Git LFS pointer, not the weights (run `git lfs pull`)'),
)
_REFUSED_GLOBAL = re.compile(r'GLOBAL ([A-Za-z_][\w.]*)')
_URL = re.compile(r'^[A-Za-z][\w+.-]*://')


class CheckpointError(RuntimeError):
    """A checkpoint file cannot be used; the message names the file and why.

    Attributes:
        path (str): The file.
        refused_globals (List[str]): Classes / functions that weights-only
            loading refused (empty for other problems).
        weights_only_refused (bool): ``torch.load(weights_only=True)`` refused
            the file (pickled objects, or a pickle protocol it cannot parse);
            the file may load with ``weights_only=False`` if it is trusted.
    """

    def __init__(self, message: str, path: str = '',
                 refused_globals: Optional[List[str]] = None,
                 weights_only_refused: bool = False) -> None:
        super().__init__(message)
        self.path = path
        self.refused_globals = list(refused_globals or [])
        self.weights_only_refused = bool(weights_only_refused or self.refused_globals)


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """The checkpoint file does not exist."""

    def __str__(self) -> str:  # OSError would print its (errno, strerror) pair
        return str(self.args[0])


class CheckpointMismatchError(CheckpointError):
    """A checkpoint's keys or shapes do not fit the model it is loaded into."""


def is_url(path: str) -> bool:
    """Whether ``path`` is a URL-like name (``https://``, ``s3://``, ``open-mmlab://``...)."""
    return bool(_URL.match(str(path)))


def read_checkpoint(path: str, map_location: Any = 'cpu', mmap: bool = False,
                    weights_only: bool = True) -> Dict[str, Any]:
    """Read a ``torch.save`` (zip or legacy) or ``.safetensors`` checkpoint file.

    URLs (``https://``, ``open-mmlab://``, ...) that are not local files go
    through MMEngine's loader.

    Args:
        path (str): The file.
        map_location: As for :func:`torch.load`. Defaults to ``'cpu'``.
        mmap (bool): Map the tensors' storage instead of reading it (zip
            files only; the others are read). Defaults to False.
        weights_only (bool): Refuse pickled Python objects besides tensors
            and containers (plus what :func:`torch.serialization.add_safe_globals`
            allows). False only for a file the user named and trusts (the
            converters' explicit ``--unsafe-load``). Defaults to True.

    Returns:
        dict: What the file holds (a state dict or a checkpoint dict).

    Raises:
        CheckpointNotFoundError: The file does not exist.
        CheckpointError: The file cannot be read, or holds no dict; the
            message names the file and the problem.
    """
    path = str(path)
    if not osp.exists(path) and is_url(path):
        return _read_url(path, map_location)
    kind = _file_kind(path)
    if kind == 'safetensors':
        obj = _read_safetensors(path, map_location)
    else:
        obj = _torch_load(path, kind, map_location, mmap, weights_only)
    if not isinstance(obj, dict):
        raise CheckpointError(
            f'{path} holds a {type(obj).__name__}, not a dict: expected a state dict or a '
            "checkpoint with a 'state_dict' entry (e.g. torch.save(model.state_dict(), ...))",
            path)
    return obj


def check_checkpoint_file(path: str) -> None:
    """Fail now, with :func:`read_checkpoint`'s message, if ``path`` cannot be loaded.

    Cheap for ``torch.save`` zip files: the archive's index (at its end, so
    truncation shows) and the pickled structure are read and the tensors
    only memory-mapped, which also finds objects that weights-only loading
    refuses. Other formats are read in full. URLs are not checked.

    Args:
        path (str): The checkpoint file.

    Raises:
        CheckpointError: See :func:`read_checkpoint`.
    """
    path = str(path)
    if not osp.exists(path) and is_url(path):
        return
    read_checkpoint(path, mmap=True)


def _read_url(path: str, map_location: Any) -> Dict[str, Any]:
    from mmengine.runner.checkpoint import _load_checkpoint
    try:
        return _load_checkpoint(path, map_location=map_location)
    except pickle.UnpicklingError as e:
        raise _refused_error(path, e, names=[]) from e
    except Exception as e:  # noqa: BLE001 - any download / parse failure, named
        raise CheckpointError(f'{path}: cannot load this checkpoint URL: '
                              f'{type(e).__name__}: {_first_line(e)}', path) from e


def _file_kind(path: str) -> str:
    """``'zip'``, ``'legacy'`` or ``'safetensors'``; anything else raises."""
    if not osp.exists(path):
        raise CheckpointNotFoundError(f'checkpoint file not found: {path}', path)
    if osp.isdir(path):
        raise CheckpointError(f'{path} is a directory, not a checkpoint file', path)
    size = osp.getsize(path)
    if size == 0:
        raise CheckpointError(f'{path} is empty (0 bytes): an interrupted download, copy or '
                              'save? Fetch or write it again.', path)
    with open(path, 'rb') as f:
        head = f.read(512)
    if head.startswith(ZIP_MAGIC):
        return 'zip'
    if head.startswith(LEGACY_TORCH_MAGIC):
        return 'legacy'
    if path.endswith('.safetensors') or _looks_like_safetensors(head, size):
        return 'safetensors'
    if head[:1] == b'\x80' and len(head) > 1 and 2 <= head[1] <= 5:
        raise CheckpointError(
            f'{path} is a plain Python pickle (protocol {head[1]}, as pickle.dump writes), not '
            'a torch.save checkpoint, and weights-only loading cannot read it. Save the '
            'weights with torch.save(state_dict, ...) instead.', path)
    raise CheckpointError(f'{path} is not a PyTorch checkpoint: it is {_describe(head)} '
                          f'({size} bytes). Expected a torch.save (.pth) or .safetensors file.',
                          path)


def _looks_like_safetensors(head: bytes, size: int) -> bool:
    if len(head) < 10 or head[8:9] != b'{':
        return False
    return 0 < int.from_bytes(head[:8], 'little') <= size - 8


def _describe(head: bytes) -> str:
    for magic, what in _OTHER_FORMATS:
        if head.startswith(magic):
            return what
    text = _as_text(head)
    if text is not None:
        if text.lstrip().lower().startswith(('<!doctype html', '<html')):
            return 'an HTML page (a login or error page saved instead of the file?)'
        first = text.strip().splitlines()[0][:60] if text.strip() else ''
        return f'a text file (starting {first!r})'
    return f'of an unknown format (first bytes {head[:8].hex(" ")})'


def _as_text(head: bytes) -> Optional[str]:
    """``head`` decoded as UTF-8 if it is printable text (a cut last character allowed)."""
    try:
        text = head.decode('utf-8')
    except UnicodeDecodeError as e:
        if e.start < len(head) - 3:
            return None
        text = head[:e.start].decode('utf-8')
    return text if all(c.isprintable() or c in '\r\n\t' for c in text) else None


def _read_safetensors(path: str, map_location: Any) -> Dict[str, Any]:
    from safetensors.torch import load_file
    device = map_location if isinstance(map_location, str) else 'cpu'
    try:
        return load_file(path, device=device)
    except Exception as e:  # noqa: BLE001 - safetensors raises its own error types
        raise CheckpointError(f'{path} is not a readable .safetensors file (truncated or '
                              f'corrupt?): {_first_line(e)}', path) from e


def _torch_load(path: str, kind: str, map_location: Any, mmap: bool,
                weights_only: bool) -> Any:
    if kind == 'zip':
        _check_zip(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=weights_only,
                          mmap=mmap and kind == 'zip')
    except pickle.UnpicklingError as e:
        protocol = _zip_pickle_protocol(path) if kind == 'zip' else 2
        if weights_only and protocol > 2 and 'Unsupported operand' in str(e):
            raise _protocol_error(path, protocol) from e
        if weights_only:
            raise _refused_error(path, e, _unsafe_globals(path) if kind == 'zip' else []) from e
        raise CheckpointError(f'{path} cannot be unpickled: {_first_line(e)}', path) from e
    except (EOFError, RuntimeError) as e:
        if not isinstance(e, EOFError) and 'unexpected EOF' not in str(e):
            raise CheckpointError(f'{path} cannot be read by torch.load: RuntimeError: '
                                  f'{_first_line(e)}', path) from e
        raise CheckpointError(f'{path} ends early: the file is truncated (an interrupted '
                              'download, copy or save?). Fetch or write it again.', path) from e
    except Exception as e:  # noqa: BLE001 - name the file whatever torch raises
        raise CheckpointError(f'{path} cannot be read by torch.load: {type(e).__name__}: '
                              f'{_first_line(e)}', path) from e


def _check_zip(path: str) -> None:
    """The zip archive is whole (its index is at the end) and written by ``torch.save``."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as e:
        raise CheckpointError(
            f'{path} is truncated or corrupt: it starts like a torch.save zip archive but its '
            f'index (the central directory at the end of the file) cannot be read ({e}); '
            f'{osp.getsize(path)} bytes were found. An interrupted download, copy or save? '
            'Fetch or write it again.', path) from e
    if any(n.rsplit('/', 1)[-1] == 'constants.pkl' for n in names):
        raise CheckpointError(f'{path} is a TorchScript archive (torch.jit.save), not a state '
                              'dict; save model.state_dict() with torch.save instead.', path)
    if not any(n.rsplit('/', 1)[-1] == 'data.pkl' for n in names):
        raise CheckpointError(f'{path} is a zip archive but not a torch.save checkpoint (no '
                              f'data.pkl; members: {names[:5]})', path)


def _zip_pickle_protocol(path: str) -> int:
    """The pickle protocol of a ``torch.save`` zip's ``data.pkl`` (2 when unknown)."""
    try:
        with zipfile.ZipFile(path) as archive:
            name = next(n for n in archive.namelist() if n.rsplit('/', 1)[-1] == 'data.pkl')
            head = archive.read(name)[:2]
    except Exception:  # noqa: BLE001 - only a better message
        return 2
    return head[1] if head[:1] == b'\x80' and len(head) == 2 else 2


def _pickled_globals(path: str) -> List[str]:
    """Classes / functions named in ``data.pkl``, read statically (any protocol), not allowed
    for weights-only loading; empty when they cannot be told."""
    import pickletools
    try:
        from torch import _weights_only_unpickler as wou
        allowed = set(wou._get_allowed_globals()) | set(wou._get_user_allowed_globals())
        with zipfile.ZipFile(path) as archive:
            name = next(n for n in archive.namelist() if n.rsplit('/', 1)[-1] == 'data.pkl')
            data = archive.read(name)
        found, memo, strings, last = set(), {}, [], None
        for op, arg, _ in pickletools.genops(data):
            if op.name == 'GLOBAL':
                found.add(arg.replace(' ', '.'))
            elif op.name == 'STACK_GLOBAL' and len(strings) >= 2:
                found.add(f'{strings[-2]}.{strings[-1]}')
            if isinstance(arg, str) and 'UNICODE' in op.name:
                strings.append(arg)
                last = arg
            elif op.name in ('BINGET', 'LONG_BINGET', 'GET'):
                last = memo.get(arg)
                if isinstance(last, str):
                    strings.append(last)
            elif op.name == 'MEMOIZE':
                memo[len(memo)] = last
            elif op.name in ('BINPUT', 'LONG_BINPUT', 'PUT'):
                memo[arg] = last
            else:
                last = None
        return sorted(found - allowed)
    except Exception:  # noqa: BLE001 - only a better message
        return []


def _protocol_error(path: str, protocol: int) -> CheckpointError:
    names = _pickled_globals(path)
    objects = (f' It also pickles {", ".join(names)}, which weights-only loading refuses '
               'whatever the protocol: re-save only the weights.' if names else '')
    return CheckpointError(
        f'{path} was written with pickle protocol {protocol} (torch.save(..., '
        f'pickle_protocol={protocol})), which torch.load(weights_only=True) cannot parse: it '
        'reads the default protocol 2. If you trust the file, load it once with '
        'torch.load(..., weights_only=False) and re-save it with the default protocol, e.g. '
        'torch.save(state_dict, \'weights.pth\').' + objects,
        path, refused_globals=names, weights_only_refused=True)


def _unsafe_globals(path: str) -> List[str]:
    try:
        return sorted(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    except Exception:  # noqa: BLE001 - only a better message; the load error is kept
        return []


def _refused_error(path: str, error: Exception, names: List[str]) -> CheckpointError:
    """The message for a file that ``weights_only`` loading refuses."""
    found = _REFUSED_GLOBAL.search(str(error))
    if found and found.group(1) not in names:
        names = [found.group(1)] + names
    if not names:
        detail = _unpickler_detail(error)
        return CheckpointError(
            f'{path} was refused by torch.load(weights_only=True): {detail}. The file holds '
            'more than tensors and plain containers; re-save only the weights, e.g. '
            "torch.save(checkpoint['state_dict'], 'weights.pth').", path,
            weights_only_refused=True)
    listed = ', '.join(names)
    numpy = any(n.startswith('numpy.') for n in names)
    return CheckpointError(
        f'{path} holds pickled Python objects that torch.load(weights_only=True) refuses: '
        f'{listed}. Weights-only loading rebuilds only tensors, plain containers and '
        'allow-listed classes, so that loading a file cannot run code. If you trust this '
        f'file, allow exactly these before loading: torch.serialization.add_safe_globals('
        f'[{listed}]), or load inside `with torch.serialization.safe_globals([{listed}]):`. '
        'Or re-save only the weights once, e.g. '
        "torch.save(checkpoint['state_dict'], 'weights.pth')"
        + (' (convert numpy arrays with torch.from_numpy first)' if numpy else '') + '.',
        path, refused_globals=names)


def _unpickler_detail(error: Exception) -> str:
    """torch's own reason (the ``WeightsUnpickler error`` part), without its advice."""
    text = str(error)
    if 'WeightsUnpickler error:' in text:
        text = text.split('WeightsUnpickler error:', 1)[1]
        text = text.split('Check the documentation', 1)[0]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[0] if lines else type(error).__name__


def _first_line(error: Exception) -> str:
    lines = [ln.strip() for ln in str(error).splitlines() if ln.strip()]
    return lines[0] if lines else type(error).__name__
