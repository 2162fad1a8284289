"""The tensor API around the ops: legacy tensor types, new_* constructors, as_tensor and
NumPy subclasses (np.memmap), __format__, printing, the default dtype, grad modes,
Variable, once_differentiable, deterministic algorithms, detach_."""
import numpy as np
import pytest

import minigrad as mg


# ---------------------------------------------------------------- legacy tensor types

def test_legacy_types_as_constructors(torch):
    assert mg.FloatTensor(2, 3).shape == (2, 3) and mg.FloatTensor(2, 3).dtype == mg.float32
    assert mg.FloatTensor(mg.Size([2, 3])).shape == (2, 3)
    for name, data in [("FloatTensor", [1, 2]), ("LongTensor", [1.7, 2]),
                       ("BoolTensor", [1, 0]), ("DoubleTensor", [[1, 2]]),
                       ("IntTensor", [3]), ("ByteTensor", [1, 255]), ("FloatTensor", (2, 3)),
                       ("FloatTensor", np.ones(2))]:
        mine, ref = getattr(mg, name)(data), getattr(torch, name)(data)
        assert mine.dtype.name == str(ref.dtype)[6:] and mine.tolist() == ref.tolist()
    assert mg.FloatTensor().shape == (0,)
    x = mg.ones(2)
    assert mg.FloatTensor(x) is x
    with pytest.raises(TypeError, match="expected minigrad.int64"):
        mg.LongTensor(mg.ones(2))
    with pytest.raises(RuntimeError, match="negative dimension -1"):
        mg.FloatTensor(-1)


def test_legacy_types_for_isinstance_and_type():
    x = mg.ones(2)
    assert isinstance(x, mg.FloatTensor) and not isinstance(x, mg.DoubleTensor)
    assert isinstance(x.long(), mg.LongTensor) and isinstance(x.bool(), mg.BoolTensor)
    assert not isinstance(np.ones(2), mg.FloatTensor) and not issubclass(mg.FloatTensor, mg.Tensor)
    y = x.type(mg.LongTensor)
    assert y.dtype == mg.int64 and y.type() == "minigrad.LongTensor"
    assert mg.FloatTensor.dtype == mg.float32 and repr(mg.IntTensor) == "<class 'minigrad.IntTensor'>"


# ---------------------------------------------------------------- new_* and as_tensor

def test_new_constructors(torch):
    x, t = mg.ones(2, 3, requires_grad=True), torch.ones(2, 3, requires_grad=True)
    for call in [lambda v: v.new_zeros(2), lambda v: v.new_zeros(2, 3), lambda v: v.new_ones((2, 3),
                 dtype=v.int() .dtype), lambda v: v.new_full((2,), 2.5),
                 lambda v: v.new_tensor([1, 2]), lambda v: v.new_empty(()),
                 lambda v: v.new_empty([2, 3]), lambda v: v.long().new_full((2,), 2.5)]:
        mine, ref = call(x), call(t)
        assert mine.shape == tuple(ref.shape) and mine.dtype.name == str(ref.dtype)[6:]
        assert mine.requires_grad == ref.requires_grad is False
        if "empty" not in str(call.__code__.co_names):
            assert mine.tolist() == ref.tolist()
    assert x.new_tensor([1, 2], requires_grad=True).requires_grad
    assert x.new_tensor(mg.ones(2, dtype=mg.int64)).dtype == mg.float32
    with pytest.raises(TypeError, match="must be tuple of ints, not int"):
        x.new_full(2, 1)


def test_as_tensor_shares_memory(torch):
    a = np.zeros(3)
    t = mg.as_tensor(a)
    a[0] = 5
    assert t.dtype == mg.float64 and t[0].item() == 5
    assert mg.as_tensor(a, dtype=mg.float32).dtype == mg.float32
    c = mg.as_tensor(a, dtype=mg.float32)
    a[1] = 7
    assert c[1].item() == 0   # (a conversion copies)
    x = mg.ones(2)
    assert mg.as_tensor(x) is x and mg.as_tensor(x, dtype=mg.float64).dtype == mg.float64
    assert mg.as_tensor([1, 2]).dtype == mg.int64 and mg.as_tensor(2.5).dtype == mg.float32


def test_numpy_subclasses_are_accepted_at_the_boundary(tmp_path):
    """The defect: a memmap slice failed later with 'no minigrad backend for arrays of
    type memmap' (nanoGPT reads its token files this way)."""
    path = tmp_path / "tokens.bin"
    np.arange(100, dtype=np.uint16).tofile(path)
    data = np.memmap(path, dtype=np.uint16, mode="r")
    x = mg.from_numpy(data[10:20].astype(np.int64))
    assert type(x.array) is np.ndarray and (x + 1).tolist() == list(range(11, 21))
    with pytest.raises(TypeError, match="unsupported data type uint16"):
        mg.from_numpy(data[:4])   # (the dtype, not the subclass, is what minigrad lacks)
    other = tmp_path / "other.bin"
    np.zeros(4, dtype=np.int16).tofile(other)
    writable = np.memmap(other, dtype=np.int16, mode="r+", shape=(4,))
    z = mg.from_numpy(writable)
    writable[0] = 42
    assert z[0].item() == 42   # (the same memory)
    assert mg.tensor(data[:3].astype(np.int64)).tolist() == [0, 1, 2]
    assert mg.as_tensor(np.asmatrix(np.ones((2, 2)))).shape == (2, 2)
    assert (mg.ones(3, dtype=mg.int64) + data[:3].astype(np.int64)).tolist() == [1, 2, 3]


# ---------------------------------------------------------------- formatting

def test_format_of_a_zero_dim_tensor(torch):
    assert f"{mg.tensor(1.23456):.4f}" == f"{torch.tensor(1.23456):.4f}" == "1.2346"
    assert f"{mg.tensor(3):>4}" == f"{torch.tensor(3):>4}"
    assert f"{mg.ones(2)}" == str(mg.ones(2))
    with pytest.raises(TypeError, match="unsupported format string"):
        f"{mg.ones(2):.4f}"


@pytest.mark.parametrize("data", [[1.0, 2.0], [0.12345, 1.0], [1e-5, 1.0], [1e9, 1.0],
                                  [[-1.25, 2.5], [3.75, 0.001]], 2.5, [float("nan"), 1.5],
                                  list(range(5)), [float("nan"), 1.0, float("inf")],
                                  [float("inf"), 100.0], [-1.0, float("nan")], [0.0, float("nan")],
                                  [1.5, -float("inf")], [float("nan"), 10.0, 2.0]])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_repr_matches_torch(torch, data, dtype):
    a = np.array(data, dtype=dtype)
    assert repr(mg.tensor(a)).replace("minigrad", "torch") == repr(torch.tensor(a))


@pytest.mark.parametrize("make", [
    lambda lib: lib.tensor([True, False]), lambda lib: lib.tensor(True),
    lambda lib: lib.zeros(0), lambda lib: lib.zeros(2, 0, dtype=lib.float64),
    lambda lib: lib.zeros(0, dtype=lib.int64), lambda lib: lib.zeros(0, 3, dtype=lib.bool),
    lambda lib: lib.zeros(0, requires_grad=True), lambda lib: lib.tensor([1, 2], dtype=lib.int32),
    lambda lib: lib.tensor([[1, 2], [3, 4]]), lambda lib: lib.ones(2, dtype=lib.float64) * 2])
def test_repr_suffixes_match_torch(torch, make):
    assert repr(make(mg)).replace("minigrad", "torch") == repr(make(torch))


def test_set_printoptions(torch):
    a = np.array([0.123456789, 12.5, 3.0])
    try:
        for kw in [dict(precision=2), dict(sci_mode=True), dict(precision=6, sci_mode=False),
                   dict(profile="short"), dict(profile="default")]:
            mg.set_printoptions(**kw)
            torch.set_printoptions(**kw)
            assert repr(mg.tensor(a)).replace("minigrad", "torch") == repr(torch.tensor(a))
        mg.set_printoptions(threshold=5, edgeitems=2)
        assert "..." in repr(mg.arange(10.0))
        mg.set_printoptions(profile="full")
        assert "..." not in repr(mg.arange(2000.0))
        mg.set_printoptions(linewidth=40)
        assert max(map(len, repr(mg.arange(30.0)).splitlines())) <= 40
        with pytest.raises(ValueError, match="profile"):
            mg.set_printoptions(profile="long")
    finally:
        mg.set_printoptions(profile="default")
        torch.set_printoptions(profile="default")


# ---------------------------------------------------------------- dtypes and modes

def test_default_dtype(torch):
    assert mg.get_default_dtype() == mg.float32
    try:
        mg.set_default_dtype(mg.float64)
        assert mg.tensor([1.5]).dtype == mg.float64 and mg.zeros(2).dtype == mg.float64
        assert mg.randn(2).dtype == mg.float64 and mg.arange(0.0, 1.0, 0.5).dtype == mg.float64
        assert (mg.tensor([1]) / mg.tensor([2])).dtype == mg.float64
        assert mg.get_default_dtype() == mg.float64
        with pytest.raises(TypeError, match="floating-point"):
            mg.set_default_dtype(mg.int64)
    finally:
        mg.set_default_dtype(mg.float32)
    assert mg.tensor([1.5]).dtype == mg.float32


@pytest.mark.parametrize("mode", ["no_grad", "inference_mode", "enable_grad"])
def test_grad_modes_decorate_with_and_without_parentheses(mode):
    ctx = getattr(mg, mode)
    x = mg.ones(2, requires_grad=True)

    @ctx
    def bare(v):
        return v * 2

    @ctx()
    def called(v):
        return v * 2

    want = mode == "enable_grad"
    with mg.no_grad():
        assert bare(x).requires_grad == want and called(x).requires_grad == want
    assert bare.__name__ == "bare"
    with ctx():
        assert (x * 2).requires_grad == want
    assert (x * 2).requires_grad


def test_inference_mode_false_records():
    x = mg.ones(2, requires_grad=True)
    with mg.inference_mode(False):
        assert (x * 2).requires_grad
    with mg.inference_mode():
        assert not (x * 2).requires_grad


def test_variable_is_a_tensor():
    from minigrad.autograd import Variable
    x = mg.ones(2)
    v = Variable(x, requires_grad=True)
    assert type(v) is mg.Tensor and v.requires_grad and v.is_leaf
    v.array[0] = 3   # (shares memory)
    assert x[0].item() == 3
    assert isinstance(mg.ones(1), Variable) and isinstance(Variable(mg.ones(1)), mg.Tensor)
    with pytest.raises(TypeError, match="has to be a tensor"):
        Variable([1, 2])


def test_once_differentiable(torch):
    from minigrad.autograd.function import once_differentiable

    class Square(mg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            assert not mg.is_grad_enabled()
            return g * 2 * x

    x = mg.tensor([1.0, 3.0], requires_grad=True)
    Square.apply(x).sum().backward()
    assert x.grad.tolist() == [2.0, 6.0]
    y = mg.tensor([1.0, 3.0], requires_grad=True)
    (gx,) = mg.autograd.grad(Square.apply(y).sum(), [y], create_graph=True)
    assert gx.tolist() == [2.0, 6.0] and not gx.requires_grad   # (as torch: nothing to record)
    v = mg.ones(2, requires_grad=True)
    (gx,) = mg.autograd.grad(Square.apply(y), [y], grad_outputs=v, create_graph=True)
    assert gx.requires_grad
    with pytest.raises(RuntimeError, match="marked with @once_differentiable"):
        gx.sum().backward()


def test_deterministic_algorithms():
    assert not mg.are_deterministic_algorithms_enabled()
    try:
        mg.use_deterministic_algorithms(True)
        assert mg.are_deterministic_algorithms_enabled()
        assert not mg.is_deterministic_algorithms_warn_only_enabled()
        x = mg.ones(3, requires_grad=True)
        x[mg.tensor([0, 0, 2])].sum().backward()   # (CPU: deterministic, allowed)
        assert x.grad.tolist() == [2.0, 0.0, 1.0]
        mg.use_deterministic_algorithms(True, warn_only=True)
        assert mg.is_deterministic_algorithms_warn_only_enabled()
    finally:
        mg.use_deterministic_algorithms(False)
    assert "deterministic" in mg.use_deterministic_algorithms.__doc__


def test_is_tensor():
    assert mg.is_tensor(mg.ones(1)) and mg.is_tensor(mg.nn.Parameter(mg.ones(1)))
    assert not mg.is_tensor(np.ones(1)) and not mg.is_tensor([1])


def test_detach_(torch):
    x = mg.ones(2, requires_grad=True)
    y = x * 2
    assert y.detach_() is y and y.is_leaf and not y.requires_grad
    with pytest.raises(RuntimeError, match="Can't detach views in-place"):
        (x * 2)[:1].detach_()
    w = mg.ones(2, requires_grad=True)
    assert mg.detach_(w) is w and not w.requires_grad


def test_to_and_cuda_take_torchs_arguments(torch):
    """The lines real scripts write: .to(device, non_blocking=True), .to(other),
    copy=True, memory formats, .cuda(i) (on a CPU-only machine, the CUDA error)."""
    for lib in (mg, torch):
        x = lib.ones(2, 3)
        other = lib.zeros(1, dtype=lib.float64)
        assert x.to("cpu", non_blocking=True) is x
        assert x.to(other).dtype == lib.float64
        assert x.to("cpu", lib.float64, True).dtype == lib.float64
        y = x.to("cpu", copy=True)
        assert y is not x and y.tolist() == x.tolist()
        assert x.to(memory_format=lib.contiguous_format) is x
        assert x.contiguous(memory_format=lib.contiguous_format) is x
        assert x.cpu() is x
        net = lib.nn.Linear(2, 2).to("cpu", non_blocking=True)
        assert net.to(other).weight.dtype == lib.float64
    with pytest.raises(RuntimeError, match="channels_last"):
        mg.ones(1, 2, 3, 3).to(memory_format=mg.channels_last)
    if not mg.cuda.is_available():
        for call in (lambda: mg.ones(1).cuda(0), lambda: mg.ones(1).cuda("cuda:0"),
                     lambda: mg.ones(1).cuda(non_blocking=True),
                     lambda: mg.nn.Linear(1, 1).cuda(0)):
            with pytest.raises(RuntimeError, match="device 'cuda' is not available"):
                call()
