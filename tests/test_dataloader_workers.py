"""DataLoader worker processes: order, seeding, IterableDataset splitting, exceptions,
timeouts, and that no process is left behind (counted with psutil). No timing asserts."""
import gc
import os
import random
import time

import numpy as np
import psutil
import pytest

import minigrad as mg
from minigrad.data.worker import numpy_seed
from minigrad.utils.data import (DataLoader, Dataset, IterableDataset, TensorDataset,
                                 get_worker_info)


def _workers():
    """This process's children, less multiprocessing's resource tracker (which a spawn
    context starts once and keeps)."""
    out = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "resource_tracker" not in " ".join(child.cmdline()):
                out.append(child)
        except psutil.NoSuchProcess:
            pass
    return out


@pytest.fixture(autouse=True)
def _no_workers_left_behind():
    yield
    gc.collect()
    left = _workers()
    for p in left:          # (a failing test's traceback may hold an iterator: do not let
        p.kill()            # its workers fail the tests after it too)
    psutil.wait_procs(left, timeout=10)
    assert left == [], "a test left worker processes behind"


def _values(batches):
    return [b.tolist() if hasattr(b, "tolist") else b for b in batches]


class Uneven(Dataset):
    """Samples that take different times, so workers finish out of order."""

    def __len__(self):
        return 30

    def __getitem__(self, i):
        time.sleep(0.002 * (i % 3))
        return {"i": i, "x": np.full(2, i, np.float32)}


def _plain(batches):
    out = []
    for b in batches:
        if isinstance(b, dict):
            out.append({k: v.numpy().tolist() for k, v in b.items()})
        elif isinstance(b, (list, tuple)):
            out.append([t.numpy().tolist() for t in b])
        else:
            out.append(b.numpy().tolist())
    return out


@pytest.mark.parametrize("num_workers", [1, 2])
def test_batches_come_back_in_order(num_workers):
    for ds in (Uneven(), TensorDataset(np.arange(60.0).reshape(30, 2), np.arange(30))):
        expected = _plain(DataLoader(ds, batch_size=4, shuffle=True, seed=5))
        got = _plain(DataLoader(ds, batch_size=4, shuffle=True, seed=5,
                                num_workers=num_workers))
        assert got == expected
    assert len(expected) == 8


def test_in_order_false_yields_every_batch():
    got = _plain(DataLoader(Uneven(), batch_size=3, num_workers=2, in_order=False))
    assert sorted(b["i"] for b in got) == [list(range(i, i + 3)) for i in range(0, 30, 3)]


class Draws(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        info = get_worker_info()
        return (info.id, info.num_workers, info.seed, random.random(),
                float(np.random.random()), mg.rand(1).item(), mg.get_num_threads(),
                info.dataset is self)


def test_workers_are_seeded_from_the_loaders_generator():
    out = list(DataLoader(Draws(), batch_size=None, num_workers=2,
                          generator=mg.Generator().manual_seed(11)))
    base = int(np.random.default_rng(11).integers(2 ** 63))   # the generator's first draw
    for worker, row in enumerate(out):
        wid, n, seed, py, npy, ours, threads, same = row
        assert (wid, n, seed) == (worker, 2, base + worker)
        assert py == random.Random(base + worker).random()
        assert npy == np.random.RandomState(numpy_seed(base, worker)).random_sample()
        mg.manual_seed(base + worker)
        assert ours == mg.rand(1).item()
        assert threads == 1                     # kernels in a worker run on one thread
        assert same                             # info.dataset is the worker's copy
    again = list(DataLoader(Draws(), batch_size=None, num_workers=2,
                            generator=mg.Generator().manual_seed(11)))
    assert again == out


def test_numpy_seed_is_torchs(torch):
    from torch.utils.data._utils.worker import _generate_state
    for base, worker in ((0, 0), (12345, 1), (2 ** 63 - 1, 3), (2 ** 40 + 7, 2)):
        assert numpy_seed(base, worker).tolist() == _generate_state(base, worker)


class _InitRecorder(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return int(os.environ["MG_TEST_INIT_ID"]), get_worker_info().id


def _init(worker_id):
    os.environ["MG_TEST_INIT_ID"] = str(100 + worker_id)


def test_worker_init_fn_runs_first_in_each_worker():
    out = list(DataLoader(_InitRecorder(), batch_size=None, num_workers=2,
                          worker_init_fn=_init))
    assert out == [[100, 0], [101, 1], [100, 0], [101, 1]]   # (default_convert: lists)
    assert "MG_TEST_INIT_ID" not in os.environ


def _split_stream(base, info_fn):
    class Split(base):
        def __iter__(self):
            info = info_fn()
            start, step = (0, 1) if info is None else (info.id, info.num_workers)
            return iter(range(start, 11, step))

    class Whole(base):
        def __iter__(self):
            return iter(range(5))

    class Lopsided(base):               # one worker runs out long before the other
        def __iter__(self):
            info = info_fn()
            return iter(range(1) if info is None or info.id == 0 else range(100, 107))
    return Split(), Whole(), Lopsided()


@pytest.mark.parametrize("kwargs", [{"batch_size": 2}, {"batch_size": None},
                                    {"batch_size": 3, "drop_last": True}])
def test_iterable_dataset_in_workers_matches_torch(torch, kwargs):
    ours = _split_stream(IterableDataset, get_worker_info)
    theirs = _split_stream(torch.utils.data.IterableDataset, torch.utils.data.get_worker_info)
    for a, b in zip(ours, theirs):
        got = _values(DataLoader(a, num_workers=2, **kwargs))
        want = _values(torch.utils.data.DataLoader(b, num_workers=2, **kwargs))
        assert got == want
        if isinstance(a, type(ours[1])):
            assert got != _values(DataLoader(a, **kwargs))   # each worker: a whole copy


class Faulty(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 3:
            raise ValueError(f"bad sample {i}")
        if i == 5:
            raise KeyError("missing key")
        return i


def test_worker_exception_is_raised_with_its_traceback(torch):
    with pytest.raises(ValueError) as info:
        list(DataLoader(Faulty(), batch_size=2, num_workers=2))
    message = str(info.value)
    assert message.startswith("Caught ValueError in DataLoader worker process 1.\n"
                              "Original Traceback (most recent call last):\n")
    assert "bad sample 3" in message and "in __getitem__" in message
    assert __file__ in message

    # torch's wrapper, without its workers (whose shutdown after an error takes 10 s)
    from torch._utils import ExceptionWrapper
    try:
        Faulty()[3]
    except ValueError:
        wrapper = ExceptionWrapper(where="in DataLoader worker process 1")
    with pytest.raises(ValueError) as theirs:
        wrapper.reraise()
    assert str(theirs.value).splitlines()[:2] == message.splitlines()[:2]


def test_the_iterator_goes_on_after_a_worker_exception():
    it = iter(DataLoader(Faulty(), batch_size=2, num_workers=2))
    seen = []
    for _ in range(4):
        try:
            seen.append(next(it).tolist())
        except (ValueError, KeyError) as e:
            seen.append(type(e).__name__)
    assert seen == [[0, 1], "ValueError", "KeyError", [6, 7]]
    with pytest.raises(StopIteration):
        next(it)


def test_exception_classes_that_cannot_come_back_become_runtime_errors():
    class Local(Exception):
        pass

    class NeedsTwo(Exception):
        def __init__(self, a, b):
            super().__init__(a, b)

    for exc, kind in ((Local("x"), RuntimeError), (NeedsTwo(1, 2), RuntimeError),
                      (KeyError("k"), KeyError)):
        class Raises(Dataset):
            def __len__(self):
                return 1

            def __getitem__(self, i, exc=exc):
                raise exc
        with pytest.raises(kind, match="Caught .* in DataLoader worker process 0"):
            list(DataLoader(Raises(), num_workers=1))


def _bad_init(worker_id):
    raise RuntimeError(f"init failed in {worker_id}")


def test_worker_init_fn_exception_comes_with_the_first_batch():
    with pytest.raises(RuntimeError, match="init failed in 0"):
        list(DataLoader(TensorDataset(np.arange(4)), num_workers=1, worker_init_fn=_bad_init))


def test_no_workers_after_break_exception_or_garbage_collection():
    ds = TensorDataset(np.arange(40.0))
    for batch in DataLoader(ds, batch_size=2, num_workers=2):
        assert len(_workers()) == 2
        break
    assert _workers() == []
    with pytest.raises(ZeroDivisionError):
        for batch in DataLoader(ds, batch_size=2, num_workers=2):
            1 / 0
    assert _workers() == []
    with pytest.raises(ValueError):
        for batch in DataLoader(Faulty(), num_workers=2):
            pass
    assert _workers() == []                     # the exception above is still alive here
    it = iter(DataLoader(ds, batch_size=2, num_workers=2))
    next(it)
    assert len(_workers()) == 2
    del it
    gc.collect()
    assert _workers() == []
    assert len(list(DataLoader(ds, batch_size=2, num_workers=2))) == 20
    assert _workers() == []


def test_persistent_workers_live_across_epochs_and_go_with_the_loader():
    ds = TensorDataset(np.arange(10))
    loader = DataLoader(ds, batch_size=3, num_workers=2, persistent_workers=True)
    expected = [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert [b[0].tolist() for b in loader] == expected
    pids = sorted(p.pid for p in _workers())
    assert len(pids) == 2
    for batch in loader:            # break mid-epoch: what is in flight must not leak
        break                       # into the next epoch
    assert [b[0].tolist() for b in loader] == expected
    assert sorted(p.pid for p in _workers()) == pids
    del loader, batch
    gc.collect()
    assert _workers() == []


def test_persistent_workers_restart_an_iterable_dataset():
    split = _split_stream(IterableDataset, get_worker_info)[0]
    loader = DataLoader(split, batch_size=2, num_workers=2, persistent_workers=True)
    first = [b.tolist() for b in loader]
    assert [b.tolist() for b in loader] == first
    assert sorted(sum(first, [])) == list(range(11))
    del loader


class Slow(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        time.sleep(0.5 if i == 0 else 0)
        return i


def test_timeout_is_torchs_runtime_error():
    with pytest.raises(RuntimeError, match=r"^DataLoader timed out after 0.1 seconds$"):
        list(DataLoader(Slow(), num_workers=1, timeout=0.1))
    assert _workers() == []
    assert [b.tolist() for b in DataLoader(Slow(), num_workers=1, timeout=30)] == \
        [[0], [1], [2], [3]]


class Dies(Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == 2:
            os._exit(3)
        return i


def test_a_worker_that_dies_is_an_error():
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited "
                                           r"unexpectedly"):
        list(DataLoader(Dies(), num_workers=1))


def test_spawn_context_and_pin_memory_warning():
    ds = TensorDataset(np.arange(6.0))
    expected = _plain(DataLoader(ds, batch_size=4))
    with pytest.warns(UserWarning, match="'pin_memory' argument is set as true"):
        got = _plain(DataLoader(ds, batch_size=4, num_workers=1, pin_memory=True,
                                multiprocessing_context="spawn"))
    assert got == expected


def test_pytorch_examples_mnist_block_runs_with_workers():
    """pytorch/examples' MNIST data block with the imports swapped."""
    from minigrad.data import datasets, transforms
    root = os.environ.get("MINIGRAD_DATA")
    try:
        datasets.MNIST(root, train=False, download=False)
    except datasets.DatasetError:
        pytest.skip("real MNIST not available (set MINIGRAD_DATA to the IDX files)")
    transform = transforms.Compose([transforms.ToTensor(),
                                    transforms.Normalize((0.1307,), (0.3081,))])
    dataset2 = datasets.MNIST(root, train=False, download=False, transform=transform)
    kwargs = {"batch_size": 64, "shuffle": True}
    with pytest.warns(UserWarning, match="pin_memory"):
        loader = DataLoader(dataset2, num_workers=1, pin_memory=True,
                            generator=mg.Generator().manual_seed(1), **kwargs)
        batches = []
        for x, y in loader:
            batches.append((x.numpy(), y.numpy()))
            if len(batches) == 3:
                break
    same = DataLoader(dataset2, generator=mg.Generator().manual_seed(1), **kwargs)
    for (x, y), (x0, y0) in zip(batches, same):
        assert x.shape == (64, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
        np.testing.assert_array_equal(x, x0.numpy())
        np.testing.assert_array_equal(y, y0.numpy())
