"""In-place operations with PyTorch's semantics, each against torch: what they compute,
when they are refused, what they record, and the version counters that turn a modified
saved value into an error instead of a wrong gradient. Skipped without torch."""
import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch")


def both(fn, *arrays, grad=True):
    """Run ``fn(lib, *leaves)`` on both libraries from float64 ``arrays``; return the
    outputs and the leaves (with grads after a backward of a random weighting)."""
    results = []
    for lib in (mg, torch):
        leaves = [lib.tensor(a, requires_grad=grad) for a in arrays]
        out = fn(lib, *leaves)
        if grad:
            up = np.random.default_rng(0).standard_normal(tuple(out.shape))
            (out * lib.tensor(up)).sum().backward()
        results.append((out, leaves))
    return results


def assert_same(ours, theirs):
    (om, lm), (ot, lt) = ours, theirs
    np.testing.assert_allclose(om.detach().numpy(), ot.detach().numpy(), rtol=1e-12)
    for i, (m, t) in enumerate(zip(lm, lt)):
        if t.grad is None:
            assert m.grad is None, f"leaf {i}"
        else:
            np.testing.assert_allclose(m.grad.numpy(), t.grad.numpy(), rtol=1e-12,
                                       err_msg=f"leaf {i}")


A = np.array([[1.5, -2.0, 0.5], [3.0, 0.25, -1.0]])
B = np.array([0.5, -1.5, 2.0])

RECORDED = {
    "iadd": lambda lib, a, b: _do(a * 1, lambda t: t.__iadd__(b)),
    "isub": lambda lib, a, b: _do(a * 1, lambda t: t.__isub__(b * 2)),
    "imul": lambda lib, a, b: _do(a * 1, lambda t: t.__imul__(b)),
    "itruediv": lambda lib, a, b: _do(a * 1, lambda t: t.__itruediv__(b.abs() + 1)),
    "add_ alpha": lambda lib, a, b: _do(a / 2, lambda t: t.add_(b, alpha=-0.5)),
    "sub_ alpha": lambda lib, a, b: _do(a * 2, lambda t: t.sub_(b, alpha=3)),
    "mul_ by own input": lambda lib, a, b: _do(a * 2, lambda t: t.mul_(a)),
    "clamp_": lambda lib, a, b: _do(a * b, lambda t: t.clamp_(-1.0, 1.0)),
    "fill_ then add": lambda lib, a, b: _do(a * 1, lambda t: t.fill_(2.0)) + a,
    "zero_": lambda lib, a, b: _do(a * b, lambda t: t.zero_()) + b,
    "copy_": lambda lib, a, b: _do(a * 1, lambda t: t.copy_(b * 3)),
    "setitem basic": lambda lib, a, b: _setitem(a * 1, (0, slice(1, None)), b[:2] * 2),
    "setitem scalar": lambda lib, a, b: _setitem(a * b, (1, 0), 7.0),
    "setitem advanced": lambda lib, a, b: _setitem(a * 1, (slice(None), lib.tensor([2, 0])),
                                                   b[:2].reshape(1, 2)),
    "setitem mask": lambda lib, a, b: _setitem(a * 1, a > 0, b.sum()),
    "chain": lambda lib, a, b: _do(_do(a * 1, lambda t: t.mul_(b)), lambda t: t.add_(a)),
}


def _do(t, op):
    op(t)
    return t


def _setitem(t, index, value):
    t[index] = value
    return t


@pytest.mark.parametrize("name", list(RECORDED))
def test_recorded_inplace_ops_match_torch(name):
    ours, theirs = both(RECORDED[name], A, B)
    assert_same(ours, theirs)


@pytest.mark.parametrize("op", ["+=", "add_", "mul_", "setitem", "zero_", "fill_", "clamp_"])
def test_inplace_on_a_leaf_that_requires_grad_is_refused(op):
    do = {"+=": lambda t: t.__iadd__(1), "add_": lambda t: t.add_(1),
          "mul_": lambda t: t.mul_(2), "setitem": lambda t: t.__setitem__(0, 1.0),
          "zero_": lambda t: t.zero_(), "fill_": lambda t: t.fill_(1.0),
          "clamp_": lambda t: t.clamp_(0, 1)}[op]
    for lib in (torch, mg):
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            do(w)
        with lib.no_grad():
            do(w)  # allowed, and it mutates the leaf itself
        assert w.is_leaf and w.requires_grad


def test_inplace_under_no_grad_mutates_the_memory_every_name_sees():
    base = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = mg.from_numpy(base)
    row = t[0]
    view = t.reshape(3, 2)
    t += 1
    t[1, 2] = -5.0
    t.mul_(2)
    np.testing.assert_array_equal(base, [[2, 4, 6], [8, 10, -10]])
    np.testing.assert_array_equal(row.numpy(), [2, 4, 6])
    np.testing.assert_array_equal(view.numpy().reshape(-1), base.reshape(-1))
    assert t._version == 3 and row._version == 3  # one counter for views of one memory


def test_manual_sgd_loop_trains_like_optim_sgd_and_torch():
    """The classic `p -= lr * p.grad` loop: must update the very parameters, as in torch."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 4)), rng.standard_normal((16, 1))

    def train(lib, manual):
        lib.manual_seed(0)
        net = lib.nn.Sequential(lib.nn.Linear(4, 8), lib.nn.Tanh(), lib.nn.Linear(8, 1)).double()
        with lib.no_grad():   # the same start in both libraries
            for k, p in enumerate(net.parameters()):
                p.copy_(lib.tensor(np.random.default_rng(k).standard_normal(tuple(p.shape))))
        opt = lib.optim.SGD(net.parameters(), lr=0.05)
        for _ in range(5):
            loss = ((net(lib.tensor(x)) - lib.tensor(y)) ** 2).mean()
            if manual:
                for p in net.parameters():
                    p.grad = None
                loss.backward()
                with lib.no_grad():
                    for p in net.parameters():
                        p -= 0.05 * p.grad
            else:
                opt.zero_grad()
                loss.backward()
                opt.step()
        return [p.detach().numpy().copy() for p in net.parameters()]

    reference = train(torch, manual=False)
    for lib, manual in [(mg, True), (mg, False), (torch, True)]:
        for got, want in zip(train(lib, manual), reference):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


MODIFIED = {  # a value saved for backward, modified in place before backward: an error
    "exp output": lambda lib, a: _do(a.exp(), lambda t: t.add_(1)),
    "sigmoid output through a view": lambda lib, a: _after(a.sigmoid(), lambda t: t.view(-1).mul_(2)),
    "mul input": lambda lib, a: _after(a * 1, lambda t: None, then=lambda t: (t * t, t.add_(1))[0]),
    "pow input via setitem": lambda lib, a: _after(a * 1, lambda t: None,
                                                   then=lambda t: (t ** 2, t.__setitem__(0, 0.0))[0]),
}


def _after(t, op, then=None):
    out = then(t) if then else t
    op(t)
    return out


@pytest.mark.parametrize("name", list(MODIFIED))
def test_backward_through_a_modified_saved_value_is_an_error(name):
    for lib in (torch, mg):
        a = lib.tensor(A.copy(), requires_grad=True)
        out = MODIFIED[name](lib, a)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            out.sum().backward()


def test_modifying_a_value_nothing_saved_is_fine():
    for lib in (torch, mg):
        a = lib.tensor(A.copy(), requires_grad=True)
        b = a + 1           # add saves nothing
        b.mul_(3)
        b.sum().backward()
        np.testing.assert_array_equal(a.grad.numpy(), np.full(A.shape, 3.0))


def test_inplace_errors_name_the_problem():
    for lib in (torch, mg):
        with pytest.raises(RuntimeError, match="can't be cast"):
            lib.tensor([1, 2]).add_(lib.tensor([0.5, 0.5]))
        with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
            lib.zeros(3).add_(lib.zeros(2, 3))
    t = mg.zeros(2, 3)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        t[0] = mg.ones(4)
    with pytest.raises(RuntimeError, match="read-only"):
        mg.zeros(3).expand(2, 3).add_(1)


def test_float32_tensor_takes_a_float64_update_like_torch():
    for lib in (torch, mg):
        t = lib.zeros(3)
        t += lib.ones(3, dtype=lib.float64)
        assert str(t.dtype).endswith("float32")


def test_retain_grad_and_hooks_match_torch():
    got = []
    for lib in (mg, torch):
        a = lib.tensor(A.copy(), requires_grad=True)
        h = a.tanh()
        h.retain_grad()
        seen = []
        h.register_hook(lambda g: seen.append(g.detach().numpy().copy()))
        a.register_hook(lambda g: g * 2)   # replaces the leaf's gradient
        handle = a.register_hook(lambda g: g * 100)
        handle.remove()
        (h * h).sum().backward()
        got.append((h.grad.numpy(), a.grad.numpy(), seen[0]))
    for m, t in zip(*got):
        np.testing.assert_allclose(m, t, rtol=1e-6)


def test_clone_is_recorded_and_detach_shares_the_version():
    for lib in (mg, torch):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        c = a.clone()
        c.mul_(3)
        c.sum().backward()
        np.testing.assert_array_equal(a.grad.numpy(), [3.0, 3.0])
        d = a.detach()
        with lib.no_grad():
            d.add_(1)
        assert a._version == 1 and d._version == 1
        np.testing.assert_array_equal(a.detach().numpy(), [2.0, 3.0])


# ---------------------------------------------------------------- inplace=True activations

INPLACE_FUNCTIONS = {
    "relu": {}, "leaky_relu": {"negative_slope": 0.2}, "elu": {"alpha": 0.7}, "selu": {},
    "celu": {"alpha": 2.5}, "silu": {}, "hardtanh": {"min_val": -0.5, "max_val": 2.0},
    "relu6": {}, "hardswish": {}, "hardsigmoid": {}, "mish": {},
}
# (celu's alpha is exact in float32: torch 2.13 rounds a float64 celu's 1/alpha to float32
# in its gradient, 1e-8 off for alpha=1.3; minigrad's is exact)
X = np.array([[-4.0, -3.0, -1.0, -0.5, 0.0], [0.25, 1.0, 3.0, 6.5, 7.0]])


@pytest.mark.parametrize("name", list(INPLACE_FUNCTIONS))
def test_inplace_activation_functions_match_torch(name):
    """Recorded on a graph tensor: the input itself is returned, holding the result, and the
    gradient reaches the leaf through it."""
    kw = INPLACE_FUNCTIONS[name]

    def fn(lib, a):
        h = a * 1.5
        out = getattr(lib.nn.functional, name)(h, inplace=True, **kw)
        assert out is h
        return out * a

    assert_same(*both(fn, X))


@pytest.mark.parametrize("name", ["ReLU", "LeakyReLU", "ELU", "SELU", "CELU", "SiLU",
                                  "Hardtanh", "ReLU6", "Hardswish", "Hardsigmoid", "Mish"])
def test_inplace_activation_modules_match_torch(name):
    assert repr(getattr(mg.nn, name)(inplace=True)) == repr(getattr(torch.nn, name)(inplace=True))
    assert repr(mg.nn.ReLU(inplace=True)) == repr(torch.nn.ReLU(inplace=True))
    assert repr(mg.nn.LeakyReLU(0.1, True)) == repr(torch.nn.LeakyReLU(0.1, True))

    def fn(lib, a, w):
        net = lib.nn.Sequential(lib.nn.Linear(5, 5, bias=False), getattr(lib.nn, name)(inplace=True)).double()
        with lib.no_grad():
            net[0].weight.copy_(w)
        return net(a)

    assert_same(*both(fn, X, np.random.default_rng(1).standard_normal((5, 5)) * 3))


def test_inplace_activation_on_a_leaf_that_requires_grad_is_refused():
    for lib in (mg, torch):
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            lib.nn.functional.relu(lib.ones(3, requires_grad=True), inplace=True)
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            lib.nn.ELU(inplace=True)(lib.ones(3, requires_grad=True))


def test_inplace_activation_mutates_plain_tensors_and_views():
    for lib in (mg, torch):
        base = lib.tensor(X.copy())
        row = base[1]
        lib.nn.functional.hardtanh(row, -0.5, 2.0, True)
        lib.nn.ReLU(inplace=True)(base)
        np.testing.assert_array_equal(
            base.numpy(), [[0, 0, 0, 0, 0], [0.25, 1.0, 2.0, 2.0, 2.0]])


def test_inplace_activation_of_a_saved_value_fails_at_backward():
    """sigmoid saves its output; rewriting that output in place must not give a silently
    wrong gradient."""
    for lib in (mg, torch):
        a = lib.tensor(X, requires_grad=True)
        s = a.sigmoid()
        lib.nn.functional.relu(s - 0.5, inplace=True)   # a new tensor: fine
        lib.nn.functional.silu(s, inplace=True)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            s.sum().backward()


@pytest.mark.parametrize("p", [0.0, 0.4, 1.0])
def test_inplace_dropout(p):
    """What is kept is scaled by 1/(1-p) and written into the input; the gradient is the
    same mask. Eval mode leaves the input alone."""
    for fn, shape in ((mg.nn.functional.dropout, (6, 50)),
                      (mg.nn.functional.dropout2d, (6, 50, 2, 2))):
        a = mg.tensor(np.random.default_rng(2).uniform(1, 2, shape), requires_grad=True)
        h = a * 1
        before = h.detach().numpy().copy()
        out = fn(h, p, True, True)
        assert out is h
        out.sum().backward()
        ratio = h.detach().numpy() / before
        if p == 0:     # nothing dropped: the identity
            np.testing.assert_array_equal(ratio, 1)
        elif p == 1:
            np.testing.assert_array_equal(ratio, 0)
        else:
            assert set(np.round(np.unique(ratio), 12)) == {0.0, round(1 / (1 - p), 12)}
        np.testing.assert_allclose(a.grad.numpy(), ratio)
        h2 = mg.tensor(before)
        assert fn(h2, p, False, True) is h2
        np.testing.assert_array_equal(h2.numpy(), before)
    for lib in (mg, torch):
        assert repr(lib.nn.Dropout(0.3, inplace=True)) == "Dropout(p=0.3, inplace=True)"
        assert repr(lib.nn.Dropout()) == "Dropout(p=0.5, inplace=False)"


# ---------------------------------------------------------------- .data, as in PyTorch

def test_data_is_a_detached_tensor_sharing_memory_like_torch():
    for lib in (mg, torch):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        d = x.data
        assert isinstance(d, lib.Tensor), lib.__name__
        assert d.requires_grad is False and d.is_leaf and d.grad_fn is None
        d[0] = 10.0                       # shares memory: x sees it
        d.mul_(2)                         # a leaf that requires grad, written outside no_grad
        assert x.tolist() == [20.0, 4.0, 6.0], lib.__name__
        assert x.requires_grad and x.grad_fn is None
    y = mg.tensor([1.0, 2.0], requires_grad=True)
    assert y.array is y.data.array        # the raw array, shared


def test_writes_through_data_are_not_version_checked_like_torch():
    """The same silently stale gradient in both: .data bypasses the version counter."""
    grads = []
    for lib in (mg, torch):
        a = lib.tensor([0.5, -1.0, 2.0], requires_grad=True)
        b = a.sigmoid()                   # saves its output for backward
        b.data.mul_(2)                    # not seen by autograd
        b.sum().backward()
        grads.append(a.grad.numpy().copy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-7)
    # the same write through the tensor itself is caught, as in torch
    a = mg.tensor([0.5, -1.0], requires_grad=True)
    b = a.sigmoid()
    b.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        b.sum().backward()


def test_data_updates_of_a_hand_written_optimizer_match_torch():
    ours, theirs = [], []
    for lib, out in ((mg, ours), (torch, theirs)):
        w = lib.tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True)
        x = lib.tensor([[1.0, 2.0], [-1.0, 0.5], [0.3, 0.3]])
        for _ in range(3):
            loss = (x @ w).tanh().pow(2).sum()
            w.grad = None
            loss.backward()
            w.data.add_(w.grad.data, alpha=-0.1)      # p.data.add_(-lr, grad), torch style
        out.append(w.detach().numpy().copy())
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-6)


def test_setting_data_swaps_the_memory_like_torch():
    for lib in (mg, torch):
        p = lib.tensor([1.0, 2.0], requires_grad=True)
        p.data = lib.tensor([[5.0, 6.0, 7.0]])        # shape may change
        assert p.shape == (1, 3) and p.requires_grad and p.is_leaf
        with pytest.raises(TypeError):
            p.data = np.zeros(3)


def test_more_in_place_forms_match_torch():
    torch = pytest.importorskip("torch")
    x = np.array([[0.4, -1.6, 2.5], [3.2, 0.5, -0.7]])
    end = np.linspace(-2, 2, 6).reshape(2, 3)
    cases = [lambda t, lib: t.pow_(2), lambda t, lib: t.round_(),
             lambda t, lib: t.round_(decimals=1), lambda t, lib: t.lerp_(lib.tensor(end), 0.25),
             lambda t, lib: t.lerp_(lib.tensor(end), lib.full((2, 3), 0.8, dtype=lib.float64)),
             lambda t, lib: t.t_(), lambda t, lib: t.transpose_(0, 1)]
    for case in cases:
        results = []
        for lib in (mg, torch):
            leaf = lib.tensor(x, requires_grad=True)
            t = leaf * 1.0
            out = case(t, lib)
            assert out is t
            (t * lib.arange(6.0, dtype=lib.float64).reshape(t.shape)).sum().backward()
            results.append((t.detach().numpy(), tuple(t.shape), leaf.grad.numpy()))
        for m, th in zip(*results):
            np.testing.assert_allclose(m, th, rtol=1e-12, atol=1e-15)


def test_top_level_in_place_math_is_torchs_set():
    torch = pytest.importorskip("torch")
    from minigrad._tensor.inplace import UNARY_INPLACE
    assert {f"{n}_" for n in UNARY_INPLACE if hasattr(torch, f"{n}_")} == \
        {f"{n}_" for n in UNARY_INPLACE if hasattr(mg, f"{n}_")}
    for lib in (mg, torch):
        t = lib.tensor([0.25, 4.0], dtype=lib.float64)
        assert lib.sqrt_(t) is t and lib.exp_(t) is t
        np.testing.assert_allclose(t.numpy(), np.exp([0.5, 2.0]))


def test_linalg_cross_and_data_ptr_as_torch():
    torch = pytest.importorskip("torch")
    a, b = np.random.default_rng(0).standard_normal((2, 4, 3, 3))
    got = mg.linalg.cross(mg.tensor(a), mg.tensor(b))                 # last dim by default
    np.testing.assert_allclose(got.numpy(), torch.linalg.cross(torch.tensor(a), torch.tensor(b)))
    np.testing.assert_allclose(mg.linalg.cross(mg.tensor(a), mg.tensor(b[:1]), dim=1).numpy(),
                               torch.linalg.cross(torch.tensor(a), torch.tensor(b[:1]), dim=1))
    for lib in (mg, torch):
        t = lib.zeros(4, 3)
        assert t.view(12).data_ptr() == t.data_ptr() != t.clone().data_ptr()
        assert t[1].data_ptr() == t.data_ptr() + 3 * t.element_size()
        assert lib.zeros(0).data_ptr() == 0
        assert t.element_size() == t.itemsize == 4 and t.nbytes == 48
