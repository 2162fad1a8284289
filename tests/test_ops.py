"""Forward values against NumPy, dtype rules, and the errors bad input gets."""
import subprocess
import sys

import numpy as np
import pytest

import minigrad as mg


def t(a, **kw):
    return mg.tensor(np.asarray(a), **kw)


# ------------------------------------------------------------------ creation and dtypes

def test_tensor_dtype_rules():
    assert mg.tensor([1.0, 2.0]).dtype == mg.float32
    assert mg.tensor(1.5).dtype == mg.float32
    assert mg.tensor([1, 2]).dtype == mg.int64
    assert mg.tensor([True]).dtype == mg.bool
    assert mg.tensor(np.zeros(2)).dtype == mg.float64
    assert mg.tensor(np.zeros(2, np.float32)).dtype == mg.float32
    # NumPy data keeps its dtype where minigrad has it, as torch.tensor does; else an error
    assert mg.tensor(np.zeros(2, np.int32)).dtype == mg.int32
    assert mg.tensor(np.zeros(2, np.uint8)).dtype == mg.uint8
    assert mg.tensor(np.zeros(2, np.float16)).dtype == mg.float16 == mg.half
    with pytest.raises(TypeError, match="unsupported data type uint16"):
        mg.tensor(np.zeros(2, np.uint16))
    with pytest.raises(TypeError, match="unsupported data type complex128"):
        mg.from_numpy(np.zeros(2, np.complex128))
    x = mg.tensor([1.7, -2.0])
    assert (x.int().dtype, x.long().dtype, x.half().dtype, x.bool().dtype, x.short().dtype) == \
        (mg.int32, mg.int64, mg.float16, mg.bool, mg.int16)
    assert x.type() == "minigrad.FloatTensor" and x.type(mg.float64).dtype == mg.float64
    np.testing.assert_array_equal(x.int().numpy(), [1, -2])   # truncation, as in torch
    assert mg.tensor([1, 2], dtype=mg.float64).dtype == mg.float64


def test_tensor_copies_but_from_numpy_shares():
    a = np.zeros(3)
    x, y = mg.tensor(a), mg.from_numpy(a)
    a[0] = 7
    assert x.numpy()[0] == 0 and y.numpy()[0] == 7


def test_factories():
    assert mg.zeros(2, 3).shape == (2, 3) and mg.zeros((2, 3)).dtype == mg.float32
    assert mg.ones(4, dtype=mg.float64).dtype == mg.float64
    assert mg.full((2,), 3).dtype == mg.int64 and mg.full((2,), 3.0).dtype == mg.float32
    assert mg.arange(5).dtype == mg.int64 and mg.arange(0, 1, 0.25).shape == (4,)
    assert mg.arange(0, 1, 0.25).dtype == mg.float32
    np.testing.assert_array_equal(mg.eye(3).numpy(), np.eye(3))
    assert mg.empty(2, 2).shape == (2, 2)
    x = mg.randn(3, 2, dtype=mg.float64)
    assert mg.zeros_like(x).dtype == mg.float64 and mg.ones_like(x).numpy().sum() == 6
    assert mg.rand(100).numpy().min() >= 0
    r = mg.randint(0, 3, (50,))
    assert r.dtype == mg.int64 and set(r.tolist()) <= {0, 1, 2}
    assert mg.zeros(2, requires_grad=True).requires_grad


def test_manual_seed_repeats():
    mg.manual_seed(3)
    a = mg.randn(5).numpy().copy()
    mg.manual_seed(3)
    np.testing.assert_array_equal(mg.randn(5).numpy(), a)


def test_tensor_attributes_and_methods():
    x = mg.randn(2, 3, 4)
    assert x.ndim == x.dim() == 3 and x.numel() == 24 and x.size() == (2, 3, 4) and x.size(1) == 3
    assert str(x.device) == "cpu" and x.device == "cpu" and x.device == mg.device("cpu")
    assert x.T.shape == (4, 3, 2)
    assert x.double().dtype == mg.float64 and x.double().float().dtype == mg.float32
    assert x.to(mg.float64).dtype == mg.float64 and x.cpu() is x and x.to("cpu") is x
    assert mg.tensor([[1.5]]).item() == 1.5
    assert mg.tensor([[1, 2]]).tolist() == [[1, 2]]
    assert x.is_leaf and not x.requires_grad and x.grad is None
    assert "tensor(" in repr(x) and "grad_fn=<MulBackward>" in repr(x.requires_grad_() * 2)


def test_numpy_of_a_tensor_that_requires_grad_is_an_error():
    with pytest.raises(RuntimeError, match="detach"):
        mg.randn(2, requires_grad=True).numpy()


def test_cuda_is_reported_unavailable_without_cupy():
    if mg.cuda.is_available():
        pytest.skip("CuPy and a GPU are present")
    with pytest.raises(RuntimeError, match="CuPy"):
        mg.randn(2).to("cuda")


# ------------------------------------------------------------------ forward values

UNARY = [("exp", np.exp), ("log", np.log), ("sqrt", np.sqrt), ("abs", np.abs),
         ("tanh", np.tanh), ("relu", lambda a: np.maximum(a, 0)), ("neg", np.negative),
         ("rsqrt", lambda a: 1 / np.sqrt(a)), ("sigmoid", lambda a: 1 / (1 + np.exp(-a)))]


@pytest.mark.parametrize("name,ref", UNARY, ids=[u[0] for u in UNARY])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unary_values(rng, name, ref, dtype):
    a = rng.uniform(0.1, 3, (4, 5)).astype(dtype)
    if name in ("abs", "relu", "neg", "tanh", "sigmoid", "exp"):
        a = a - 1.5
    got = getattr(mg, name)(t(a))
    assert got.dtype.np == dtype
    np.testing.assert_allclose(got.numpy(), ref(a.astype(np.float64)), rtol=2e-6 if dtype == np.float32 else 1e-14)


def test_sigmoid_does_not_overflow():
    out = mg.sigmoid(t(np.array([-1000.0, 0.0, 1000.0], np.float32)))
    np.testing.assert_array_equal(out.numpy(), [0.0, 0.5, 1.0])


def test_binary_values_with_broadcasting(rng):
    a, b = rng.standard_normal((3, 1, 4)), rng.uniform(0.5, 2, (2, 4))
    for op, ref in [(mg.add, np.add), (mg.sub, np.subtract), (mg.mul, np.multiply),
                    (mg.div, np.divide), (mg.maximum, np.maximum), (mg.minimum, np.minimum)]:
        np.testing.assert_allclose(op(t(a), t(b)).numpy(), ref(a, b))
    np.testing.assert_allclose((t(b) ** t(a)).numpy(), b ** a)
    np.testing.assert_allclose((2.0 - t(a) / 4).numpy(), 2.0 - a / 4)
    np.testing.assert_allclose(mg.where(t(a) > 0, t(a), t(b)).numpy(), np.where(a > 0, a, b))
    np.testing.assert_allclose(t(a).clamp(-0.5, 0.5).numpy(), np.clip(a, -0.5, 0.5))


def test_python_scalars_keep_the_tensor_dtype():
    x = mg.ones(3)
    assert (x * 1.0001 + 0.001).dtype == mg.float32
    assert (2 ** x).dtype == mg.float32
    assert (mg.arange(3) * 2).dtype == mg.int64
    assert (mg.arange(3) * 0.5).dtype == mg.float32
    assert (mg.arange(3) / 2).dtype == mg.float32
    assert (mg.arange(3) + mg.ones(3)).dtype == mg.float32


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_a_python_float_gives_the_bits_of_the_tensor_form(rng, dtype):
    """x + s, s + x, x - s, x * s, s * x and x / s for a Python float s run as one-input
    nodes; values, gradients and second derivatives are those of s as a 0-d tensor."""
    a = rng.standard_normal(7).astype(dtype) * 3
    forms = {"add": lambda x, s: x + s, "radd": lambda x, s: s + x, "sub": lambda x, s: x - s,
             "mul": lambda x, s: x * s, "rmul": lambda x, s: s * x,
             "div": lambda x, s: x / s}
    for s in (0.37, -2.5, 0.125, 3.0):
        for name, f in forms.items():
            x1, x2 = (mg.tensor(a, requires_grad=True) for _ in range(2))
            y1, y2 = f(x1, s), f(x2, mg.tensor(np.asarray(s, dtype)))
            assert y1.dtype == y2.dtype == getattr(mg, dtype), name
            np.testing.assert_array_equal(y1.detach().numpy(), y2.detach().numpy(), name)
            (g1,) = mg.autograd.grad((y1 * y1).sum(), x1, create_graph=True)
            (g2,) = mg.autograd.grad((y2 * y2).sum(), x2, create_graph=True)
            np.testing.assert_array_equal(g1.detach().numpy(), g2.detach().numpy(), name)
            (h1,) = mg.autograd.grad(g1.sum(), x1)
            (h2,) = mg.autograd.grad(g2.sum(), x2)
            np.testing.assert_array_equal(h1.numpy(), h2.numpy(), name)


def test_a_product_with_a_python_float_keeps_no_input_as_pytorch(torch):
    """x * 2.0 and x / 4.0 need only the number for their gradient: changing x in place
    afterwards is no error (PyTorch's rule), x * x still refuses; node names as PyTorch's."""
    for lib in (mg, torch):
        a = lib.ones(3, requires_grad=True)
        x = a.clone()
        y = x * 2.0 + x / 4.0
        x.add_(1)
        y.sum().backward()
        np.testing.assert_allclose(a.grad.numpy(), [2.25] * 3)
        x = a.clone()
        y = x * x
        x.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()
    x = mg.ones(3, requires_grad=True)
    assert [(op(x)).grad_fn.name for op in (lambda x: x * 2.0, lambda x: x + 1.0,
                                             lambda x: x - 1.0, lambda x: x / 2.0)] == \
        ["MulBackward", "AddBackward", "SubBackward", "DivBackward"]


def test_comparisons_are_boolean_and_not_differentiable():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for r in (x > 2, x >= 2, x < 2, x <= 2, x == 2, x != 2, ~(x > 2)):
        assert r.dtype == mg.bool and not r.requires_grad
    assert (x == 2).tolist() == [False, True, False]


@pytest.mark.parametrize("dim", [None, 0, 1, -1, (0, 2), (0, 2, 3)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_reductions_match_numpy(rng, dim, keepdim):
    a = rng.standard_normal((3, 4, 2, 5))
    x = t(a)
    axis = dim
    np.testing.assert_allclose(x.sum(dim, keepdim).numpy(), a.sum(axis, keepdims=keepdim))
    np.testing.assert_allclose(x.mean(dim, keepdim).numpy(), a.mean(axis, keepdims=keepdim))
    for c in (0, 1):
        np.testing.assert_allclose(x.var(dim, keepdim, correction=c).numpy(),
                                   a.var(axis, ddof=c, keepdims=keepdim))
        np.testing.assert_allclose(x.std(dim, keepdim, correction=c).numpy(),
                                   a.std(axis, ddof=c, keepdims=keepdim))
    np.testing.assert_allclose(x.amax(dim, keepdim).numpy(), a.max(axis, keepdims=keepdim))
    np.testing.assert_allclose(x.amin(dim, keepdim).numpy(), a.min(axis, keepdims=keepdim))


def test_max_and_min_follow_pytorch_return_conventions():
    a = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]])
    x = t(a)
    assert x.max().item() == 7.0
    values, indices = x.max(1)
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]
    assert x.min(dim=0).values.tolist() == [1.0, 0.0, 2.0]
    assert x.max(1, keepdim=True).indices.shape == (2, 1)
    assert mg.max(x, t(np.full((2, 3), 4.0))).tolist() == [[4, 5, 4], [7, 4, 7]]
    assert x.argmax().item() == 3 and x.argmax(1).tolist() == [1, 0]
    assert x.argmin(0, keepdim=True).tolist() == [[0, 1, 0]]


def test_max_gradient_is_split_evenly_among_ties():
    x = mg.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True)
    x.amax(1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    y = mg.tensor([3.0, 1.0, 3.0], requires_grad=True)
    y.max().backward()
    np.testing.assert_allclose(y.grad.numpy(), [0.5, 0, 0.5])


def test_maximum_gradient_is_halved_on_ties():
    a = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = mg.tensor([2.0, 2.0, 2.0], requires_grad=True)
    mg.maximum(a, b).sum().backward()
    assert a.grad.tolist() == [0, 0.5, 1] and b.grad.tolist() == [1, 0.5, 0]


@pytest.mark.parametrize("sa,sb", [((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 5)),
                                   ((2, 3, 4), (4, 5)), ((2, 1, 3, 4), (3, 4, 2)),
                                   ((4,), (2, 4, 3)), ((2, 3, 4), (4,))])
def test_matmul_follows_numpy_rules(rng, sa, sb):
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    got = t(a) @ t(b)
    np.testing.assert_allclose(got.numpy(), a @ b, rtol=1e-12)
    assert got.shape == np.matmul(a, b).shape


def test_shape_ops_match_numpy(rng):
    a = rng.standard_normal((2, 3, 4))
    x = t(a)
    np.testing.assert_array_equal(x.reshape(4, -1).numpy(), a.reshape(4, -1))
    np.testing.assert_array_equal(x.view(6, 4).numpy(), a.reshape(6, 4))
    np.testing.assert_array_equal(x.flatten(1).numpy(), a.reshape(2, 12))
    np.testing.assert_array_equal(x.flatten().numpy(), a.reshape(-1))
    np.testing.assert_array_equal(x.transpose(0, 2).numpy(), a.transpose(2, 1, 0))
    np.testing.assert_array_equal(x.permute(1, 2, 0).numpy(), a.transpose(1, 2, 0))
    np.testing.assert_array_equal(x.unsqueeze(1).numpy(), a[:, None])
    np.testing.assert_array_equal(x.unsqueeze(-1).squeeze(-1).numpy(), a)
    np.testing.assert_array_equal(x.squeeze(0).shape, (2, 3, 4))  # size 2 stays, as in PyTorch
    np.testing.assert_array_equal(t(a[:1]).squeeze().shape, (3, 4))
    np.testing.assert_array_equal(t(a[:, :1]).expand(-1, 5, -1).numpy(), np.broadcast_to(a[:, :1], (2, 5, 4)))
    np.testing.assert_array_equal(x.broadcast_to((3, 2, 3, 4)).numpy(), np.broadcast_to(a, (3, 2, 3, 4)))
    np.testing.assert_array_equal(mg.cat([x, x], 1).numpy(), np.concatenate([a, a], 1))
    np.testing.assert_array_equal(mg.stack([x, x], -1).numpy(), np.stack([a, a], -1))


@pytest.mark.parametrize("index", [
    1, -1, slice(None, None, 2), (slice(1, None), 2), (None, Ellipsis, 1),
    (np.array([0, 2, 0]),), (np.array([1, 0]), np.array([3, 3])), (slice(None), [0, 0, 2]),
    (Ellipsis, None),
], ids=str)
def test_getitem_matches_numpy(rng, index):
    a = rng.standard_normal((3, 4))
    np.testing.assert_array_equal(t(a)[index].numpy(), a[index])


def test_getitem_with_a_boolean_mask_and_tensor_indices(rng):
    a = rng.standard_normal((3, 4))
    x = t(a)
    np.testing.assert_array_equal(x[x > 0].numpy(), a[a > 0])
    np.testing.assert_array_equal(x[mg.tensor([2, 0])].numpy(), a[[2, 0]])
    with pytest.raises(IndexError, match="integer or bool"):
        x[mg.tensor([0.5])]


def test_getitem_gradient_accumulates_repeated_indices():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[np.array([0, 0, 2, 0])].sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 1.0]


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_matches_numpy(rng, mode):
    a = rng.standard_normal((2, 3, 5))
    got = mg.pad(t(a), (2, 1, 1, 2), mode=mode)
    np_mode = {"replicate": "edge", "circular": "wrap"}.get(mode, mode)
    np.testing.assert_array_equal(got.numpy(), np.pad(a, ((0, 0), (1, 2), (2, 1)), mode=np_mode))


def test_pad_constant_value_and_negative_crop(rng):
    a = rng.standard_normal((3, 4))
    np.testing.assert_array_equal(mg.pad(t(a), (1, 1), value=9.0).numpy(),
                                  np.pad(a, ((0, 0), (1, 1)), constant_values=9.0))
    np.testing.assert_array_equal(mg.pad(t(a), (-1, 2)).numpy(), np.pad(a[:, 1:], ((0, 0), (0, 2))))


# ------------------------------------------------------------------ errors

def test_errors_name_the_op_and_the_shapes():
    with pytest.raises(ValueError, match=r"^matmul: shapes \(3, 4\) and \(5, 6\) are not aligned \(4 != 5\)$"):
        mg.randn(3, 4) @ mg.randn(5, 6)
    with pytest.raises(ValueError, match=r"matmul: .*at least one dimension"):
        mg.tensor(2.0) @ mg.randn(2)
    with pytest.raises(ValueError, match=r"^add: .*\(3,\).*\(4,\)"):
        mg.randn(3) + mg.randn(4)
    with pytest.raises(ValueError, match=r"^mul: .*\(2, 3\).*\(2,\)"):
        mg.randn(2, 3) * mg.randn(2)
    with pytest.raises(ValueError, match=r"^reshape: .*\(2, 3\)"):
        mg.randn(2, 3).reshape(4, 2)
    with pytest.raises(ValueError, match="view: .*use reshape"):
        mg.randn(2, 3).T.view(6)
    with pytest.raises(IndexError, match="sum: dim 2 is out of range for a tensor with 2 dimensions"):
        mg.randn(2, 3).sum(2)
    with pytest.raises(IndexError, match="^getitem: .*\\(2, 3\\)"):
        mg.randn(2, 3)[5]
    with pytest.raises(ValueError, match="permute: .* not a permutation"):
        mg.randn(2, 3).permute(0, 0)
    with pytest.raises(ValueError, match="^cat: "):
        mg.cat([mg.randn(2, 3), mg.randn(3, 3)], 1)
    with pytest.raises(ValueError, match="stack: expected tensors of one shape"):
        mg.stack([mg.randn(2), mg.randn(3)])
    with pytest.raises(ValueError, match="pad: reflect padding"):
        mg.pad(mg.randn(2, 3), (3, 0), mode="reflect")
    with pytest.raises(ValueError, match="pad: mode must be one of"):
        mg.pad(mg.randn(2, 3), (1, 1), mode="wrap")
    with pytest.raises(TypeError, match="mean: expected a floating point tensor"):
        mg.arange(3).mean()
    with pytest.raises(ValueError, match="clamp: at least one"):
        mg.randn(2).clamp()
    with pytest.raises(ValueError, match="expand: "):
        mg.randn(2, 3).expand(3)


@pytest.mark.parametrize("name", ["sum", "mean", "var", "std", "bn stats", "bn forward"])
def test_per_channel_reductions_need_no_input_sized_scratch(name):
    """Reducing (N, C) over N runs on the channel kernels, whose scratch is per channel and
    block; NumPy's var would allocate a centred copy of the input."""
    import tracemalloc
    x = mg.randn(8192, 128)                     # 4 MiB
    run = {"sum": lambda: x.sum(0), "mean": lambda: x.mean(0), "var": lambda: x.var(0),
           "std": lambda: x.std(0), "bn stats": lambda: mg.nn.functional.norm_stats(x),
           "bn forward": lambda: mg.nn.BatchNorm1d(128)(x)}[name]
    run()                                       # (first-call allocations out of the way)
    tracemalloc.start()
    try:
        run()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    output = x.array.nbytes if name == "bn forward" else 0
    assert peak - output < x.array.nbytes / 8, f"{name}: peak {peak} bytes"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads ru_maxrss in KiB")
@pytest.mark.parametrize("name", ["sum", "mean", "var", "bn stats"])
def test_reductions_over_the_batch_with_many_channels_stay_small(name):
    """(2048, 8192) float32 reduced over dim 0: the kernels' scratch (which tracemalloc
    cannot see) once grew with the batch, N * C doubles per partial result. Peak RSS in a
    fresh process, over what the input itself holds."""
    code = f"""
import resource, minigrad as mg
op = {{"sum": lambda t: t.sum(0), "mean": lambda t: t.mean(0), "var": lambda t: t.var(0),
       "bn stats": lambda t: mg.nn.functional.norm_stats(t)}}[{name!r}]
op(mg.ones(64, 8192))                          # load the kernels, first-call allocations
x = mg.ones(2048, 8192)                        # 64 MiB, written
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
op(x)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    rise = int(out.stdout.split()[-1])
    assert rise < 64 * 2 ** 20 / 16, f"{name}: peak RSS rose by {rise / 2 ** 20:.1f} MiB"


# ---------------------------------------------------------------- the LSTM layer primitive

@pytest.mark.parametrize("reverse", [False, True])
def test_lstm_layer_is_its_per_step_composite(reverse):
    """ops.lstm_layer (one node, its own array rule) against the step-by-step composite
    it stands for, values and every gradient, float64."""
    from minigrad.ops.recurrent import _lstm_layer_steps
    rng = np.random.default_rng(3)
    T, B, H = 5, 3, 4
    arrays = [rng.standard_normal(s) for s in ((T, B, 4 * H), (B, H), (B, H), (4 * H, H))]
    ups = [mg.tensor(rng.standard_normal(s)) for s in ((T, B, H), (B, H), (B, H))]
    results = []
    for fn in (lambda *a: mg.ops.lstm_layer(*a, reverse=reverse),
               lambda *a: _lstm_layer_steps(*a, reverse)):
        inputs = [mg.tensor(a, requires_grad=True) for a in arrays]
        outs = fn(*inputs)
        loss = sum((o * u).sum() for o, u in zip(outs, ups))
        loss.backward()
        results.append([o.array for o in outs] + [t.grad.array for t in inputs])
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_lstm_module_records_one_layer_node_per_direction():
    from minigrad.autograd.engine import _reachable
    lstm = mg.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    out, _ = lstm(mg.randn(6, 2, 3))
    names = [n.op.__name__ for n in _reachable([out._node])]
    assert names.count("LSTMLayer") == 4 and "LSTMGates" not in names
