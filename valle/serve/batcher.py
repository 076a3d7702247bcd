"""`MicroBatcher`: a bounded queue and one worker thread that runs requests arriving close together as a batch.

Why: the model decodes a batch of B items in little more time than one (the decoding loop is
per-step overhead and weight streaming), so concurrent clients should share each decoding pass rather than
wait in line.  The worker takes the first waiting item, then keeps collecting for at most `max_wait`
seconds or until `max_batch` items, and hands them all to one `run_batch` call.  `max_batch=1` is plain
serial handling.

The batcher knows nothing about speech: items and results are opaque, so it is tested with plain
functions.  Callers get a `concurrent.futures.Future` per item; a future cancelled before its batch
starts (its client timed out) is dropped without being run.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

# `run_batch(items)` returns one result per item, or an exception for an item that failed alone, or a
# `Future` of either when the item's last step finishes elsewhere (a later pipeline stage).
BatchFn = Callable[[list[T]], Sequence["R | BaseException | Future[R]"]]


class QueueFullError(Exception):
    """The queue holds `max_queue` items already; the caller should retry after `retry_after` seconds."""

    def __init__(self, waiting: int, retry_after: int) -> None:
        super().__init__(f"the server is busy ({waiting} requests waiting); retry in {retry_after} s")
        self.waiting = waiting
        self.retry_after = retry_after


class BatcherStoppedError(RuntimeError):
    """The batcher is stopped (server shutting down): nothing more is accepted or run."""


@dataclass
class BatcherStats:
    """What the worker has done so far (read by /healthz and the tests)."""

    batches: int = 0  # run_batch calls
    items: int = 0  # items run (cancelled ones excluded)
    cancelled: int = 0  # items dropped because their future was cancelled while waiting
    rejected: int = 0  # submissions refused with QueueFullError
    sizes: Counter[int] = field(default_factory=Counter)  # batch size -> how many batches had it
    mean_batch_seconds: float = 0.0  # moving average of one run_batch call, for Retry-After

    def as_dict(self) -> dict[str, Any]:
        return {
            "batches": self.batches,
            "items": self.items,
            "cancelled": self.cancelled,
            "rejected": self.rejected,
            "batch_sizes": {str(k): v for k, v in sorted(self.sizes.items())},
            "mean_batch_seconds": round(self.mean_batch_seconds, 4),
        }


class MicroBatcher(Generic[T, R]):
    """Collects submitted items into batches for `run_batch`, on one worker thread.

    Args:
        run_batch: called with 1..max_batch items; returns a result, an exception or a `Future` (resolved
            later, e.g. by another thread) per item, in order.  If it raises, every item gets that exception.
        max_batch: the most items per call (1 = serial handling).
        max_wait: seconds the first item of a batch waits for more to arrive (0 = take what is queued).
        max_queue: the most items waiting (not yet in a running batch); more raise `QueueFullError`.
        name: the worker thread's name.
    """

    def __init__(
        self,
        run_batch: BatchFn[T, R],
        max_batch: int = 8,
        max_wait: float = 0.025,
        max_queue: int = 64,
        name: str = "valle-batcher",
    ) -> None:
        assert max_batch >= 1 and max_queue >= 1 and max_wait >= 0, (max_batch, max_queue, max_wait)
        self.run_batch = run_batch
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.max_queue = max_queue
        self.stats = BatcherStats()
        self._queue: queue.Queue[tuple[T, Future[R]] | None] = queue.Queue()
        self._waiting = 0  # items submitted and not yet taken by the worker
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._stopping = False

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the running batch, fail what is still queued, and end the worker thread."""
        self._stopping = True
        self._queue.put(None)
        self._thread.join(timeout)
        while True:
            try:
                entry = self._queue.get_nowait()
            except queue.Empty:
                break
            if entry is not None and entry[1].set_running_or_notify_cancel():
                entry[1].set_exception(BatcherStoppedError("the server is shutting down; retry shortly"))

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    @property
    def waiting(self) -> int:
        """Items submitted and not yet taken into a batch."""
        return self._waiting

    # ------------------------------------------------------------------ submission
    def submit(self, item: T) -> Future[R]:
        """Queue one item; its future resolves when its batch has run.

        Raises:
            QueueFullError: `max_queue` items are waiting already.
            BatcherStoppedError: the batcher is not running.
        """
        if self._stopping or not self.running:
            raise BatcherStoppedError("the server is not running its model worker (shutting down); retry shortly")
        with self._lock:
            if self._waiting >= self.max_queue:
                self.stats.rejected += 1
                raise QueueFullError(self._waiting, self.retry_after())
            self._waiting += 1
        future: Future[R] = Future()
        self._queue.put((item, future))
        return future

    def retry_after(self) -> int:
        """Whole seconds until the queue has likely drained by one batch (at least 1)."""
        batches_ahead = max(1, math.ceil(self._waiting / self.max_batch))
        return max(1, math.ceil(batches_ahead * self.stats.mean_batch_seconds))

    # ------------------------------------------------------------------ worker
    def _take(self, block: bool, timeout: float | None = None) -> tuple[T, Future[R]] | None:
        """Next live entry, or None (stop sentinel, empty queue, or timeout)."""
        while True:
            try:
                entry = self._queue.get(block=block, timeout=timeout)
            except queue.Empty:
                return None
            if entry is None:
                return None
            with self._lock:
                self._waiting -= 1
            if entry[1].set_running_or_notify_cancel():
                return entry
            self.stats.cancelled += 1  # its client gave up while it waited: do not spend compute on it

    def _collect(self) -> list[tuple[T, Future[R]]]:
        """Block for the first item, then gather more until `max_batch` or `max_wait` has passed."""
        first = self._take(block=True)
        if first is None:
            return []
        batch = [first]
        deadline = time.monotonic() + self.max_wait
        while len(batch) < self.max_batch:
            left = deadline - time.monotonic()
            entry = self._take(block=left > 0, timeout=left if left > 0 else None)
            if entry is None:
                break
            batch.append(entry)
        return batch

    def _work(self) -> None:
        while not self._stopping:
            batch = self._collect()
            if batch:
                self._run(batch)

    def _run(self, batch: list[tuple[T, Future[R]]]) -> None:
        items = [item for item, _ in batch]
        start = time.perf_counter()
        try:
            results: Sequence[R | BaseException] = self.run_batch(items)
            if len(results) != len(items):
                raise RuntimeError(f"run_batch returned {len(results)} results for {len(items)} items")
        except BaseException as e:  # the worker must survive anything a batch does
            logger.exception("a batch of %d failed", len(items))
            results = [e] * len(items)
        elapsed = time.perf_counter() - start
        s = self.stats
        s.batches += 1
        s.items += len(items)
        s.sizes[len(items)] += 1
        s.mean_batch_seconds = elapsed if s.batches == 1 else 0.8 * s.mean_batch_seconds + 0.2 * elapsed
        for (_, future), result in zip(batch, results):
            if isinstance(result, Future):
                result.add_done_callback(lambda done, to=future: _settle(to, done))
            elif isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)


def _settle(target: Future[R], source: Future[R]) -> None:
    """Give `target` the outcome of `source` (a later stage's future)."""
    error = source.exception() if not source.cancelled() else BatcherStoppedError("the work was cancelled")
    if error is not None:
        target.set_exception(error)
    else:
        target.set_result(source.result())
