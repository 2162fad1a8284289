"""Engine semantics: accumulation, grad mode, detach, graph release, create_graph, custom
Functions, deep graphs, and that graphs are freed."""
import gc
import os
import weakref

import numpy as np
import pytest

import minigrad as mg


def leaf(*values, dtype=mg.float64):
    return mg.tensor(np.array(values, dtype=np.float64), dtype=dtype, requires_grad=True)


def test_leaf_gradients_accumulate_across_backward_calls():
    x = leaf(1.0, 2.0)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3 + 2, 3 + 4])


def test_a_reused_input_accumulates_every_path():
    x = leaf(1.5)
    y = x * x + x * 2 + x  # d/dx = 2x + 3
    y.backward()
    assert x.grad.item() == pytest.approx(6.0)


def test_gradients_of_shared_arrays_are_independent():
    # add's backward passes one array to both inputs; the leaves must not share it
    a, b = leaf(1.0, 2.0), leaf(3.0, 4.0)
    (a + b).sum().backward()
    a.grad.array[0] = 100.0
    assert b.grad.numpy()[0] == 1.0


def test_a_leaf_grad_never_aliases_the_callers_gradient():
    x = leaf(1.0, 2.0)
    up = mg.tensor([5.0, 6.0], dtype=mg.float64)
    (x + 0.0).backward(up)
    up.array[0] = -1.0
    assert x.grad.tolist() == [5.0, 6.0]
    y = leaf(1.0)
    y.backward(mg.tensor([3.0], dtype=mg.float64))
    assert y.grad.item() == 3.0


def test_no_grad_as_context_manager_and_decorator():
    x = leaf(1.0)
    with mg.no_grad():
        y = x * 2
        assert not mg.is_grad_enabled()
        with mg.enable_grad():
            z = x * 2
    assert mg.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad

    @mg.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    assert mg.is_grad_enabled()


def test_detach_shares_data_and_stops_gradients():
    x = leaf(1.0, 2.0)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf
    y = (x * d).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


def test_second_backward_through_a_released_graph_is_an_error():
    x = leaf(1.0, 2.0)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf(1.0, 2.0)
    y = (x.exp() * 2).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 * np.exp([1.0, 2.0]))


def test_backward_of_a_non_scalar_needs_a_gradient():
    x = leaf(1.0, 2.0)
    with pytest.raises(RuntimeError, match="only for scalar outputs"):
        (x * 2).backward()
    (x * 2).backward(mg.tensor([1.0, 10.0], dtype=mg.float64))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 20.0])


def test_backward_of_a_tensor_without_grad_is_an_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.tensor([1.0]).sum().backward()


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(RuntimeError, match="floating point"):
        mg.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        mg.arange(3).requires_grad_()


def test_create_graph_gives_second_and_third_derivatives():
    x = leaf(2.0)
    y = x ** 3
    (g,) = mg.autograd.grad(y, x, create_graph=True)
    assert g.item() == pytest.approx(12.0) and g.requires_grad
    (h,) = mg.autograd.grad(g, x, create_graph=True)
    assert h.item() == pytest.approx(12.0)  # 6x
    (k,) = mg.autograd.grad(h, x)
    assert k.item() == pytest.approx(6.0)


def test_backward_with_create_graph_leaves_a_differentiable_grad():
    x = leaf(0.5)
    x.sigmoid().backward(create_graph=True)
    s = 1 / (1 + np.exp(-0.5))
    assert x.grad.requires_grad
    (g2,) = mg.autograd.grad(x.grad, x)
    assert g2.item() == pytest.approx(s * (1 - s) * (1 - 2 * s))


def test_autograd_grad_does_not_touch_leaf_grads_and_supports_non_leaves():
    x = leaf(1.0, 2.0)
    h = x * 3
    y = (h * h).sum()
    gx, gh = mg.autograd.grad(y, [x, h])
    np.testing.assert_allclose(gh.numpy(), 2 * h.detach().numpy())
    np.testing.assert_allclose(gx.numpy(), 18 * x.detach().numpy())
    assert x.grad is None


def test_autograd_grad_unused_inputs():
    x, z = leaf(1.0), leaf(2.0)
    y = x * 2
    with pytest.raises(RuntimeError, match="not used"):
        mg.autograd.grad(y, [x, z], retain_graph=True)
    gx, gz = mg.autograd.grad(y, [x, z], allow_unused=True)
    assert gx.item() == 2.0 and gz is None


def test_backward_inputs_limits_accumulation():
    x, z = leaf(1.0), leaf(2.0)
    (x * z).backward(inputs=[z])
    assert x.grad is None and z.grad.item() == 1.0


def test_gradient_dtype_follows_each_input():
    a = mg.tensor([1.0, 2.0], requires_grad=True)  # float32
    b = mg.tensor([3.0, 4.0], dtype=mg.float64, requires_grad=True)
    y = (a * b).sum()
    assert y.dtype == mg.float64
    y.backward()
    assert a.grad.dtype == mg.float32 and b.grad.dtype == mg.float64


def test_float64_stays_float64_end_to_end():
    x = mg.tensor(np.ones((3, 4)), requires_grad=True)
    w = mg.tensor(np.ones((4, 2)), requires_grad=True)
    y = ((x @ w).tanh() * 0.5 + 1.0).log().mean()
    assert y.dtype == mg.float64
    y.backward()
    assert x.grad.dtype == mg.float64 and w.grad.dtype == mg.float64


def test_leaves_of_a_tensor_subclass_receive_gradients():
    class Sub(mg.Tensor):
        __slots__ = ()

    w = Sub(np.array([2.0, 3.0]), requires_grad=True)
    (w * w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [4.0, 6.0])


def test_broadcast_gradients_are_summed_to_the_input_shape():
    a = leaf(1.0, 2.0, 3.0)
    b = mg.tensor(np.ones((2, 1)), requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.shape == (3,) and b.grad.shape == (2, 1)
    np.testing.assert_allclose(a.grad.numpy(), [2, 2, 2])
    np.testing.assert_allclose(b.grad.numpy(), [[6], [6]])


class Scale(mg.autograd.Function):
    @staticmethod
    def forward(ctx, x, factor):
        ctx.factor = factor
        return x * factor

    @staticmethod
    def backward(ctx, g):
        return g * ctx.factor, None


class SplitExp(mg.autograd.Function):
    """Two outputs; saves one of its outputs."""

    @staticmethod
    def forward(ctx, x):
        e = x.exp()
        ctx.save_for_backward(e)
        return e, x * 2

    @staticmethod
    def backward(ctx, g_exp, g_double):
        (e,) = ctx.saved_tensors
        return g_exp * e + g_double * 2


def test_custom_function_with_a_non_tensor_argument():
    x = leaf(1.0, 2.0)
    y = Scale.apply(x, 3.0)
    assert y.grad_fn is not None
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])
    assert mg.autograd.gradcheck(lambda t: Scale.apply(t, 3.0), [leaf(1.0, 2.0)])


def test_custom_function_with_two_outputs_and_a_saved_output():
    x = leaf(0.5, -1.0)
    e, d = SplitExp.apply(x)
    (e.sum() * 2 + d.sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([0.5, -1.0]) + 2)
    # only one output used: the other's gradient counts as zero
    x2 = leaf(0.5)
    e2, _ = SplitExp.apply(x2)
    e2.backward()
    assert x2.grad.item() == pytest.approx(np.exp(0.5))
    # the saved output takes part in second derivatives
    assert mg.autograd.gradgradcheck(lambda t: SplitExp.apply(t), [leaf(0.5, -1.0)])


def test_custom_function_needs_input_grad_and_no_grad():
    seen = {}

    class Spy(mg.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            seen["needs"] = ctx.needs_input_grad
            seen["recording"] = mg.is_grad_enabled()
            return a + b

        @staticmethod
        def backward(ctx, g):
            return g, g

    Spy.apply(leaf(1.0), mg.tensor([2.0], dtype=mg.float64))
    assert seen == {"needs": (True, False), "recording": False}


def test_custom_function_wrong_gradient_count_is_an_error():
    class Bad(mg.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g, g

    with pytest.raises(RuntimeError, match="returned 2 gradients, expected 1"):
        Bad.apply(leaf(1.0)).backward()


def test_a_chain_of_ten_thousand_ops_backpropagates():
    x = leaf(1.0)
    y = x
    for _ in range(10_000):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0
    del y  # freeing a 10,000-deep graph must not hit the recursion limit either


def test_dropping_a_graph_without_backward_frees_it():
    gc.disable()
    try:
        x = leaf(1.0, 2.0)
        y = (x.exp() * x).sigmoid()  # exp and sigmoid save their outputs
        node = weakref.ref(y.grad_fn)
        del y
        assert node() is None  # freed by reference counting alone: no cycle
    finally:
        gc.enable()


def test_backward_releases_saved_tensors():
    x = leaf(1.0, 2.0)
    h = x * 2
    saved = weakref.ref(h)
    y = (h * h).sum()
    del h
    assert saved() is not None  # the mul node holds h for backward
    y.backward()
    assert saved() is None


def _rss_bytes():
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _growth(step, warmup=200, iters=1000):
    for _ in range(warmup):
        step()
    gc.collect()
    before = _rss_bytes()
    for _ in range(iters):
        step()
    gc.collect()
    return _rss_bytes() - before


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_forward_backward_loop_does_not_grow_memory():
    w = mg.randn(64, 64, requires_grad=True)
    x = mg.randn(32, 64)

    def step():
        loss = (x @ w).tanh().mean()
        loss.backward()
        w.grad = None

    assert _growth(step) < 4 * 2**20


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_dropped_graphs_do_not_grow_memory():
    w = mg.randn(64, 64, requires_grad=True)
    x = mg.randn(32, 64)

    def step():
        (x @ w).sigmoid().exp().sum()  # built, never backpropagated, dropped

    assert _growth(step) < 4 * 2**20


# ------------------------------------------------------------------ in-place accumulation

def test_gradients_accumulate_in_place_only_into_arrays_nobody_else_sees():
    """The engine adds a node's second and later gradients into the first one's array when it
    owns it exclusively; shared tensors (add hands one to both inputs), views (reshape),
    the caller's gradient and arrays a leaf's .grad took must never change behind anyone's
    back."""
    x = mg.tensor(np.arange(6.).reshape(2, 3), requires_grad=True)
    y = x * 2
    ((y + y) * 3).sum().backward()                        # one tensor twice into y
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 12.0))

    a = mg.tensor(np.ones(3), requires_grad=True)
    h = a * 1.0
    ((h + a) + (h * 2)).sum().backward()                  # add feeds leaf a and node h alike
    np.testing.assert_array_equal(a.grad.numpy(), np.full(3, 4.0))

    b = mg.tensor(np.ones((2, 3)), requires_grad=True)
    c = b * 1.0
    ((c.reshape(3, 2) * 2).sum() + (c * 1).sum() + c.reshape(6).sum()).backward()  # views
    np.testing.assert_array_equal(b.grad.numpy(), np.full((2, 3), 4.0))

    w = mg.tensor(np.ones(4), requires_grad=True)
    v = w * 1.0
    up = mg.tensor(np.ones(4))
    (v + v * 2).backward(up)                              # the caller's gradient is kept
    np.testing.assert_array_equal(up.numpy(), np.ones(4))
    np.testing.assert_array_equal(w.grad.numpy(), np.full(4, 3.0))


def test_in_place_accumulation_leaves_other_leaves_grads_alone():
    p = mg.tensor(np.ones(3), requires_grad=True)
    q = mg.tensor(np.ones(3), requires_grad=True)
    s = p + q              # one gradient tensor for both leaves and ...
    t = s * 1.0            # ... fresh gradients accumulated for s's node
    (t * 2 + t * 3 + s).sum().backward()
    np.testing.assert_array_equal(p.grad.numpy(), np.full(3, 6.0))
    np.testing.assert_array_equal(q.grad.numpy(), np.full(3, 6.0))
    assert not np.shares_memory(p.grad.array, q.grad.array)


def test_leaf_grad_accumulates_in_place_like_torch():
    """A second backward adds into the existing .grad tensor (a reference to it sees the
    sum, as in PyTorch), and a gradient array shared with anything else is never mutated."""
    w = mg.tensor(np.ones(3), requires_grad=True)
    (w * 2).sum().backward()
    held = w.grad
    (w * 3).sum().backward()
    np.testing.assert_array_equal(held.numpy(), np.full(3, 5.0))
    assert w.grad is held

    a = mg.tensor(np.ones(3), requires_grad=True)
    b = mg.tensor(np.ones(3), requires_grad=True)
    shared = np.zeros(3)
    a.grad = mg.tensor(shared)
    b.grad = mg.tensor(shared)          # the same array twice: must not be added into
    (a + b).sum().backward()
    np.testing.assert_array_equal(shared, np.zeros(3))
    np.testing.assert_array_equal(a.grad.numpy(), np.ones(3))


def test_exclusive_pending_gradients_are_added_in_place(monkeypatch):
    """The fast path must actually run: fresh gradients arriving at one node are added into
    the first one's array (a refcount threshold off by one once silently disabled it)."""
    from minigrad.backend import cpu
    added = []
    real = cpu.add_inplace
    monkeypatch.setattr(cpu, "add_inplace", lambda a, b: added.append(a.shape) or real(a, b))
    a = mg.tensor(np.ones(3), requires_grad=True)
    h = a * 1.0
    ((h * 3) + (h * 2) + (h * 4)).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.full(3, 9.0))
    assert added == [(3,), (3,)]


@pytest.mark.parametrize("make", ["bn_leaf", "bn_node", "gn", "ln"])
def test_moments_gradient_added_into_the_affine_pass_gradient_matches(monkeypatch, make):
    """channel_moments' backward adds into the gradient already pending for its input
    (the affine pass's) instead of allocating its own; the gradients are the same as
    without that fast path, and it does run (a spy counts the additions)."""
    import minigrad.nn as nn
    from minigrad.backend import cpu
    from minigrad.ops.channel import ChannelMoments
    layer = {"bn_leaf": nn.BatchNorm2d(3), "bn_node": nn.BatchNorm2d(3),
             "gn": nn.GroupNorm(3, 6), "ln": nn.LayerNorm(10)}[make].double()
    shape = {"gn": (4, 6, 5, 5), "ln": (7, 10)}.get(make, (4, 3, 5, 5))
    rng = np.random.default_rng(0)
    x0, up = rng.standard_normal(shape), rng.standard_normal(shape)

    def grads():
        x = mg.tensor(x0, requires_grad=True)
        inp = x * 1.5 if make == "bn_node" else x
        layer.zero_grad()
        layer(inp).backward(mg.tensor(up))
        return [x.grad.numpy()] + [p.grad.numpy() for p in layer.parameters()]

    added = []
    real = cpu.channel_affine
    monkeypatch.setattr(cpu, "channel_affine",
                        lambda *a, out=None, **k: (out is not None and added.append(1))
                        or real(*a, out=out, **k))
    fast = grads()
    assert added, "the moments' gradient was not added into the pending one"
    monkeypatch.setattr(ChannelMoments, "adds_into_input", False)
    for a, b in zip(fast, grads()):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)


def test_set_grad_enabled_as_call_context_and_decorator():
    """PyTorch's semantics: a plain call switches the mode; as a context manager it restores
    the previous mode; as a decorator it leaves the current mode alone."""
    x = mg.tensor(np.ones(2), requires_grad=True)
    try:
        mg.set_grad_enabled(False)
        assert not mg.is_grad_enabled() and not (x * 2).requires_grad
        mg.set_grad_enabled(True)
        assert mg.is_grad_enabled() and (x * 2).requires_grad
        with mg.set_grad_enabled(False):
            assert not (x * 2).requires_grad
        assert mg.is_grad_enabled()

        @mg.set_grad_enabled(False)
        def f():
            return (x * 2).requires_grad
        assert mg.is_grad_enabled()
        assert f() is False and mg.is_grad_enabled()
    finally:
        mg.set_grad_enabled(True)


def test_zero_dim_leaf_used_twice_gets_an_array_gradient():
    w = mg.tensor(0.5, requires_grad=True)
    (w * 3 + w * 4).backward()
    assert isinstance(w.grad.array, np.ndarray) and w.grad.shape == ()
    assert (w.grad * 2).item() == 14.0
    held = mg.tensor(np.array(1.0, dtype=np.float32))
    w.grad = held                        # shared with the caller: accumulated out of place
    (w * 2).backward()
    assert isinstance(w.grad.array, np.ndarray) and w.grad.item() == 3.0


# ---------------------------------------------------------------- tensor hooks, as torch

def test_a_leaf_hook_runs_once_on_the_summed_gradient_like_torch():
    """A weight used several times (tied weights, a recurrent cell's matrix) gets one hook
    call with the sum of its contributions, so a clipping hook clips the sum."""
    torch = pytest.importorskip("torch")
    results = []
    for lib in (mg, torch):
        w = lib.tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True)
        b = lib.tensor([0.1, -0.2], requires_grad=True)
        calls = []
        w.register_hook(lambda g: calls.append(g.detach().numpy().copy()) or g.clamp(-1, 1))
        b.register_hook(lambda g: g * 2)
        h = lib.tensor([[1.0, -2.0]])
        for _ in range(3):                      # w and b used three times
            h = (h @ w + b).tanh()
        (h * lib.tensor([[3.0, -1.0]])).sum().backward()
        results.append((calls, w.grad.numpy().copy(), b.grad.numpy().copy()))
        # autograd.grad: the hook sees the sum too, and its result is what grad returns
        calls.clear()
        x = lib.tensor([1.0, -1.0], requires_grad=True)
        x.register_hook(lambda g: calls.append(1) or g * 10)
        (gx,) = lib.autograd.grad((x * x).sum() + (3 * x).sum(), x)
        results.append((len(calls), gx.numpy().copy()))
    ours, ours_grad, theirs, theirs_grad = results
    assert len(ours[0]) == len(theirs[0]) == 1
    np.testing.assert_allclose(ours[0][0], theirs[0][0], rtol=1e-6)
    for a, b in zip(ours[1:], theirs[1:]):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert ours_grad[0] == theirs_grad[0] == 1
    np.testing.assert_allclose(ours_grad[1], theirs_grad[1], rtol=1e-6)


def test_leaf_hooks_and_post_accumulate_hooks_run_in_torchs_order():
    torch = pytest.importorskip("torch")
    logs = []
    for lib in (mg, torch):
        log = []
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        w.register_hook(lambda g: log.append(("hook", g.tolist())))
        w.register_post_accumulate_grad_hook(lambda p: log.append(("post", p.grad.tolist())))
        ((w * 2).sum() + (w * w).sum()).backward()
        logs.append(log)
    assert logs[0] == logs[1] == [("hook", [4.0, 6.0]), ("post", [4.0, 6.0])]


def test_autograd_grad_runs_no_hook_of_a_leaf_it_was_not_asked_about_like_torch():
    torch = pytest.importorskip("torch")
    for lib in (mg, torch):
        calls = []
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        x = lib.tensor([3.0, -1.0], requires_grad=True)
        w.register_hook(lambda g: calls.append("w"))
        x.register_hook(lambda g: calls.append("x"))
        (gx,) = lib.autograd.grad((w * x).sum() + (w * 2).sum(), [x])
        assert calls == ["x"] and gx.tolist() == [1.0, 2.0], lib.__name__
        assert w.grad is None


def test_a_garbage_collected_leaf_stops_costing_backward_a_hook_scan():
    from minigrad.tensor import HOOKED_LEAVES
    w = mg.ones(2, requires_grad=True)
    handle = w.register_hook(lambda g: g)
    assert w in HOOKED_LEAVES
    handle.remove()
    assert w not in HOOKED_LEAVES
    w.register_post_accumulate_grad_hook(lambda p: None)
    assert len(HOOKED_LEAVES) >= 1
    before = len(HOOKED_LEAVES)
    del w
    gc.collect()
    assert len(HOOKED_LEAVES) == before - 1


# ---------------------------------------------------------------- the two gradient rules

def _rule_outputs(fn, inputs, create_graph):
    """Every input's gradient of sum(w * out) for each output (fixed weights)."""
    outs = fn(*inputs)
    outs = outs if isinstance(outs, tuple) else (outs,)
    rng = np.random.default_rng(1)
    loss = sum((o * mg.tensor(rng.standard_normal(o.shape))).sum()
               for o in outs if o.requires_grad)
    grads = mg.autograd.grad(loss, inputs, allow_unused=True, create_graph=create_graph)
    return [None if g is None else g.detach().numpy() for g in grads]


def _registry():
    from minigrad import gradcheck as registry
    registry._load_registries()
    return registry.CASES


@pytest.mark.parametrize("case", _registry(), ids=lambda c: f"{c.name}[{c.shape_text}]")
def test_array_rule_and_differentiable_rule_agree(case):
    """A plain backward runs an op's ``backward_arrays`` where it has one; create_graph=True
    runs its differentiable ``backward``. Both give the same first derivatives, for every
    op in the gradcheck registry."""
    plain = _rule_outputs(case.fn, case.make_inputs(), create_graph=False)
    recorded = _rule_outputs(case.fn, case.make_inputs(), create_graph=True)
    for p, r in zip(plain, recorded):
        assert (p is None) == (r is None)
        if p is not None:
            np.testing.assert_allclose(p, r, rtol=1e-12, atol=1e-13)


def test_the_ops_with_an_array_rule_are_the_documented_ones():
    """The fused array-level rules are declared, not hidden behind the grad mode: these
    primitives have one, and no rule reads the grad-mode global."""
    import pathlib
    from minigrad.autograd.graph import Primitive

    def subclasses(c):
        for s in c.__subclasses__():
            yield s
            yield from subclasses(s)
    with_rule = {c.__name__ for c in subclasses(Primitive) if c.backward_arrays is not None}
    assert {"Tanh", "Sigmoid", "Relu", "Linear", "CrossEntropy", "Var", "Std",
            "ChannelMoments", "ChannelAffine"} <= with_rule, with_rule
    ops_dir = pathlib.Path(mg.__file__).parent / "ops"
    readers = [p.name for p in ops_dir.glob("*.py")
               if "_grad_state" in p.read_text() and p.name != "inplace.py"]
    assert readers == []   # (inplace.py decides in forward whether a write is recorded)


def test_buffer_reuse_changes_no_result_and_can_be_switched_off():
    """With buffer reuse off every gradient is a fresh array; the numbers are the same, and
    a leaf's first gradient then costs one more copy of the parameter."""
    import tracemalloc
    from minigrad.autograd import reuse

    def step():
        mg.manual_seed(0)
        net = mg.nn.Sequential(mg.nn.Linear(6, 5), mg.nn.BatchNorm1d(5), mg.nn.ReLU(),
                               mg.nn.Linear(5, 3)).double()
        x = mg.randn(8, 6, dtype=mg.float64)
        for _ in range(2):   # twice: the second backward accumulates into .grad
            mg.nn.functional.cross_entropy(net(x), mg.tensor([0, 1, 2, 0, 1, 2, 0, 1])).backward()
        return [p.grad.numpy().copy() for p in net.parameters()]

    def peak():
        w = mg.zeros(1 << 20, dtype=mg.float64, requires_grad=True)   # 8 MiB
        loss = (w * 3.0).sum()
        tracemalloc.start()
        loss.backward()
        used = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return used

    assert reuse.is_enabled()
    on, peak_on = step(), peak()
    previous = reuse.set_enabled(False)
    try:
        off, peak_off = step(), peak()
    finally:
        reuse.set_enabled(previous)
    for a, b in zip(on, off):
        np.testing.assert_array_equal(a, b)
    assert peak_off - peak_on >= (8 << 20) * 0.9, (peak_on, peak_off)
