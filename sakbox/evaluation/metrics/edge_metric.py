"""Boundary-detection odsF / oisF / AP following the SEISM protocol used by SAK."""
import multiprocessing
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Deque, Dict, List, Optional

import numpy as np

from sakbox.registry import METRICS

from ..functional import DATASET_MAX_DIST, boundary_counts, boundary_metrics, boundary_thresholds
from ..functional.boundary_match import MATCHERS
from .base_task_metric import BaseTaskMetric


@METRICS.register_module()
class EdgeMetric(BaseTaskMetric):
    """Boundary F-measures as SAK's SEISM evaluation computes them.

    Per image (see :mod:`sakbox.evaluation.functional.boundary`): 8-bit
    quantisation, SAK's NMS (radius 4), 99 thresholds, ``bwmorph thin`` of
    each binary map, ground truth ``thin(seg2bmap(gt))``, correspondence
    within ``max_dist`` of the image diagonal. Only the (4, K) counts
    ``cntR, sumR, cntP, sumP`` of each image are kept, so results are small
    and gather cheaply across ranks. The per-image work runs in a pool of
    ``nproc`` worker processes while the model keeps predicting.

    Reports ``odsF`` (official), ``oisF``, ``AP``, ``odsP``, ``odsR`` (percent)
    and ``odsT`` (the ODS threshold).

    Args:
        dataset: ``'nyud'`` (max_dist 0.011) or ``'pascal'`` (0.0075), used when
            ``max_dist`` is None.
        max_dist: Match tolerance as a fraction of the image diagonal.
        num_thresholds: Number of thresholds ``k / (K + 1)``.
        nms: Apply SAK's NMS step (``nms_process.m``) first.
        nms_radius: Its suppression radius (4 in SAK's SEISM fork).
        quantize: Reproduce the 8-bit PNG round trips of the official pipeline.
        gt_seg2bmap: Build the ground-truth boundary as ``thin(seg2bmap(gt))``
            like SEISM (False: ``thin(gt)``).
        matcher: ``'fast'`` (exact maximum matching) or ``'bsds'`` (BSDS C++
            through pyedgeeval, bit-exact SEISM counts, much slower).
        nproc: Worker processes per rank; 0 computes in the main process.
        mp_start_method: Start method of the workers. None: ``'fork'`` where
            available (no start-up cost; the workers only run numpy/scipy code,
            never CUDA, like DataLoader workers), else ``'spawn'``. ``'spawn'``
            pays a fresh interpreter plus ``import sakbox.evaluation`` per
            worker per evaluation.
        max_pending: Images queued for the workers at most (bounds memory);
            default ``8 * nproc``.
        ignore_index: Ground-truth value that is ignored.
        task: Task name (``'edge'``).
        collect_device, prefix, collect_dir: See :class:`BaseTaskMetric`.
    """

    def __init__(self, dataset: Optional[str] = None, max_dist: Optional[float] = None,
                 num_thresholds: int = 99, nms: bool = True, nms_radius: int = 4,
                 quantize: bool = True, gt_seg2bmap: bool = True, matcher: str = 'fast',
                 nproc: int = 2, mp_start_method: Optional[str] = None,
                 max_pending: Optional[int] = None, ignore_index: int = 255,
                 task: str = 'edge', collect_device: str = 'cpu', prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(task, collect_device=collect_device, prefix=prefix,
                         collect_dir=collect_dir)
        if max_dist is None:
            if dataset not in DATASET_MAX_DIST:
                raise ValueError(
                    f'EdgeMetric needs max_dist or dataset in {sorted(DATASET_MAX_DIST)} '
                    f'(got dataset={dataset!r}); SAK uses 0.011 for NYUD-v2 and 0.0075 for '
                    'PASCAL-Context')
            max_dist = DATASET_MAX_DIST[dataset]
        if matcher not in MATCHERS:
            raise ValueError(f'matcher must be one of {MATCHERS}, got {matcher!r}')
        if nproc < 0:
            raise ValueError(f'nproc must be >= 0, got {nproc}')
        self.max_dist = float(max_dist)
        self.num_thresholds = int(num_thresholds)
        self.nproc = int(nproc)
        if mp_start_method is None:
            mp_start_method = ('fork' if 'fork' in multiprocessing.get_all_start_methods()
                               else 'spawn')
        self.mp_start_method = mp_start_method
        self.max_pending = max_pending or 8 * max(self.nproc, 1)
        self.ignore_index = ignore_index
        self.counts_kwargs = dict(
            max_dist=self.max_dist, thresholds=self.num_thresholds, ignore_index=ignore_index,
            gt_seg2bmap=gt_seg2bmap, matcher=matcher, quantize=quantize, nms=nms,
            nms_radius=nms_radius)
        self._executor: Optional[ProcessPoolExecutor] = None
        self._pending: Deque[Future] = deque()

    def compute_sample(self, pred: np.ndarray, gt: np.ndarray) -> Any:
        """(4, K) counts of one image, or a future for them when ``nproc > 0``."""
        pred = np.ascontiguousarray(pred, dtype=np.float32)
        gt = np.ascontiguousarray(gt).astype(np.uint8 if gt.max(initial=0) <= 255 else gt.dtype)
        if self.nproc == 0:
            return boundary_counts(pred, gt, **self.counts_kwargs)
        while len(self._pending) >= self.max_pending:
            self._pending.popleft().result()  # back-pressure: wait for the oldest
        future = self._pool().submit(boundary_counts, pred, gt, **self.counts_kwargs)
        self._pending.append(future)
        self._pending = deque(f for f in self._pending if not f.done())
        return future

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            ctx = multiprocessing.get_context(self.mp_start_method)
            self._executor = ProcessPoolExecutor(max_workers=self.nproc, mp_context=ctx)
        return self._executor

    def resolve(self, result: Any) -> Any:
        """Wait for a pending per-image computation."""
        return result.result() if isinstance(result, Future) else result

    def release(self) -> None:
        """Shut the worker pool down (a new one starts at the next evaluation)."""
        self._pending.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __del__(self) -> None:
        executor = getattr(self, '_executor', None)
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def compute_metrics(self, results: List[Any]) -> Dict[str, float]:
        """odsF / oisF / AP from the stacked per-image counts."""
        thr = boundary_thresholds(self.num_thresholds)
        if not results:
            return dict(odsF=float('nan'), odsP=float('nan'), odsR=float('nan'),
                        odsT=float('nan'), oisF=float('nan'), AP=float('nan'))
        return boundary_metrics(np.stack(results), thr)
