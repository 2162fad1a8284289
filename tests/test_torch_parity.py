"""Forward values and gradients against PyTorch, through one helper. Skipped without torch."""
import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch")


def parity(fn, *arrays, mg_fn=None, torch_fn=None, rtol=1e-10, atol=1e-12, seed=0):
    """Run ``fn`` on minigrad and torch tensors made from ``arrays`` (float ones require
    grad), with one random upstream gradient; compare outputs and every input gradient."""
    mg_fn, torch_fn = mg_fn or fn, torch_fn or fn
    mg_in = [mg.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    th_in = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    out_m, out_t = mg_fn(*mg_in), torch_fn(*th_in)
    np.testing.assert_allclose(out_m.detach().numpy(), out_t.detach().numpy(), rtol=rtol, atol=atol)
    assert str(out_m.dtype).split(".")[-1] == str(out_t.dtype).split(".")[-1]
    up = np.random.default_rng(seed).standard_normal(out_t.shape).astype(arrays[0].dtype)
    out_m.backward(mg.tensor(up))
    out_t.backward(torch.tensor(up))
    for i, (m, t) in enumerate(zip(mg_in, th_in)):
        if t.grad is None:
            assert m.grad is None, f"input {i}: torch has no gradient, minigrad has {m.grad}"
        else:
            np.testing.assert_allclose(m.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol,
                                       err_msg=f"gradient of input {i}")


def R(*shape, seed=0, low=None, dtype=np.float64):
    rng = np.random.default_rng(seed + sum(shape))
    a = rng.standard_normal(shape) if low is None else rng.uniform(low, low + 2, shape)
    return a.astype(dtype)


CASES = {
    "add broadcast": (lambda a, b: a + b, [R(3, 1, 4), R(2, 4)]),
    "sub scalar": (lambda a: 2.5 - a, [R(3, 4)]),
    "mul broadcast": (lambda a, b: a * b, [R(3, 4), R(4)]),
    "div": (lambda a, b: a / b, [R(3, 4), R(3, 4, low=0.5)]),
    "pow tensor": (lambda a, b: a ** b, [R(3, 4, low=0.5), R(3, 4)]),
    "pow scalar": (lambda a: a ** 2.5, [R(3, 4, low=0.5)]),
    "exp log": (lambda a: (a.exp() + 1).log(), [R(3, 4)]),
    "sqrt rsqrt": (lambda a: a.sqrt() + a.rsqrt(), [R(3, 4, low=0.5)]),
    "tanh sigmoid relu": (lambda a: a.tanh() * a.sigmoid() + a.relu(), [R(5, 4)]),
    "abs": (lambda a: a.abs(), [R(3, 4)]),
    "0-d unary": (lambda a: a.sigmoid() + a.tanh() + a.exp() + a.relu(), [np.array(0.3)]),
    "maximum ties": (lambda a, b: a.maximum(b) + a.minimum(b) * 2,
                     [np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 2.0])]),
    "where": (None, [R(3, 4), R(4)]),
    "sum mean dims": (lambda a: a.sum(1, keepdim=True) * a.mean((0, 2)).sum(), [R(2, 3, 4)]),
    "var std": (lambda a: a.var(1) + a.std(0, keepdim=True).sum() + a.var(correction=0), [R(4, 5)]),
    "var channel dims": (lambda a: a.var((0, 2, 3), correction=1), [R(4, 3, 5, 5)]),
    "amax ties": (lambda a: a.amax(1) + a.amin(0).sum(),
                  [np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])]),
    "max full ties": (lambda a: a.max() * a.min(), [np.array([[3.0, 1.0], [3.0, 1.0]])]),
    "matmul 2d": (lambda a, b: a @ b, [R(5, 7), R(7, 3)]),
    "matmul batched broadcast": (lambda a, b: a @ b, [R(2, 1, 3, 4), R(3, 4, 2)]),
    "matmul vectors": (lambda a, b, c: (a @ b) @ c, [R(4), R(4, 3), R(3)]),
    "getitem": (lambda a: a[1:, ::2] * 2 + a[None, 0, [1, 1, 3]].sum(), [R(3, 5)]),
    "reshape permute transpose": (lambda a: a.reshape(3, 2, 4).permute(2, 0, 1).transpose(0, 1), [R(6, 4)]),
    "expand flatten": (lambda a: a.expand(3, 2, 4).flatten(1), [R(2, 1)]),
    "cat stack": (None, [R(2, 3), R(2, 2)]),
    "pad reflect": (None, [R(1, 2, 4, 5)]),
    # special values: PyTorch's gradient conventions where the calculus has none
    "maximum nan": (lambda a, b: a.maximum(b) + a.minimum(b) * 3,
                    [np.array([np.nan, 1.0, 2.0, 1.0]), np.array([1.0, np.nan, 1.0, 1.0])]),
    "maximum loser gets 0 from a nan gradient": (lambda a, b: a.maximum(b).var(),
                                                 [np.array([0.5]), np.array([0.25])]),
    "pow zero base": (lambda a, b: a ** b,
                      [np.array([0.0, 0.0, 0.0, 2.0]), np.array([0.0, 2.0, -1.0, 0.0])]),
    "pow scalar zero exponent": (lambda a: a ** 0 + a ** 0.0, [np.array([0.0, 2.0, -1.0])]),
    "scalar base zero": (lambda b: 0.0 ** b, [np.array([0.0, 1.0, 2.0])]),
    "std of a constant": (lambda a: a.std() + a.std(1).sum() + a.std(0, correction=0).sum(),
                          [np.ones((3, 4))]),
    "std of one value": (lambda a: a.std(0), [np.ones((1, 3))]),
    "var of a constant": (lambda a: a.var(0), [np.full((4, 3), 2.0)]),
    "sqrt at zero": (lambda a: a.sqrt(), [np.array([0.0, 4.0])]),
    "relu and abs at nan": (lambda a: a.relu() + a.abs() * 2 + a.sign(),
                            [np.array([np.nan, 0.0, -1.0, 2.0])]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_parity(name):
    fn, arrays = CASES[name]
    if name == "where":
        parity(None, *arrays, mg_fn=lambda a, b: mg.where(a > 0, a, b),
               torch_fn=lambda a, b: torch.where(a > 0, a, b))
    elif name == "cat stack":
        parity(None, *arrays,
               mg_fn=lambda a, b: mg.stack([mg.cat([a, b], 1), mg.cat([b, a], 1)], 0),
               torch_fn=lambda a, b: torch.stack([torch.cat([a, b], 1), torch.cat([b, a], 1)], 0))
    elif name == "pad reflect":
        import torch.nn.functional as TF
        parity(None, *arrays, mg_fn=lambda a: mg.pad(a, (2, 1, 1, 2), mode="reflect")
               + mg.pad(a, (1, 1, 1, 1), mode="replicate")[..., 1:-1, 1:-1].sum(),
               torch_fn=lambda a: TF.pad(a, (2, 1, 1, 2), mode="reflect")
               + TF.pad(a, (1, 1, 1, 1), mode="replicate")[..., 1:-1, 1:-1].sum())
    else:
        parity(fn, *arrays)


def test_float32_parity():
    a, b = R(16, 32, dtype=np.float32), R(32, 8, dtype=np.float32)
    parity(lambda x, w: ((x @ w).tanh() * 1.0001 + 0.001).var(0), a, b, rtol=2e-5, atol=2e-6)


def test_second_derivative_parity():
    x = R(5)
    xm = mg.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    (gm,) = mg.autograd.grad((xm.tanh() * xm).sum(), xm, create_graph=True)
    (gt,) = torch.autograd.grad((xt.tanh() * xt).sum(), xt, create_graph=True)
    (hm,) = mg.autograd.grad((gm * gm).sum(), xm)
    (ht,) = torch.autograd.grad((gt * gt).sum(), xt)
    np.testing.assert_allclose(hm.numpy(), ht.numpy(), rtol=1e-12)


def test_dtype_promotion_parity():
    pairs = [(mg.arange(3) * 0.5, torch.arange(3) * 0.5),
             (mg.arange(3) / 2, torch.arange(3) / 2),
             (mg.arange(3) + mg.ones(3), torch.arange(3) + torch.ones(3)),
             (mg.ones(3) * 2.0, torch.ones(3) * 2.0),
             (mg.ones(3, dtype=mg.float64) + mg.ones(3), torch.ones(3, dtype=torch.float64) + torch.ones(3)),
             # a 0-d tensor does not promote a dimensioned one of its category, but does one
             # of a lower category; two 0-d tensors promote as usual
             (mg.randn(4, 3) * mg.tensor(2.0, dtype=mg.float64),
              torch.randn(4, 3) * torch.tensor(2.0, dtype=torch.float64)),
             (mg.tensor(2.0, dtype=mg.float64) - mg.randn(4, 3),
              torch.tensor(2.0, dtype=torch.float64) - torch.randn(4, 3)),
             (mg.arange(3) * mg.tensor(2.5, dtype=mg.float64),
              torch.arange(3) * torch.tensor(2.5, dtype=torch.float64)),
             (mg.randn(3) * mg.tensor(2), torch.randn(3) * torch.tensor(2)),
             (mg.tensor(1.0) * mg.tensor(2.0, dtype=mg.float64),
              torch.tensor(1.0) * torch.tensor(2.0, dtype=torch.float64)),
             (mg.maximum(mg.randn(3), mg.tensor(0.0, dtype=mg.float64)),
              torch.maximum(torch.randn(3), torch.tensor(0.0, dtype=torch.float64))),
             (mg.where(mg.ones(3) > 0, mg.ones(3), mg.tensor(0.0, dtype=mg.float64)),
              torch.where(torch.ones(3) > 0, torch.ones(3), torch.tensor(0.0, dtype=torch.float64)))]
    for m, t in pairs:
        assert str(m.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], (m, t)


@pytest.mark.parametrize("dims", [1, (0, 2, 3)])
def test_std_second_derivative_parity(dims):
    x = R(4, 3, 2, 2)
    xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (gm,) = mg.autograd.grad(xm.std(dims).sum(), xm, create_graph=True)
    (gt,) = torch.autograd.grad(xt.std(dims).sum(), xt, create_graph=True)
    (hm,) = mg.autograd.grad((gm * gm).sum(), xm)
    (ht,) = torch.autograd.grad((gt * gt).sum(), xt)
    np.testing.assert_allclose(hm.numpy(), ht.numpy(), rtol=1e-10, atol=1e-14)


def test_a_zero_dim_float64_tensor_gets_a_float64_gradient_through_a_float32_op():
    w = mg.tensor(2.0, dtype=mg.float64, requires_grad=True)
    x = mg.randn(4, 3)
    y = x * w
    assert y.dtype == mg.float32
    y.sum().backward()
    assert w.grad.dtype == mg.float64
    np.testing.assert_allclose(w.grad.item(), x.numpy().astype(np.float64).sum(), rtol=1e-5)


def test_integer_powers_follow_torch():
    for lib in (mg, torch):
        base, exponent = lib.tensor([0, 1, -1, 2, -2, 3]), lib.tensor([-1, -2, -3, -1, -1, 0])
        np.testing.assert_array_equal((base ** exponent).numpy(), [0, 1, -1, 0, 0, 1])
        assert str((lib.tensor([1, 2]) ** 0.5).dtype).endswith("float32")
        assert str((2.0 ** lib.tensor([1, 2])).dtype).endswith("float32")
        assert str((2 ** lib.tensor([1, 2])).dtype).endswith("int64")
        with pytest.raises(RuntimeError, match="negative integer powers"):
            lib.tensor([1, 2]) ** -1


def test_sign_has_a_zero_gradient():
    for lib in (mg, torch):
        x = lib.tensor([1.0, -2.0, 0.0], requires_grad=True)
        (g,) = lib.autograd.grad(x.sign().sum(), x)
        np.testing.assert_array_equal(g.numpy(), [0.0, 0.0, 0.0])


ERRORS = {  # PyTorch raises RuntimeError; ours are RuntimeErrors too (and ValueError/TypeError)
    "matmul shapes": lambda lib: lib.ones(2, 3) @ lib.ones(2, 3),
    "two -1 in reshape": lambda lib: lib.ones(2, 3).reshape(-1, -1),
    "conv kernel larger than input": lambda lib: lib.nn.functional.conv2d(lib.ones(1, 1, 2, 2),
                                                                          lib.ones(1, 1, 3, 3)),
    "negative size": lambda lib: lib.zeros(-1, 2),
    "linear dtypes": lambda lib: lib.nn.functional.linear(lib.ones(2, 3, dtype=lib.float64),
                                                          lib.ones(4, 3)),
    "batch_norm dtypes": lambda lib: lib.nn.BatchNorm1d(3)(lib.ones(4, 3, dtype=lib.float64)),
    "layer_norm dtypes": lambda lib: lib.nn.LayerNorm(3)(lib.ones(4, 3, dtype=lib.float64)),
    "conv dtypes": lambda lib: lib.nn.Conv2d(3, 2, 1)(lib.ones(1, 3, 2, 2, dtype=lib.float64)),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_are_runtime_errors_like_torch(name):
    for lib in (torch, mg):
        with pytest.raises(RuntimeError):
            ERRORS[name](lib)


def test_bad_permute_is_a_runtime_error_like_torch():
    for lib in (torch, mg):
        with pytest.raises(RuntimeError):
            lib.ones(2, 3).permute(0, 0)


# the oracle docs/testing.md pins; behaviour that changed across versions below
PINNED_TORCH = "2.13"


def test_clamp_passes_the_gradient_at_its_bounds():
    """minigrad's choice, pinned on its own: the gradient passes where min <= x <= max,
    bounds included (torch 2.13's rule; torch 2.14 gives 0 at the bounds)."""
    x = mg.tensor([-2.0, -1.0, 0.0, 1.0, 2.0], requires_grad=True)
    x.clamp(-1.0, 1.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 1.0, 1.0, 0.0])
    if not torch.__version__.startswith(PINNED_TORCH):
        pytest.skip(f"parity at the bounds pins torch {PINNED_TORCH}; installed "
                    f"{torch.__version__} changed this rule")
    parity(lambda a: a.clamp(-1.0, 1.0), np.array([-2.0, -1.0, 0.0, 1.0, 2.0]))


# ---------------------------------------------------------------- README's gradient claims

def _grad(lib, data, fn, up):
    x = lib.tensor(data, requires_grad=True)
    out = fn(x)
    out.backward(lib.tensor(up).reshape(tuple(out.shape)))
    return x.grad.numpy()


@pytest.mark.parametrize("name,even", [("max", "amax"), ("min", "amin")])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_and_min_over_a_dim_share_the_gradient_among_ties(name, even, keepdim):
    """README: max/min(dim) share the gradient evenly among tied elements, PyTorch's amax
    rule, while PyTorch's max(dim) sends it to the one index it returns. The values and
    indices are PyTorch's."""
    data = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [4.0, -1.0, -1.0, 4.0]])
    up = np.array([1.0, 2.0, -3.0])
    ours = getattr(mg.tensor(data), name)(1, keepdim)
    theirs = getattr(torch.tensor(data), name)(1, keepdim)
    np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
    got = _grad(mg, data, lambda x: getattr(x, name)(1, keepdim).values, up)
    np.testing.assert_array_equal(
        got, _grad(torch, data, lambda x: getattr(x, even)(1, keepdim), up))
    tied = (data == getattr(data, name)(1, keepdims=True))
    np.testing.assert_array_equal(got, tied * (up / tied.sum(1))[:, None])   # (1/2, 1/4, ...)
    one_index = _grad(torch, data, lambda x: getattr(x, name)(1, keepdim).values, up)
    assert (one_index != 0).sum() == len(data)   # PyTorch's max(dim): one element per row


def test_relu_and_clamp_block_a_nan_upstream_gradient():
    """README: where relu or clamp blocks the gradient it is 0 even for a NaN upstream
    gradient, as in PyTorch (NaN * 0 would be NaN); where they pass it, NaN passes."""
    x = np.array([-3.0, -0.5, 0.25, 0.75, 3.0])
    nan = np.full(x.shape, np.nan)
    for fn, passes in ((lambda t: t.clamp(-1.0, 1.0), [False, True, True, True, False]),
                       (lambda t: t.relu(), [False, False, True, True, True])):
        got = _grad(mg, x, fn, nan)
        np.testing.assert_array_equal(got, np.where(passes, np.nan, 0.0))
        np.testing.assert_array_equal(got, _grad(torch, x, fn, nan))
