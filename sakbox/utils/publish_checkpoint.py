"""Slim a training checkpoint for release and name it by its hash (``publish_model.py``).

As OpenMMLab's ``publish_model.py``: only ``meta`` and ``state_dict`` are kept
(optimizer state, message hub, parameter schedulers and the EMA copy are
dropped) and the file is renamed ``<stem>-<first 8 hex digits of its sha256>.pth``.
Teacher weights never belong in a released model (``init_model`` and
``tools/test.py`` ignore them): ``teachers.*`` keys, which only
``save_teachers=True`` writes, are dropped too.
"""
import hashlib
import os
import os.path as osp
import uuid
from collections import OrderedDict
from typing import Any, Dict, Tuple

import torch

from .checkpoint import CheckpointError, read_checkpoint

__all__ = ['KEPT_KEYS', 'slim_checkpoint', 'file_sha256', 'publish_checkpoint']

#: What a published checkpoint holds.
KEPT_KEYS = ('meta', 'state_dict')
#: Prefix of teacher weights in a distiller's state dict.
TEACHER_PREFIX = 'teachers.'


def slim_checkpoint(ckpt: Dict[str, Any], source: str) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """Keep ``meta`` and ``state_dict`` (without teacher weights) of a checkpoint dict.

    Args:
        ckpt (dict): What :func:`~sakbox.utils.checkpoint.read_checkpoint` returned.
        source (str): The file it came from, named in errors.

    Returns:
        Tuple[dict, dict]: The published dict and a summary: ``dropped`` (the other
        top-level keys), ``teacher_tensors`` (dropped ``teachers.*`` tensors) and
        ``tensors`` (kept).

    Raises:
        CheckpointError: ``ckpt`` has no ``state_dict`` dict of tensors.
    """
    state_dict = ckpt.get('state_dict')
    if not isinstance(state_dict, dict) or not state_dict or not all(
            isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise CheckpointError(
            f'{source} is not a sakbox training checkpoint: expected a dict with a '
            f"'state_dict' of tensors (and 'meta'), as tools/train.py saves, got top-level "
            f'keys {sorted(map(str, ckpt))[:8]}', source)
    kept = OrderedDict((k, v) for k, v in state_dict.items() if not k.startswith(TEACHER_PREFIX))
    metadata = getattr(state_dict, '_metadata', None)
    if metadata is not None:  # module versions, read by _load_from_state_dict (e.g. BN)
        kept._metadata = OrderedDict((k, v) for k, v in metadata.items()
                                     if not (k + '.').startswith(TEACHER_PREFIX))
    if not kept:
        raise CheckpointError(f'{source} holds only teacher weights (teachers.*): nothing to '
                              'publish', source)
    meta = ckpt.get('meta')
    out = dict(meta=dict(meta) if isinstance(meta, dict) else {}, state_dict=kept)
    summary = dict(dropped=sorted(k for k in ckpt if k not in KEPT_KEYS),
                   teacher_tensors=len(state_dict) - len(kept), tensors=len(kept))
    return out, summary


def file_sha256(path: str, chunk: int = 1 << 20) -> str:
    """The hex sha256 digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def publish_checkpoint(in_file: str, out_file: str) -> Tuple[str, Dict[str, Any]]:
    """Write the slimmed ``in_file`` as ``<out_file without .pth>-<sha256[:8]>.pth``.

    The input is read with ``weights_only=True``; the output is written to a
    temporary file beside its destination, hashed, then renamed into place.

    Args:
        in_file (str): A training checkpoint (``tools/train.py``'s ``iter_*.pth``).
        out_file (str): The name before the hash, e.g. ``sak_vit-b_nyud.pth``.

    Returns:
        Tuple[str, dict]: The final path and the summary of :func:`slim_checkpoint`
        plus ``sha256``.

    Raises:
        CheckpointError: ``in_file`` cannot be read or is not a training checkpoint
            (the file is named).
    """
    published, summary = slim_checkpoint(read_checkpoint(in_file), str(in_file))
    stem = out_file[:-len('.pth')] if out_file.endswith('.pth') else out_file
    folder = osp.dirname(osp.abspath(out_file))
    os.makedirs(folder, exist_ok=True)
    # torch.save names the archive's root folder after the file, so the bytes (and the
    # hash) depend on the name it is written under: write <stem>.pth in a private folder
    # beside the destination (same file system for the rename; the umask's file mode).
    tmp_dir = osp.join(folder, f'.publish-{os.getpid()}-{uuid.uuid4().hex[:8]}')
    os.makedirs(tmp_dir)
    tmp = osp.join(tmp_dir, osp.basename(stem) + '.pth')
    try:
        torch.save(published, tmp)
        sha = file_sha256(tmp)
        final = f'{stem}-{sha[:8]}.pth'
        os.replace(tmp, final)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
        os.rmdir(tmp_dir)
    summary['sha256'] = sha
    return final, summary
