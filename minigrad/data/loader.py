"""The DataLoader: torch's arguments and semantics, with real worker processes.

A loader combines a dataset with a sampler (the order), a batch sampler (the grouping)
and a collate function (samples -> batch), then iterates in this process
(``num_workers=0``) or in worker processes (see ``minigrad.data.worker``). minigrad's own
array-backed datasets are fetched a batch at a time with one array index (see
``minigrad.data.dataset``); any other map-style dataset goes through ``__getitems__`` or
``__getitem__`` and ``collate_fn``, as in torch.
"""
import multiprocessing
import os
import warnings

from minigrad import rng
from minigrad.data.collate import default_collate, default_convert
from minigrad.data.dataset import IterableDataset
from minigrad.data.fetch import make_fetcher
from minigrad.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler
from minigrad.data.worker import Failure, WorkerPool
from minigrad.rng import Generator


class _InfiniteConstantSampler(Sampler):
    """The 'indices' of an iterable dataset: None, forever (the dataset decides)."""

    def __iter__(self):
        while True:
            yield None


_FROZEN = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
           "persistent_workers")


class DataLoader:
    """Iterate over ``dataset`` in batches (``torch.utils.data.DataLoader``).

    Arguments are torch's, with torch's defaults and checks:

    * ``batch_size=1``; ``None`` turns batching off (each sample goes through
      ``collate_fn``, by default ``default_convert``); ``drop_last`` drops a short last
      batch.
    * ``shuffle`` draws a new permutation each pass (a ``RandomSampler`` using
      ``generator``); ``sampler`` (indices) or ``batch_sampler`` (lists of indices) give
      the order instead. ``batch_sampler`` excludes batch_size, shuffle, sampler and
      drop_last; ``sampler`` excludes shuffle; an ``IterableDataset`` takes none of them.
    * ``num_workers`` worker processes (fork on Linux, or ``multiprocessing_context``)
      fetch and collate batches; they come back in order (``in_order=False``: as they
      are ready). ``prefetch_factor`` batches per worker are in flight (default 2);
      ``persistent_workers=True`` keeps the workers from one epoch to the next and stops
      them when the loader is garbage-collected; ``timeout`` (seconds, workers only) makes
      a batch that takes longer a RuntimeError; ``worker_init_fn(worker_id)`` runs first
      in each worker. An exception in a worker is raised here, of the same class where it
      can be, with the worker's traceback in its message. With an ``IterableDataset``
      each worker iterates its own copy: split the stream with ``get_worker_info()``.
      Batches travel pickled through a pipe; as in torch, a dataset used with workers
      should return host data (a forked process cannot use the parent's GPU context).
    * Randomness: each iterator draws a base seed from ``generator`` (else minigrad's
      global generator), and worker ``i`` seeds Python's ``random`` and minigrad's global
      generator (``mg.manual_seed``) with ``base_seed + i``, and NumPy's global generator
      (``np.random.seed``) with a SeedSequence of (i, base_seed), as torch does. So the
      batches, and what a dataset draws in a worker, are the same on every run for a
      seeded generator, whatever ``num_workers`` is (a dataset drawing random numbers sees
      different ones per worker, as in torch).
    * ``pin_memory``: accepted, but minigrad has no pinned (page-locked) host memory;
      batches stay in ordinary memory. Without an accelerator it warns, as torch does;
      ``pin_memory_device`` is accepted and deprecated, as in torch.
    * ``seed`` (+): minigrad's shorthand for ``generator=mg.Generator().manual_seed(seed)``:
      a loader built with the same seed yields the same batches, epoch by epoch.

    ``len(loader)`` is the number of batches (for an ``IterableDataset``, computed from
    ``len(dataset)``, which it must then define). Random numbers differ from torch's for
    the same seed (minigrad's generators are NumPy's).
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False,
                 timeout=0, worker_init_fn=None, multiprocessing_context=None,
                 generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device="", in_order=True, seed=None):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 "
                             "to disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in "
                             "multiprocessing. Let num_workers > 0 to enable "
                             "multiprocessing, otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if seed is not None:
            if generator is not None:
                raise ValueError("DataLoader: give seed or generator, not both")
            generator = Generator().manual_seed(seed)
        if generator is not None and not isinstance(generator, Generator):
            raise TypeError(f"DataLoader: generator should be a minigrad.Generator, got "
                            f"{type(generator).__name__}")

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order
        self.seed = seed

        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle not in (False, None):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"shuffle option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"sampler option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler="
                                 f"{batch_sampler}")
        else:
            shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with "
                                 "batch_size, shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None:
            if self._iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self._iterator = None
        self._len_reported = None
        self._initialized = True
        self._check_worker_number()

    def __setattr__(self, name, value):
        if name in _FROZEN and self.__dict__.get("_initialized"):
            raise ValueError(f"{name} attribute should not be set after "
                             f"{type(self).__name__} is initialized")
        super().__setattr__(name, value)

    @property
    def multiprocessing_context(self):
        return self._mp_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, context):
        if context is not None:
            if self.num_workers == 0:
                raise ValueError(f"multiprocessing_context can only be used with "
                                 f"multi-process loading (num_workers > 0), but got "
                                 f"num_workers={self.num_workers}")
            if isinstance(context, str):
                methods = multiprocessing.get_all_start_methods()
                if context not in methods:
                    raise ValueError(f"multiprocessing_context option should specify a valid "
                                     f"start method in {methods!r}, but got "
                                     f"multiprocessing_context={context!r}")
                context = multiprocessing.get_context(context)
            if not isinstance(context, multiprocessing.context.BaseContext):
                raise TypeError(f"multiprocessing_context option should be a valid context "
                                f"object or a string specifying the start method, but got "
                                f"multiprocessing_context={context}")
        self._mp_context = context

    def _context(self):
        """The multiprocessing context for the workers: fork where there is one (Linux),
        as torch's default on Linux, so the dataset is shared, not pickled."""
        if self._mp_context is not None:
            return self._mp_context
        if "fork" in multiprocessing.get_all_start_methods():
            return multiprocessing.get_context("fork")
        return multiprocessing.get_context()

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self):
        if self._iterable:
            length = self._len_reported = len(self.dataset)
            if self.batch_size is not None:
                length = length // self.batch_size if self.drop_last else \
                    -(-length // self.batch_size)
            return length
        return len(self._index_sampler)

    def __iter__(self):
        if self.num_workers == 0:
            return _SingleProcessIter(self)
        if not self.persistent_workers:
            self._check_worker_number()
            return _MultiProcessIter(self)
        if self._iterator is None:
            self._iterator = _MultiProcessIter(self)
        else:
            self._iterator._reset(self)
        return self._iterator

    def _check_worker_number(self):
        if self.num_workers == 0:
            return
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
            os.cpu_count()
        if cpus and self.num_workers > cpus:
            warnings.warn(f"This DataLoader will create {self.num_workers} worker processes "
                          f"in total. Our suggested max number of worker in current system "
                          f"is {cpus}, which is smaller than what this DataLoader is going "
                          f"to create. Please be aware that excessive worker creation might "
                          f"get DataLoader running slow or even freeze, lower the worker "
                          f"number to avoid potential slowness/freeze if necessary.",
                          stacklevel=3)


class _LoaderIter:
    """What both iterators share: the base seed, the pin_memory warning, the check of an
    iterable dataset's reported length, and raising a worker's exception."""

    def __init__(self, loader):
        self._iterable = loader._iterable
        self._dataset = loader.dataset
        self._index_sampler = loader._index_sampler
        self._num_workers = loader.num_workers
        if loader.pin_memory:
            if loader.pin_memory_device:
                warnings.warn(f"pin_memory_device is deprecated, the current accelerator "
                              f"will be used as the device,ignore pin_memory_device="
                              f"'{loader.pin_memory_device}'.", stacklevel=3)
            from minigrad import cuda
            if not cuda.is_available():
                warnings.warn("'pin_memory' argument is set as true but no accelerator is "
                              "found, then device pinned memory won't be used.",
                              stacklevel=3)
        # drawn whether or not there are workers, so the loader's generator advances the
        # same way for every num_workers (as in torch)
        self._base_seed = int(rng.generator(generator=loader.generator).integers(2 ** 63))
        self._reset(loader)

    def _reset(self, loader):
        self._yielded = 0
        self._len_reported = loader._len_reported

    def __iter__(self):
        return self

    def __len__(self):
        return len(self._index_sampler)

    def __next__(self):
        data = self._next_data()
        if isinstance(data, Failure):
            error = data.exception()
            # Raised from a frame that no longer holds the iterator, so an exception kept
            # alive (by a test, a debugger) does not keep the workers alive with it.
            del self, data
            raise error
        self._yielded += 1
        if self._iterable and self._len_reported is not None \
                and self._yielded > self._len_reported:
            message = (f"Length of IterableDataset {self._dataset} was reported to be "
                       f"{self._len_reported} (when accessing len(dataloader)), but "
                       f"{self._yielded} samples have been fetched. ")
            if self._num_workers > 0:
                message += ("For multiprocessing data-loading, this could be caused by not "
                            "properly configuring the IterableDataset replica at each "
                            "worker. See IterableDataset's docstring for examples.")
            warnings.warn(message, stacklevel=2)
        return data


class _SingleProcessIter(_LoaderIter):
    def __init__(self, loader):
        if loader.timeout != 0:
            raise AssertionError(f"DataLoader: timeout={loader.timeout} applies to worker "
                                 f"processes; with num_workers=0 it must be 0 "
                                 f"(_SingleProcessDataLoaderIter requires timeout == 0)")
        super().__init__(loader)
        self._sampler_iter = iter(self._index_sampler)
        self._fetcher = make_fetcher(loader._iterable, loader.dataset, loader._auto_collation,
                                     loader.collate_fn, loader.drop_last)

    def _next_data(self):
        return self._fetcher.fetch(next(self._sampler_iter))


class _MultiProcessIter(_LoaderIter):
    def __init__(self, loader):
        super().__init__(loader)
        self._pool = WorkerPool(loader, self._base_seed)

    def _reset(self, loader):
        super()._reset(loader)
        if hasattr(self, "_pool"):
            self._pool.reset()

    def _next_data(self):
        return self._pool.next_batch()

    def _shutdown_workers(self):
        self._pool.shutdown()
