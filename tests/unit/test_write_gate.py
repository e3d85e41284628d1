"""Writers of one SQLite file in one process take turns in arrival order."""

from __future__ import annotations

import threading
import time

import pytest

from cadenza.store import gate as gate_module
from cadenza.store.gate import WriteGate


def test_writers_get_their_turn_in_arrival_order() -> None:
    gate = WriteGate()
    first = object()
    assert gate.acquire(first)
    order: list[int] = []
    threads = []
    for number in range(5):
        holder = object()

        def write(number: int = number, holder: object = holder) -> None:
            gate.acquire(holder)
            order.append(number)
            gate.release(holder)

        threads.append(threading.Thread(target=write))
        threads[-1].start()
        time.sleep(0.05)  # each one queued before the next arrives
    # The first holder, like a worker committing a batch, wants the lock again at once:
    # it queues behind the writers that were waiting.
    gate.release(first)
    again = threading.Thread(target=lambda: (gate.acquire(first), order.append(99)))
    again.start()
    for thread in [*threads, again]:
        thread.join(timeout=5)
    assert order == [0, 1, 2, 3, 4, 99]


def test_another_thread_may_end_the_holders_turn() -> None:
    gate = WriteGate()
    holder, other = object(), object()
    assert gate.acquire(holder)
    releaser = threading.Thread(target=gate.release, args=(holder,))
    releaser.start()
    releaser.join()
    assert gate.acquire(other)  # would wait PATIENCE if the turn had not passed


def test_a_writer_that_never_finishes_stalls_the_others_only_so_long(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(gate_module, "PATIENCE", 0.2)
    gate = WriteGate()
    assert gate.acquire(object())  # never released
    started = time.monotonic()
    assert gate.acquire(object()) is False
    assert 0.15 < time.monotonic() - started < 2
    # A later writer is not stuck behind the one that gave up, only behind the holder.
    assert gate.acquire(object()) is False


def test_the_turn_passes_over_a_writer_that_gave_up_to_the_one_behind_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gate = WriteGate()
    holder = object()
    assert gate.acquire(holder)
    monkeypatch.setattr(gate_module, "PATIENCE", 0.1)
    impatient = threading.Thread(target=gate.acquire, args=(object(),))
    impatient.start()
    time.sleep(0.02)  # queued second, gives up before the holder is done
    monkeypatch.setattr(gate_module, "PATIENCE", 10.0)
    got: list[float] = []
    patient = threading.Thread(
        target=lambda: gate.acquire(object()) and got.append(time.monotonic())
    )
    patient.start()
    impatient.join(timeout=5)
    released = time.monotonic()
    gate.release(holder)
    patient.join(timeout=5)
    assert got and got[0] - released < 1  # woken by the release, not by its own patience
