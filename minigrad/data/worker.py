"""DataLoader worker processes: what runs in each worker, and the main-process iterator
that feeds them and hands their batches back in order (torch's design, our code).

The main process owns the sampler. It sends each batch's indices, tagged with a running
task number, to one worker's index queue (round-robin over the workers still running),
keeping ``prefetch_factor * num_workers`` tasks in flight; every worker sends
``(epoch, task, batch)`` back on one shared result queue, and the main process yields
them in task order, holding any that arrive early. Batches travel pickled through a pipe
(minigrad has no shared-memory tensors).

A worker starts by seeding its random generators from ``base_seed + worker_id``, where
``base_seed`` is drawn from the loader's ``generator`` (else the global generator) each
time an iterator is created, as torch does. Failures come back as data: an exception is
re-raised in the main process, with the worker's traceback in its message; a worker
whose iterable dataset ran out says so and gets no more tasks.

Shutdown: when the epoch ends, when the iterator is garbage-collected (``break`` out of a
``for`` loop, an exception in the loop body) or, with ``persistent_workers``, when the
loader goes away, the main process sets a shared event (workers then skip what is still
queued), sends each worker ``None``, joins it, and terminates one that does not stop
within a few seconds. Workers also leave on their own when the main process is gone.
"""
import itertools
import os
import queue
import random
import time
import traceback
from dataclasses import dataclass

import numpy as np

from minigrad.data.fetch import make_fetcher

_CHECK_INTERVAL = 1.0    # seconds between checks that the other side is still alive
_JOIN_TIMEOUT = 5.0      # how long a stopping worker may take before it is terminated


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker: its ``id`` (0 to
    ``num_workers - 1``), ``num_workers``, the ``seed`` its generators were seeded with,
    and ``dataset``, this worker's own copy of the dataset."""
    id: int
    num_workers: int
    seed: int
    dataset: object
    rng: object = None
    worker_method: str = "multiprocessing"


_worker_info = None


def get_worker_info():
    """A ``WorkerInfo`` in a DataLoader worker process, None in the main process. An
    ``IterableDataset`` uses it to split its stream between the workers."""
    return _worker_info


def numpy_seed(base_seed, worker_id):
    """The seed torch gives NumPy's global generator in worker ``worker_id``: four 32-bit
    words from a SeedSequence over (worker_id, base_seed's low and high words, 0), so
    NumPy's stream differs from one seeded with ``base_seed + worker_id`` directly."""
    words = [worker_id, base_seed & 0xFFFFFFFF, base_seed >> 32, 0]
    return np.random.SeedSequence(words).generate_state(4)


def seed_worker(base_seed, worker_id):
    """Seed this process's generators as torch seeds a DataLoader worker's: Python's
    ``random`` and minigrad's global generator (``mg.manual_seed``) with
    ``base_seed + worker_id``, NumPy's global generator (``np.random.seed``) with
    ``numpy_seed(base_seed, worker_id)``. Returns the seed."""
    from minigrad import rng
    seed = base_seed + worker_id
    random.seed(seed)
    rng.manual_seed(seed)
    np.random.seed(numpy_seed(base_seed, worker_id))
    return seed


class _KeyErrorMessage(str):
    """KeyError's str() is the repr of its argument; this keeps a traceback readable."""

    def __repr__(self):
        return self


class Failure:
    """An exception for the main process to raise in place of a batch. The loader's
    ``__next__`` raises it from a frame that no longer holds the iterator, so an exception
    kept alive (by a test, a debugger) does not keep the worker processes alive."""

    def __init__(self, exc):
        self.exc = exc

    def exception(self):
        return self.exc


class WorkerError(Failure):
    """An exception raised in a worker, carried to the main process as text: its class is
    found again by name there, so an exception class that cannot be pickled still comes
    back, as a RuntimeError when its class cannot be found or built from a message."""

    def __init__(self, exc, where):
        cls = type(exc)
        self.module, self.qualname = cls.__module__, cls.__qualname__
        self.message = (f"Caught {cls.__name__} {where}.\nOriginal "
                        + "".join(traceback.format_exception(exc)))

    def exception(self):
        cls = _find_class(self.module, self.qualname)
        message = _KeyErrorMessage(self.message) if cls is KeyError else self.message
        try:
            return cls(message)
        except Exception:  # a class whose constructor needs other arguments
            return RuntimeError(self.message)


def _find_class(module, qualname):
    import importlib
    try:
        obj = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return RuntimeError
    return obj if isinstance(obj, type) and issubclass(obj, BaseException) else RuntimeError


@dataclass(frozen=True)
class _Exhausted:
    """A worker's iterable dataset has no more samples this epoch."""
    worker_id: int


def _worker_loop(iterable, dataset, index_queue, result_queue, done, auto_collation,
                 collate_fn, drop_last, base_seed, init_fn, worker_id, num_workers):
    global _worker_info
    try:
        from minigrad.config import set_num_threads
        set_num_threads(1)   # (forked children already run kernels on one thread)
        seed = seed_worker(base_seed, worker_id)
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed,
                                  dataset=dataset)
        where = f"in DataLoader worker process {worker_id}"

        def new_fetcher():
            return make_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last)

        error = fetcher = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = new_fetcher()
        except Exception as e:
            error = WorkerError(e, where)
        parent, ended = os.getppid(), False
        while True:
            try:
                task = index_queue.get(timeout=_CHECK_INTERVAL)
            except queue.Empty:
                if os.getppid() != parent:     # the main process is gone: so are we
                    break
                continue
            if task is None:
                break
            epoch, idx, index = task
            if idx is None:                    # a new epoch (persistent workers)
                ended = False
                try:
                    fetcher = new_fetcher()
                except Exception as e:
                    error = WorkerError(e, where)
                continue
            if done.is_set() or ended:
                continue
            if error is not None:
                data, error = error, None
            else:
                try:
                    data = fetcher.fetch(index)
                except Exception as e:
                    if iterable and isinstance(e, StopIteration):
                        data, ended = _Exhausted(worker_id), True
                    else:
                        data = WorkerError(e, where)
            result_queue.put((epoch, idx, data))
            del data, task, index
    except KeyboardInterrupt:   # Ctrl-C reaches the whole process group: the main
        pass                    # process reports it
    if done.is_set():           # nobody reads what is still buffered: do not wait on it
        result_queue.cancel_join_thread()


class WorkerPool:
    """The worker processes of one DataLoader iterator (of the loader itself with
    ``persistent_workers``), and the order of their batches: see the module docstring."""

    def __init__(self, loader, base_seed):
        self._shut = True
        self._iterable = loader._iterable
        self._index_sampler = loader._index_sampler
        self._timeout = loader.timeout
        self._in_order = loader.in_order
        self._persistent = loader.persistent_workers
        self._n = loader.num_workers
        self._max_tasks = loader.prefetch_factor * self._n
        ctx = loader._context()
        self._done = ctx.Event()
        self._results = ctx.Queue()
        self._index_queues, self._workers = [], []
        self._epoch = 0
        try:
            for worker_id in range(self._n):
                index_queue = ctx.Queue()
                index_queue.cancel_join_thread()   # exiting never waits on unsent tasks
                worker = ctx.Process(
                    target=_worker_loop, daemon=True,
                    args=(self._iterable, loader.dataset, index_queue, self._results,
                          self._done, loader._auto_collation, loader.collate_fn,
                          loader.drop_last, base_seed, loader.worker_init_fn, worker_id,
                          self._n))
                worker.start()
                self._index_queues.append(index_queue)
                self._workers.append(worker)
        except BaseException:
            self._shut = False
            self.shutdown()
            raise
        self._shut = False
        self._start_epoch()

    def _start_epoch(self):
        self._sampler_iter = iter(self._index_sampler)
        self._send_idx = self._rcvd_idx = self._outstanding = 0
        self._task_worker = {}      # task -> worker, for tasks not yet yielded
        self._early = {}            # task -> batch that arrived before its turn
        self._active = [True] * self._n
        self._next_worker = itertools.cycle(range(self._n))
        for _ in range(self._max_tasks):
            self._send_task()

    def reset(self):
        """A new epoch on the same workers (persistent_workers): they restart their
        iterable datasets; results still on their way from the last epoch are dropped."""
        self._epoch += 1
        for index_queue in self._index_queues:
            index_queue.put((self._epoch, None, None))
        self._start_epoch()

    def _send_task(self):
        if self._outstanding >= self._max_tasks:
            return
        for _ in range(self._n):
            worker_id = next(self._next_worker)
            if self._active[worker_id]:
                break
        else:
            return
        try:
            index = next(self._sampler_iter)
        except StopIteration:
            return
        self._index_queues[worker_id].put((self._epoch, self._send_idx, index))
        self._task_worker[self._send_idx] = worker_id
        self._send_idx += 1
        self._outstanding += 1

    def next_batch(self):
        """The next batch, or a ``Failure`` to raise in its place: the exception a worker
        sent, a timeout, a worker that died."""
        while True:
            while self._rcvd_idx < self._send_idx:
                if self._rcvd_idx in self._early or self._rcvd_idx in self._task_worker:
                    break
                self._rcvd_idx += 1     # yielded out of order, or its worker ran out
            else:
                if not self._persistent:
                    self.shutdown()
                raise StopIteration
            if self._rcvd_idx in self._early:
                return self._deliver(self._rcvd_idx, self._early.pop(self._rcvd_idx))
            received = self._receive()
            if isinstance(received, Failure):
                return received
            epoch, idx, data = received
            if epoch != self._epoch:
                continue
            self._outstanding -= 1
            if isinstance(data, _Exhausted):
                # this worker answers none of its other tasks: forget them
                self._active[data.worker_id] = False
                lost = [t for t, w in self._task_worker.items()
                        if w == data.worker_id and t != idx and t not in self._early]
                for t in lost:
                    del self._task_worker[t]
                self._task_worker.pop(idx, None)
                self._outstanding -= len(lost)
                self._send_task()
            elif idx == self._rcvd_idx or not self._in_order:
                return self._deliver(idx, data)
            else:
                self._early[idx] = data

    def _deliver(self, idx, data):
        self._task_worker.pop(idx, None)
        if idx == self._rcvd_idx:
            self._rcvd_idx += 1
        self._send_task()
        return data

    def _receive(self):
        start = time.monotonic()
        while True:
            wait = _CHECK_INTERVAL
            if self._timeout > 0:
                wait = min(wait, max(0.0, start + self._timeout - time.monotonic()))
            try:
                return self._results.get(timeout=wait)
            except queue.Empty:
                dead = [w.pid for w, active in zip(self._workers, self._active)
                        if active and not w.is_alive()]
                if dead:
                    self.shutdown()
                    return Failure(RuntimeError(f"DataLoader worker (pid(s) "
                                                f"{', '.join(map(str, dead))}) exited "
                                                f"unexpectedly"))
                if self._timeout > 0 and time.monotonic() - start >= self._timeout:
                    return Failure(RuntimeError(f"DataLoader timed out after "
                                                f"{self._timeout} seconds"))

    def shutdown(self):
        if self._shut:
            return
        self._shut = True
        try:
            self._done.set()
            for index_queue, worker in zip(self._index_queues, self._workers):
                if worker.is_alive():
                    index_queue.put(None)
            for worker in self._workers:
                worker.join(_JOIN_TIMEOUT)
                if worker.is_alive():
                    worker.terminate()
                    worker.join()
        finally:
            for q in self._index_queues + [self._results]:
                q.cancel_join_thread()
                q.close()

    def __del__(self):
        try:
            self.shutdown()
        except Exception:   # (at interpreter exit, modules may already be torn down)
            pass
