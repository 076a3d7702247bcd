"""MicroBatcher with plain functions: batching window, size cap, bounded queue, errors, cancellation, stop."""

from __future__ import annotations

import threading
import time
from concurrent.futures import CancelledError

import pytest

from valle.serve.batcher import BatcherStoppedError, MicroBatcher, QueueFullError


class Recorder:
    """run_batch that records its batches, doubles numbers, fails on negatives, and can be held shut."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def __call__(self, items: list[int]) -> list[int | BaseException]:
        self.entered.set()
        self.gate.wait(10)
        self.batches.append(list(items))
        return [ValueError(f"bad item {i}") if i < 0 else 2 * i for i in items]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def started(recorder: Recorder, **kwargs) -> MicroBatcher[int, int]:
    b: MicroBatcher[int, int] = MicroBatcher(recorder, **kwargs)
    b.start()
    return b


def test_items_arriving_within_the_window_run_as_one_batch(recorder: Recorder) -> None:
    b = started(recorder, max_batch=8, max_wait=0.5)
    futures = [b.submit(i) for i in range(5)]
    assert [f.result(5) for f in futures] == [0, 2, 4, 6, 8]
    assert recorder.batches == [[0, 1, 2, 3, 4]]
    assert b.stats.batches == 1 and b.stats.sizes == {5: 1}
    b.stop()


def test_batches_never_exceed_max_batch_and_keep_order(recorder: Recorder) -> None:
    recorder.gate.clear()  # hold the worker so that everything queues up behind the first batch
    b = started(recorder, max_batch=4, max_wait=0.0)
    futures = [b.submit(i) for i in range(10)]
    assert recorder.entered.wait(5)
    recorder.gate.set()
    assert [f.result(5) for f in futures] == [2 * i for i in range(10)]
    assert all(1 <= len(batch) <= 4 for batch in recorder.batches)
    assert [i for batch in recorder.batches for i in batch] == list(range(10))
    assert len(recorder.batches) <= 1 + 3  # the first item alone (the worker was waiting), then full batches
    b.stop()


def test_max_batch_one_is_serial_handling(recorder: Recorder) -> None:
    b = started(recorder, max_batch=1, max_wait=0.5)
    futures = [b.submit(i) for i in range(4)]
    assert [f.result(5) for f in futures] == [0, 2, 4, 6]
    assert recorder.batches == [[0], [1], [2], [3]]
    b.stop()


def test_a_full_queue_refuses_with_retry_after(recorder: Recorder) -> None:
    recorder.gate.clear()
    b = started(recorder, max_batch=1, max_wait=0.0, max_queue=2)
    first = b.submit(1)
    assert recorder.entered.wait(5)  # item 1 is running, so it no longer counts as waiting
    queued = [b.submit(2), b.submit(3)]
    with pytest.raises(QueueFullError) as info:
        b.submit(4)
    assert info.value.retry_after >= 1 and "busy" in str(info.value)
    assert b.stats.rejected == 1
    recorder.gate.set()
    assert [f.result(5) for f in [first, *queued]] == [2, 4, 6]
    assert b.submit(5).result(5) == 10  # room again
    b.stop()


def test_item_errors_reach_only_their_own_future(recorder: Recorder) -> None:
    b = started(recorder, max_batch=8, max_wait=0.3)
    good, bad, good2 = b.submit(1), b.submit(-1), b.submit(2)
    assert good.result(5) == 2 and good2.result(5) == 4
    with pytest.raises(ValueError, match="bad item -1"):
        bad.result(5)
    assert len(recorder.batches) == 1
    b.stop()


def test_a_raising_batch_fails_its_items_and_the_worker_survives() -> None:
    calls = []

    def flaky(items: list[int]) -> list[int]:
        calls.append(items)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return items

    b: MicroBatcher[int, int] = MicroBatcher(flaky, max_batch=4, max_wait=0.0)
    b.start()
    with pytest.raises(RuntimeError, match="boom"):
        b.submit(1).result(5)
    assert b.submit(7).result(5) == 7
    assert b.running
    b.stop()


def test_a_future_cancelled_while_waiting_is_not_run(recorder: Recorder) -> None:
    recorder.gate.clear()
    b = started(recorder, max_batch=1, max_wait=0.0)
    first = b.submit(1)
    assert recorder.entered.wait(5)
    gone = b.submit(2)
    assert gone.cancel()  # its client timed out
    last = b.submit(3)
    recorder.gate.set()
    assert first.result(5) == 2 and last.result(5) == 6
    with pytest.raises(CancelledError):
        gone.result(0)
    assert [2] not in recorder.batches and b.stats.cancelled == 1
    b.stop()


def test_stop_fails_what_is_still_queued_and_refuses_new_items(recorder: Recorder) -> None:
    recorder.gate.clear()
    b = started(recorder, max_batch=1, max_wait=0.0)
    running = b.submit(1)
    assert recorder.entered.wait(5)
    queued = b.submit(2)
    threading.Timer(0.2, recorder.gate.set).start()
    b.stop()
    assert running.result(5) == 2
    with pytest.raises(BatcherStoppedError, match="shutting down"):
        queued.result(5)
    assert not b.running
    with pytest.raises(BatcherStoppedError, match="not running"):
        b.submit(3)


def test_the_window_closes_after_max_wait(recorder: Recorder) -> None:
    b = started(recorder, max_batch=8, max_wait=0.05)
    first = b.submit(1)
    assert first.result(5) == 2
    time.sleep(0.2)
    assert b.submit(2).result(5) == 4
    assert recorder.batches == [[1], [2]]  # the window did not wait for the late item
    b.stop()


def test_a_result_that_is_a_future_is_passed_on_when_a_later_stage_settles_it() -> None:
    """A pipeline stage: run_batch hands back futures; the worker is free for the next batch meanwhile."""
    from concurrent.futures import Future

    later: list[tuple[int, Future[int]]] = []

    def stage_one(items: list[int]) -> list[Future[int]]:
        out = []
        for i in items:
            f: Future[int] = Future()
            later.append((i, f))
            out.append(f)
        return out

    b: MicroBatcher[int, int] = MicroBatcher(stage_one, max_batch=1, max_wait=0.0)
    b.start()
    try:
        first, second = b.submit(3), b.submit(-1)
        deadline = time.monotonic() + 10
        while len(later) < 2:  # both batches ran although neither item is finished
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert not first.done() and not second.done()
        later[1][1].set_exception(ValueError("bad item -1"))
        later[0][1].set_result(30)
        assert first.result(5) == 30
        with pytest.raises(ValueError, match="bad item -1"):
            second.result(5)
    finally:
        b.stop()
