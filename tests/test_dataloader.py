"""minigrad.utils.data in one process: datasets, samplers, collate and the DataLoader's
arguments, against torch.utils.data where torch has the same thing. (Worker processes:
tests/test_dataloader_workers.py.)"""
import collections

import numpy as np
import pytest

import minigrad as mg
import minigrad.utils.data as mdata
from minigrad.utils.data import (BatchSampler, ConcatDataset, DataLoader, Dataset,
                                 DistributedSampler, IterableDataset, RandomSampler, Sampler,
                                 SequentialSampler, Subset, SubsetRandomSampler, TensorDataset,
                                 WeightedRandomSampler, default_collate, default_convert,
                                 random_split)

Point = collections.namedtuple("Point", "x y")


def _plain(obj):
    """A minigrad or torch result as plain Python/NumPy, with tensors as (dtype, array)."""
    name = type(obj).__module__.split(".")[0]
    if name in ("minigrad", "torch") and hasattr(obj, "dtype") and hasattr(obj, "shape"):
        dtype = str(obj.dtype).split(".")[-1]
        return ("tensor", dtype, obj.detach().cpu().numpy().tolist() if name == "torch"
                else obj.numpy().tolist())
    if isinstance(obj, np.ndarray):
        return ("ndarray", obj.dtype.str, obj.tolist())
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return (type(obj).__name__, tuple(_plain(o) for o in obj))
    if isinstance(obj, dict):
        return (type(obj).__name__, {k: _plain(v) for k, v in obj.items()})
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__, [_plain(o) for o in obj])
    return obj


# ------------------------------------------------------------------ collate
def _collate_cases():
    return [
        [1, 2, 3],
        [1.5, 2.0],
        [True, False],
        [np.float32(1.5), np.float32(2.5)],
        [np.int32(3), np.int32(4)],
        [np.arange(3, dtype=np.float32), np.ones(3, np.float32)],
        [np.arange(4).reshape(2, 2), np.zeros((2, 2), np.int64)],
        ["a", "b"],
        [b"x", b"y"],
        [{"a": 1, "b": 2.0}, {"a": 3, "b": 4.0}],
        [Point(1, 2.0), Point(3, 4.0)],
        [(1, 2.0), (3, 4.0)],
        [[1, 2], [3, 4]],
        [{"img": np.ones((2, 2), np.float32), "meta": ("id", 7)},
         {"img": np.zeros((2, 2), np.float32), "meta": ("jd", 8)}],
    ]


@pytest.mark.parametrize("case", range(len(_collate_cases())))
def test_default_collate_matches_torch(torch, case):
    batch = _collate_cases()[case]
    ours = default_collate(batch)
    theirs = torch.utils.data.default_collate(batch)
    assert _plain(ours) == _plain(theirs)


def test_default_collate_of_tensors_and_tuples_gives_a_list(torch):
    samples = [(mg.tensor([1.0, 2.0]), 3), (mg.tensor([4.0, 5.0]), 6)]
    out = default_collate(samples)
    assert isinstance(out, list) and out[0].shape == (2, 2) and out[0].dtype == mg.float32
    assert out[1].dtype == mg.int64 and out[1].tolist() == [3, 6]
    t = torch.utils.data.default_collate([(torch.tensor([1.0, 2.0]), 3),
                                          (torch.tensor([4.0, 5.0]), 6)])
    assert _plain(out) == _plain(t)


@pytest.mark.parametrize("data", [
    np.arange(3), (np.ones(2), 1, "s"), {"a": np.float32(2.0), "b": [np.arange(2)]},
    Point(np.arange(2), 3), 5, "text", np.array(["a", "b"])])
def test_default_convert_matches_torch(torch, data):
    assert _plain(default_convert(data)) == _plain(torch.utils.data.default_convert(data))


def test_collate_errors_are_torchs_kinds(torch):
    for bad, kind in (([[1, 2], [3]], RuntimeError), ([object(), object()], TypeError),
                      ([np.array(["a"]), np.array(["b"])], TypeError),
                      ([np.zeros(2), np.zeros(3)], RuntimeError)):
        with pytest.raises(kind):
            torch.utils.data.default_collate(bad)
        with pytest.raises(kind):
            default_collate(bad)
    with pytest.raises(RuntimeError, match=r"stack expects each tensor to be equal size, "
                                           r"but got \[2\] at entry 0 and \[3\] at entry 1"):
        default_collate([mg.zeros(2), mg.zeros(3)])


# ------------------------------------------------------------------ samplers
def test_sequential_and_batch_samplers_match_torch(torch):
    T = torch.utils.data
    for n, size, drop in ((10, 3, False), (10, 3, True), (9, 3, True), (1, 4, False)):
        ours = BatchSampler(SequentialSampler(range(n)), size, drop)
        theirs = T.BatchSampler(T.SequentialSampler(range(n)), size, drop)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)
        assert all(isinstance(b, list) for b in ours)
    assert list(BatchSampler([5, 3, 1, 0], 3, False)) == [[5, 3, 1], [0]]   # any iterable
    for args in ((SequentialSampler(range(3)), 0, False), (SequentialSampler(range(3)), 2, 1),
                 (SequentialSampler(range(3)), True, False)):
        with pytest.raises(ValueError):
            T.BatchSampler(*args)
        with pytest.raises(ValueError):
            BatchSampler(*args)


def test_random_sampler_draws_permutations_and_follows_its_generator():
    ds = range(10)
    a = list(RandomSampler(ds, generator=mg.Generator().manual_seed(3)))
    b = list(RandomSampler(ds, generator=mg.Generator().manual_seed(3)))
    assert a == b and sorted(a) == list(range(10)) and a != list(range(10))
    g = mg.Generator().manual_seed(3)
    sampler = RandomSampler(ds, generator=g)
    assert list(sampler) == a and list(sampler) != a        # the generator moves on
    mg.manual_seed(5)
    c = list(RandomSampler(ds))
    mg.manual_seed(5)
    assert list(RandomSampler(ds)) == c                      # global generator
    long = list(RandomSampler(ds, num_samples=25, generator=g))
    assert len(long) == 25 and sorted(long[:10]) == sorted(long[10:20]) == list(range(10))
    assert len(set(long[20:])) == 5
    rep = RandomSampler(ds, replacement=True, num_samples=1000, generator=g)
    drawn = list(rep)
    assert len(rep) == len(drawn) == 1000 and set(drawn) == set(range(10))


def test_samplers_and_random_split_are_built_on_randperm():
    """torch builds RandomSampler, SubsetRandomSampler and random_split on randperm; ours
    give mg.randperm's permutation for the same generator state (a check of our own
    structure: our randperm's numbers are not torch's)."""
    def perm(n):
        return mg.randperm(n, generator=mg.Generator().manual_seed(7)).tolist()
    assert list(RandomSampler(range(10), generator=mg.Generator().manual_seed(7))) == perm(10)
    indices = [5, 6, 7, 8]
    assert list(SubsetRandomSampler(indices, generator=mg.Generator().manual_seed(7))) == \
        [indices[i] for i in perm(4)]
    a, b = random_split(range(9), [4, 5], generator=mg.Generator().manual_seed(7))
    assert list(a) + list(b) == perm(9)


def test_random_sampler_argument_errors_match_torch(torch):
    T = torch.utils.data
    for kwargs, kind in (({"replacement": 1}, TypeError), ({"num_samples": 0}, ValueError),
                         ({"num_samples": 2.5}, ValueError)):
        with pytest.raises(kind):
            T.RandomSampler(range(3), **kwargs)
        with pytest.raises(kind):
            RandomSampler(range(3), **kwargs)


def test_batches_cut_from_arrays_equal_batches_from_the_index_stream():
    """BatchSampler cuts our own samplers' index arrays directly; the batches (and the
    draws made for them) must be what iterating the sampler index by index gives."""
    class Stepwise(RandomSampler):        # overriding __iter__ turns the array path off
        def __iter__(self):
            yield from super().__iter__()

    for n, kwargs, size, drop in ((23, {}, 4, False), (23, {}, 4, True), (20, {}, 5, False),
                                  (10, {"num_samples": 27}, 4, False),
                                  (10, {"replacement": True, "num_samples": 13}, 5, True)):
        fast = BatchSampler(RandomSampler(range(n), generator=mg.Generator().manual_seed(1),
                                          **kwargs), size, drop)
        slow = BatchSampler(Stepwise(range(n), generator=mg.Generator().manual_seed(1),
                                     **kwargs), size, drop)
        assert list(fast) == list(slow) and list(fast) == list(slow)     # two passes
        assert len(fast) == len(list(slow))
    fast = BatchSampler(SequentialSampler(range(7)), 3, False)
    assert list(fast) == [[0, 1, 2], [3, 4, 5], [6]]


def test_subset_random_sampler():
    indices = [4, 8, 15, 16, 23, 42]
    s = SubsetRandomSampler(indices, generator=mg.Generator().manual_seed(0))
    out = list(s)
    assert sorted(out) == indices and len(s) == 6 and isinstance(out[0], int)


def test_weighted_random_sampler(torch):
    g = mg.Generator().manual_seed(0)
    s = WeightedRandomSampler([0.0, 1.0, 3.0], 40000, generator=g)
    drawn = np.bincount(list(s), minlength=3)
    assert len(s) == 40000 and drawn[0] == 0
    assert drawn[2] / drawn.sum() == pytest.approx(0.75, abs=0.01)
    once = list(WeightedRandomSampler([1.0, 0.0, 2.0, 5.0], 3, replacement=False, generator=g))
    assert sorted(once) == [0, 2, 3]
    tw = torch.utils.data.WeightedRandomSampler([1.0, 0.0], 2, replacement=False)
    assert sorted(WeightedRandomSampler([1.0, 0.0], 2, replacement=False)) == sorted(tw) \
        == [0, 1]                               # zero weights last, not an error
    first = [next(iter(WeightedRandomSampler([1.0, 3.0], 2, replacement=False,
                                              generator=g))) for _ in range(4000)]
    assert np.mean(first) == pytest.approx(0.75, abs=0.03)  # P(first draw is 1) = 3/4
    assert s.weights.dtype == mg.float64                   # torch: double
    T = torch.utils.data
    for args, kind in ((([1.0, 2.0], 0), ValueError), (([1.0, 2.0], 2, 1), ValueError),
                       (([[1.0], [2.0]], 2), ValueError)):
        with pytest.raises(kind):
            T.WeightedRandomSampler(*args)
        with pytest.raises(kind):
            WeightedRandomSampler(*args)
    for weights, n, replacement in (([1.0, -1.0], 1, True), ([0.0, 0.0], 1, True),
                                    ([1.0, 0.0], 3, False), ([1.0, float("nan")], 1, True)):
        with pytest.raises(RuntimeError):
            list(T.WeightedRandomSampler(weights, n, replacement))
        with pytest.raises(RuntimeError):
            list(WeightedRandomSampler(weights, n, replacement))


def test_distributed_sampler_matches_torch_without_mpi(torch):
    """Given num_replicas and rank, no process group is needed (torch's, too)."""
    assert not mg.distributed.is_initialized()
    T = torch.utils.data
    for n, replicas, drop in ((10, 3, False), (10, 3, True), (3, 4, False), (12, 4, True)):
        for rank in range(replicas):
            ours = DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop)
            theirs = T.DistributedSampler(range(n), replicas, rank, shuffle=False,
                                          drop_last=drop)
            assert list(ours) == list(theirs) and len(ours) == len(theirs)
    shuffled = [list(DistributedSampler(range(10), 2, r, seed=4)) for r in (0, 1)]
    assert sorted(shuffled[0] + shuffled[1]) == list(range(10))
    assert isinstance(DistributedSampler(range(4), 2, 0), Sampler)
    assert mdata.DistributedSampler is mg.distributed.DistributedSampler
    from minigrad.utils.data.distributed import DistributedSampler as D
    assert D is DistributedSampler
    with pytest.raises(ValueError):
        T.DistributedSampler(range(4), 2, 2)
    with pytest.raises(ValueError):
        DistributedSampler(range(4), 2, 2)


# ------------------------------------------------------------------ datasets
def test_tensor_dataset_subset_concat_match_torch(torch):
    T = torch.utils.data
    x, y = np.arange(12.0).reshape(6, 2), np.arange(6)
    ours = TensorDataset(mg.tensor(x), mg.tensor(y))
    theirs = T.TensorDataset(torch.tensor(x), torch.tensor(y))
    assert len(ours) == len(theirs) and _plain(ours[2]) == _plain(theirs[2])
    assert isinstance(ours[2], tuple) and ours.tensors[0].shape == (6, 2)
    sub, tsub = Subset(ours, [4, 0, 2]), T.Subset(theirs, [4, 0, 2])
    assert len(sub) == 3 and _plain(sub[0]) == _plain(tsub[0])
    assert _plain(sub.__getitems__([0, 2])) == _plain(tsub.__getitems__([0, 2]))
    cat, tcat = ConcatDataset([ours, sub]), T.ConcatDataset([theirs, tsub])
    assert cat.cumulative_sizes == tcat.cumulative_sizes == [6, 9]
    for i in (0, 5, 6, 8, -1, -9):
        assert _plain(cat[i]) == _plain(tcat[i])
    for bad, kind in ((-10, ValueError), (9, IndexError)):
        with pytest.raises(kind):
            tcat[bad]
        with pytest.raises(kind):
            cat[bad]
    assert len(ours + sub) == 9 and isinstance(ours + sub, ConcatDataset)
    with pytest.raises(AssertionError):
        T.TensorDataset(torch.zeros(3), torch.zeros(4))
    with pytest.raises(AssertionError):        # torch's kind (and ValueError, as before)
        TensorDataset(mg.zeros(3), mg.zeros(4))
    with pytest.raises(AssertionError):
        ConcatDataset([])


def test_subset_overriding_only_getitem_is_refused(torch):
    for base in (Subset, torch.utils.data.Subset):
        class Doubled(base):
            def __getitem__(self, i):
                return 2 * super().__getitem__(i)
        with pytest.raises(NotImplementedError, match="overrides __getitem__ but not "
                                                      "__getitems__"):
            Doubled([1, 2], [0])


def test_iterable_and_chain_datasets(torch):
    class Count(IterableDataset):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(self.n))

        def __len__(self):
            return self.n

    chained = Count(3) + Count(2)
    assert list(chained) == [0, 1, 2, 0, 1] and len(chained) == 5
    with pytest.raises(AssertionError):
        ConcatDataset([Count(2)])
    with pytest.raises(NotImplementedError):
        Dataset()[0]
    with pytest.raises(TypeError):
        len(Dataset())          # no default __len__, as in torch


@pytest.mark.parametrize("n, lengths", [(10, [0.3, 0.3, 0.4]), (11, [0.5, 0.5]),
                                        (7, [0.1, 0.2, 0.7]), (5, [0.2, 0.2, 0.2, 0.2, 0.2]),
                                        (10, [3, 7]), (100, [1 / 3, 1 / 3, 1 / 3])])
def test_random_split_lengths_match_torch(torch, n, lengths):
    ours = random_split(range(n), lengths, generator=mg.Generator().manual_seed(0))
    theirs = torch.utils.data.random_split(range(n), lengths,
                                           generator=torch.Generator().manual_seed(0))
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    assert all(isinstance(s, Subset) for s in ours)
    assert sorted(i for s in ours for i in s) == list(range(n))


def test_random_split_generator_warnings_and_errors(torch):
    a = [list(s) for s in random_split(range(9), [4, 5], generator=mg.Generator().manual_seed(1))]
    b = [list(s) for s in random_split(range(9), [4, 5], generator=mg.Generator().manual_seed(1))]
    assert a == b
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        random_split(range(2), [1.0, 0.0])
    for lengths in ([3, 3], [1.5, -0.5]):
        with pytest.raises(ValueError):
            torch.utils.data.random_split(range(5), lengths)
        with pytest.raises(ValueError):
            random_split(range(5), lengths)


# ------------------------------------------------------------------ DataLoader
class _Dicts(Dataset):
    def __len__(self):
        return 7

    def __getitem__(self, i):
        return {"x": np.array([i, i * i], np.float32), "label": i % 3, "name": f"s{i}"}


def _torch_dicts(torch):
    class Dicts(torch.utils.data.Dataset):
        __len__ = _Dicts.__len__
        __getitem__ = _Dicts.__getitem__
    return Dicts()


@pytest.mark.parametrize("kwargs", [{}, {"batch_size": 3}, {"batch_size": 3, "drop_last": True},
                                    {"batch_size": None}])
def test_batches_of_a_generic_dataset_match_torch(torch, kwargs):
    ours = [_plain(b) for b in DataLoader(_Dicts(), **kwargs)]
    theirs = [_plain(b) for b in torch.utils.data.DataLoader(_torch_dicts(torch), **kwargs)]
    assert ours == theirs


def test_batch_sampler_and_custom_collate(torch):
    batches = [[0, 5], [3], [6, 1, 2]]
    kw = {"batch_sampler": batches, "collate_fn": lambda samples: [s["name"] for s in samples]}
    ours = list(DataLoader(_Dicts(), **kw))
    assert ours == list(torch.utils.data.DataLoader(_torch_dicts(torch), **kw))
    assert ours == [["s0", "s5"], ["s3"], ["s6", "s1", "s2"]]
    assert len(DataLoader(_Dicts(), batch_sampler=batches)) == 3


def _ctor_cases():
    class Stream(IterableDataset):
        def __iter__(self):
            return iter(range(3))
    ds = TensorDataset(np.arange(5.0))
    it = Stream()
    return [
        (ds, {"sampler": SequentialSampler(ds), "shuffle": True}),
        (ds, {"batch_sampler": [[0]], "batch_size": 2}),
        (ds, {"batch_sampler": [[0]], "shuffle": True}),
        (ds, {"batch_sampler": [[0]], "sampler": [0]}),
        (ds, {"batch_sampler": [[0]], "drop_last": True}),
        (ds, {"batch_size": None, "drop_last": True}),
        (ds, {"batch_size": 0}),
        (ds, {"batch_size": -1}),
        (ds, {"num_workers": -1}),
        (ds, {"timeout": -1}),
        (ds, {"prefetch_factor": 2}),
        (ds, {"num_workers": 1, "prefetch_factor": -1}),
        (ds, {"persistent_workers": True}),
        (ds, {"multiprocessing_context": "fork"}),
        (ds, {"num_workers": 1, "multiprocessing_context": "no-such-method"}),
        (ds, {"num_workers": 1, "multiprocessing_context": 3}),
        (it, {"shuffle": True}),
        (it, {"sampler": [0]}),
        (it, {"batch_sampler": [[0]]}),
    ]


@pytest.mark.parametrize("case", range(len(_ctor_cases())))
def test_argument_errors_match_torch(torch, case):
    ds, kwargs = _ctor_cases()[case]
    if isinstance(ds, IterableDataset):
        class TStream(torch.utils.data.IterableDataset):
            def __iter__(self):
                return iter(range(3))
        tds = TStream()
    else:
        tds = torch.utils.data.TensorDataset(torch.arange(5.0))
    tkwargs = {k: (torch.utils.data.SequentialSampler(tds) if isinstance(v, Sampler) else v)
               for k, v in kwargs.items()}
    with pytest.raises(Exception) as theirs:
        torch.utils.data.DataLoader(tds, **tkwargs)
    with pytest.raises(theirs.type):
        DataLoader(ds, **kwargs)


def test_len_matches_torch(torch):
    T = torch.utils.data
    for n in (1, 9, 10, 11):
        for kw in ({"batch_size": 1}, {"batch_size": 3}, {"batch_size": 3, "drop_last": True},
                   {"batch_size": None}, {"batch_size": 4, "shuffle": True},
                   {"batch_sampler": BatchSampler(range(n), 4, False)}):
            tkw = dict(kw)
            if "batch_sampler" in kw:
                tkw["batch_sampler"] = T.BatchSampler(range(n), 4, False)
            ours = DataLoader(TensorDataset(np.arange(float(n))), **kw)
            theirs = T.DataLoader(T.TensorDataset(torch.arange(float(n))), **tkw)
            assert len(ours) == len(theirs) == len(list(ours))


class _Stream(IterableDataset):
    def __init__(self, n, length=None):
        self.n, self.length = n, length

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        if self.length is None:
            raise TypeError("no len")
        return self.length


def test_iterable_dataset_in_one_process(torch):
    class TStream(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(range(7))
    for kw in ({}, {"batch_size": 3}, {"batch_size": 3, "drop_last": True},
               {"batch_size": None}):
        ours = [_plain(b) for b in DataLoader(_Stream(7), **kw)]
        assert ours == [_plain(b) for b in torch.utils.data.DataLoader(TStream(), **kw)]
    assert len(DataLoader(_Stream(7, 7), batch_size=3)) == 3
    assert len(DataLoader(_Stream(7, 7), batch_size=3, drop_last=True)) == 2
    with pytest.raises(TypeError):
        len(DataLoader(_Stream(7)))
    loader = DataLoader(_Stream(7, 4), batch_size=None)
    assert len(loader) == 4
    with pytest.warns(UserWarning, match="was reported to be 4"):
        assert len(list(loader)) == 7


def test_attributes_are_frozen_after_init(torch):
    for name in ("batch_size", "sampler", "batch_sampler", "drop_last", "dataset",
                 "persistent_workers"):
        for loader in (DataLoader(TensorDataset(np.zeros(3))),
                       torch.utils.data.DataLoader(torch.utils.data.TensorDataset(
                           torch.zeros(3)))):
            with pytest.raises(ValueError, match=f"{name} attribute should not be set"):
                setattr(loader, name, None)


def test_timeout_needs_workers_as_in_torch(torch):
    with pytest.raises(AssertionError):
        iter(torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(3)),
                                         timeout=1))
    with pytest.raises(AssertionError, match="timeout"):
        iter(DataLoader(TensorDataset(np.zeros(3)), timeout=1))


def test_pin_memory_warns_without_an_accelerator(torch):
    if mg.cuda.is_available():
        pytest.skip("an accelerator is present: torch does not warn")
    with pytest.warns(UserWarning) as theirs:
        list(torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(3)),
                                         pin_memory=True))
    with pytest.warns(UserWarning) as ours:
        batches = list(DataLoader(TensorDataset(np.zeros(3)), pin_memory=True))
    assert len(batches) == 3
    assert str(ours[0].message) == str(theirs[0].message)


def test_generator_and_seed_make_the_order_reproducible():
    ds = TensorDataset(np.arange(20))

    def order(**kw):
        return [b[0].tolist() for b in DataLoader(ds, batch_size=6, shuffle=True, **kw)]

    assert order(seed=3) == order(seed=3) != order(seed=4)
    assert order(generator=mg.Generator().manual_seed(3)) == order(seed=3)
    loader = DataLoader(ds, batch_size=6, shuffle=True, seed=3)
    assert [b[0].tolist() for b in loader] != [b[0].tolist() for b in loader]   # reshuffles
    with pytest.raises(ValueError, match="seed or generator"):
        DataLoader(ds, seed=1, generator=mg.Generator())
    with pytest.raises(TypeError, match="minigrad.Generator"):
        DataLoader(ds, shuffle=True, generator=np.random.default_rng(0))


def test_each_iterator_draws_its_base_seed_from_the_generator():
    """As in torch, iter(loader) takes one draw from the loader's generator even without
    workers, so the order depends on the generator alone, not on num_workers."""
    g = mg.Generator().manual_seed(9)
    before = g.get_state().numpy().tobytes()
    iter(DataLoader(TensorDataset(np.arange(3)), generator=g))
    assert g.get_state().numpy().tobytes() != before


def test_array_datasets_take_the_batched_path_only_when_it_is_exact(monkeypatch):
    x, y = np.arange(40.0).reshape(20, 2), np.arange(20)
    ds = TensorDataset(x, y)
    fast = [_plain(b) for b in DataLoader(ds, batch_size=6, shuffle=True, seed=0)]
    slow = [_plain(b) for b in DataLoader(ds, batch_size=6, shuffle=True, seed=0,
                                          collate_fn=lambda s: default_collate(s))]
    assert fast == slow
    assert fast[0][0] == "list"                 # torch's type for a batch of tuples

    class Scaled(TensorDataset):               # a subclass with its own __getitem__ is
        def __getitem__(self, i):              # never bypassed
            a, b = super().__getitem__(i)
            return a * 10, b
    out = next(iter(DataLoader(Scaled(x, y), batch_size=3)))
    assert out[0].numpy().tolist() == (x[:3] * 10).tolist()

    class Listed(Dataset):                     # torch's __getitems__: a list of samples
        def __len__(self):
            return 5

        def __getitems__(self, indices):
            return [(i, float(i)) for i in indices]
    out = list(DataLoader(Listed(), batch_size=2))
    assert [b[0].tolist() for b in out] == [[0, 1], [2, 3], [4]]
    assert out[0][1].dtype == mg.float64

    sub = Subset(ds, [19, 3, 7, 0])
    monkeypatch.setattr(TensorDataset, "__getitem__",
                        lambda *a: pytest.fail("per-sample fetch on the batched path"))
    out = list(DataLoader(sub, batch_size=3))
    assert [b[1].tolist() for b in out] == [[19, 3, 7], [0]]


def test_worker_info_is_none_in_the_main_process():
    assert mdata.get_worker_info() is None


def test_package_paths():
    import minigrad.data
    import minigrad.utils
    assert mg.utils.data.DataLoader is minigrad.data.DataLoader is DataLoader
    from minigrad.data import datasets, transforms   # the pytorch/examples imports
    assert datasets.MNIST is minigrad.data.MNIST and transforms.ToTensor is not None
