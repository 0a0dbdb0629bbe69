"""Batches shared between this process and a pool of worker processes, answered in order, and a
pool that outlives a worker that dies.

This process works too (one process fewer to start, and it works while the pool starts): the
pool always holds two batches a worker, and this process takes the next batch whenever the one
due next is still in the pool.

A worker can die on a photo: killed for memory, or a decoder crashing on a hostile file. Every
batch the pool held is then classified again in a fresh pool one item at a time, so that only
an item that kills a worker on its own gets an error. Such an item is never tried in this
process. After ``MAX_DEATHS`` deaths no pool is started again: this process classifies the
batches not yet tried, and the ones a dead pool held get errors.
"""
from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterator, Sequence, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

MAX_DEATHS = 5
DIED = "a worker process died while classifying it (killed for memory, or crashed)"
GAVE_UP = (f"not classified: {MAX_DEATHS} worker processes died, and a photo that a dying worker held "
           "is not tried in the main process")


class Workers:
    """A process pool of ``size`` workers, each started with ``initializer(*initargs)``, and
    started again after a worker dies (``died``), MAX_DEATHS times at most."""

    def __init__(self, size: int, initializer: Callable, initargs: tuple, warn: Callable[[str], None]):
        self.size, self.deaths = size, 0
        self._initializer, self._initargs, self._warn = initializer, initargs, warn
        self._pool: ProcessPoolExecutor | None = self._start()

    def _start(self) -> ProcessPoolExecutor:
        # spawn, not fork: the parent may hold LiteRT interpreters (and, under pytest, TensorFlow's threads).
        return ProcessPoolExecutor(self.size, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=self._initializer, initargs=self._initargs)

    @property
    def alive(self) -> bool:
        return self._pool is not None

    def submit(self, task: Callable, *args) -> Future:
        return self._pool.submit(task, *args)

    def died(self) -> None:
        """A worker died and took the pool with it: start another, unless too many died."""
        self.deaths += 1
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = self._start() if self.deaths < MAX_DEATHS else None
        self._warn(f"a worker process died ({self.deaths} so far); what it held is classified again one "
                   "photo at a time" if self.alive else
                   f"{self.deaths} worker processes died: the rest is classified in this process alone")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def shared_in_order(batches: Sequence[list[Item]], here: Callable[[list[Item]], list[Result]],
                    workers: Workers, task: Callable[[list[Item]], list[Result]],
                    failed: Callable[[Item, str], Result]) -> Iterator[list[Result]]:
    """Each batch's results, in order: ``here(batch)`` in this process or ``task(batch)`` in a
    worker; ``failed(item, reason)`` for an item that no process could classify."""
    in_pool: dict[int, Future] = {}
    done: dict[int, list[Result]] = {}
    handed = 0  # batches handed out so far, to the pool or to this process

    def pool_died() -> None:  # every batch the pool held is lost with it
        lost = sorted(in_pool)
        in_pool.clear()
        workers.died()
        for index in lost:
            done[index] = _one_at_a_time(batches[index], workers, task, failed)

    for due in range(len(batches)):
        while due not in done:
            while workers.alive and len(in_pool) < 2 * workers.size and handed < len(batches):
                try:
                    in_pool[handed] = workers.submit(task, batches[handed])
                    handed += 1
                except BrokenProcessPool:  # a worker died while idle
                    pool_died()
            if due in in_pool and (in_pool[due].done() or handed == len(batches)):
                try:
                    done[due] = in_pool[due].result()
                    del in_pool[due]
                except BrokenProcessPool:
                    pool_died()
            elif due not in done:
                done[handed] = here(batches[handed])
                handed += 1
        yield done.pop(due)


def _one_at_a_time(batch: list[Item], workers: Workers, task: Callable, failed: Callable) -> list[Result]:
    """Results for a batch a dead pool held, each item alone in the pool: the one a worker dies
    on is named, and the rest are answered."""
    results = []
    for item in batch:
        if not workers.alive:
            results.append(failed(item, GAVE_UP))
            continue
        try:
            results.extend(workers.submit(task, [item]).result())
        except BrokenProcessPool:
            workers.died()
            results.append(failed(item, DIED))
    return results
