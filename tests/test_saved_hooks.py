"""Saved-tensor hooks (``autograd.graph.saved_tensors_hooks``, ``save_on_cpu``) and
``Tensor.register_post_accumulate_grad_hook``: when each hook runs, what it sees, and that
gradients are the same as without hooks; against PyTorch where the two can be compared
call for call (a Function's ``save_for_backward``, post-accumulate order)."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd.graph import save_on_cpu, saved_tensors_hooks


def _data(seed=0, shape=(3, 4)):
    return np.random.default_rng(seed).standard_normal(shape)


def _model(lib, x, w):
    """Ops that save inputs, outputs (exp, tanh, sigmoid), masks (relu, max) and
    an index (getitem)."""
    h = (x @ w).tanh()
    h = lib.relu(h * 2 - 0.1).exp() + h.sigmoid()
    return (h.max(dim=1).values * h[:, 1]).sum() / x.abs().sum()


def _grads(fn, arrays):
    ts = [mg.tensor(a, requires_grad=True) for a in arrays]
    fn(*ts).backward()
    return [t.grad.numpy().copy() for t in ts]


def test_round_trip_hooks_leave_gradients_unchanged():
    x, w = _data(0), _data(1, (4, 5))
    plain = _grads(lambda a, b: _model(mg, a, b), [x, w])
    packs, unpacks = [], []

    def pack(t):
        packs.append(t)
        return ("scaled", t.detach().array * 2.0)   # anything: the hooks own the format

    def unpack(p):
        unpacks.append(p)
        return mg.tensor(np.asarray(p[1] / 2.0))

    xs = [mg.tensor(a, requires_grad=True) for a in (x, w)]
    with saved_tensors_hooks(pack, unpack):
        loss = _model(mg, *xs)
    assert packs and not unpacks            # packed when recorded, not before backward
    loss.backward()
    assert len(unpacks) == len(packs)       # each packed value unpacked once
    for p, g in zip(plain, xs):
        np.testing.assert_allclose(g.grad.numpy(), p, rtol=1e-15, atol=0)


def test_unpacked_values_in_another_layout_give_the_same_lstm_gradients():
    """An unpack hook may hand back a copy in another memory layout (Fortran order here):
    the LSTM layer's kernels take what it saved that way, with the gradients' bits."""
    from minigrad.ops.recurrent import lstm_layer
    rng = np.random.default_rng(5)
    T, B, H = 5, 64, 64
    arrays = [rng.standard_normal(shape).astype(np.float32) * scale for shape, scale in
              (((T, B, 4 * H), 1), ((B, H), 1), ((B, H), 1), ((4 * H, H), 0.2))]

    def fortran(t):
        return mg.tensor(np.asfortranarray(t.detach().numpy())) if t.ndim > 1 else t

    def grads(hooks):
        ts = [mg.tensor(a, requires_grad=True) for a in arrays]
        if hooks:
            with saved_tensors_hooks(lambda t: t, fortran):
                hs, h, c = lstm_layer(*ts)
        else:
            hs, h, c = lstm_layer(*ts)
        ((hs * hs).sum() + (c * h).sum()).backward()
        return [t.grad.numpy() for t in ts]

    for a, b in zip(grads(False), grads(True)):
        np.testing.assert_array_equal(a, b)


def test_pack_sees_the_saved_tensors_and_outputs():
    a = mg.tensor([1.0, 2.0], requires_grad=True)
    b = mg.tensor([3.0, 4.0])
    seen = []
    with saved_tensors_hooks(lambda t: seen.append(t) or t.detach(), lambda t: t):
        y = a * b       # saves both inputs: the tensors themselves
        z = y.exp()     # saves its output: the output tensor itself
    assert seen[0] is a and seen[1] is b and seen[2] is z
    z.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), np.exp([3.0, 8.0]) * [3.0, 4.0], rtol=1e-6)


def test_only_the_innermost_pair_applies_and_exit_restores():
    log = []

    def hooks(tag):
        return saved_tensors_hooks(lambda t: log.append(("pack", tag)) or t.detach(),
                                   lambda t: log.append(("unpack", tag)) or t)

    a = mg.tensor([0.1, 0.2], requires_grad=True)
    with hooks("outer"):
        y1 = a.exp()
        with hooks("inner"):
            y2 = y1.exp()
        y3 = y2.exp()
    y4 = y3.exp()       # no hooks: nothing logged
    assert log == [("pack", "outer"), ("pack", "inner"), ("pack", "outer")]
    log.clear()
    y4.sum().backward()
    assert log == [("unpack", "outer"), ("unpack", "inner"), ("unpack", "outer")]


def test_retained_graph_unpacks_again_each_pass():
    count = [0]

    def unpack(t):
        count[0] += 1
        return t

    a = mg.tensor([0.5, 1.5], requires_grad=True)
    with saved_tensors_hooks(lambda t: t.detach(), unpack):
        y = a.exp()
    y.sum().backward(retain_graph=True)
    assert count[0] == 1
    y.sum().backward()
    assert count[0] == 2
    np.testing.assert_allclose(a.grad.numpy(), 2 * np.exp([0.5, 1.5]), rtol=1e-6)


def test_second_derivatives_through_packed_values():
    x = _data(3, (5,))
    t = mg.tensor(x, requires_grad=True)
    with saved_tensors_hooks(lambda u: u.detach() * 1.0, lambda u: u):
        y = (t.tanh() * t.exp()).sum()
    (g,) = mg.autograd.grad(y, t, create_graph=True)
    (h,) = mg.autograd.grad(g.sum(), t)
    th, e = np.tanh(x), np.exp(x)
    d1 = (1 - th ** 2) * e + th * e
    d2 = -2 * th * (1 - th ** 2) * e + 2 * (1 - th ** 2) * e + th * e
    np.testing.assert_allclose(g.detach().numpy(), d1, rtol=1e-13)
    np.testing.assert_allclose(h.numpy(), d2, rtol=1e-13)


def test_hook_errors_as_pytorch():
    a = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="pack hook is modifying its input in place"):
        with saved_tensors_hooks(lambda t: t.mul_(1), lambda t: t):
            a.clone() * mg.tensor([1.0, 1.0])
    with saved_tensors_hooks(lambda t: 1, lambda p: p):
        y = a.exp()
    with pytest.raises(TypeError, match="unpack_hook expected to be a Tensor but got result "
                                        "of type int"):
        y.sum().backward()


def test_in_place_write_after_packing_is_not_checked_as_in_pytorch(torch):
    # with hooks, what is kept is the hooks' business: PyTorch does not compare versions
    def run(lib, hooks_cls, make):
        a = make([1.0, 1.0, 1.0], requires_grad=True)
        b = make([2.0, 2.0, 2.0])
        with hooks_cls(lambda t: t.detach(), lambda t: t):
            y = a * b
        b.add_(1)
        y.sum().backward()
        return a.grad.numpy()

    mine = run(mg, saved_tensors_hooks, lambda v, **k: mg.tensor(v, dtype=mg.float64, **k))
    theirs = run(torch, torch.autograd.graph.saved_tensors_hooks,
                 lambda v, **k: torch.tensor(v, dtype=torch.float64, **k))
    np.testing.assert_array_equal(mine, theirs)
    # without hooks the write is still caught
    a, b = mg.tensor([1.0], requires_grad=True), mg.tensor([2.0])
    y = a * b
    b.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


class _Cube:
    """The same custom Function in both libraries: saves its input and its output."""

    @staticmethod
    def make(lib):
        class Cube(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                y = x * x * x
                ctx.save_for_backward(x, y)
                return y

            @staticmethod
            def backward(ctx, g):
                x, y = ctx.saved_tensors
                return g * 3 * y / x
        return Cube


def test_function_save_for_backward_packs_as_pytorch(torch):
    x = _data(4, (4,))

    def run(lib, hooks_cls, t):
        Cube = _Cube.make(lib)
        log = []
        with hooks_cls(lambda u: log.append(("pack", u)) or u.detach(),
                       lambda u: log.append(("unpack",)) or u):
            y = Cube.apply(t)
        n_pack = len(log)
        assert log[0][1] is t and log[1][1] is y   # the input and the output themselves
        (y * y).sum().backward()
        return n_pack, len(log) - n_pack, t.grad.numpy()

    mine = run(mg, saved_tensors_hooks, mg.tensor(x, requires_grad=True))
    theirs = run(torch, torch.autograd.graph.saved_tensors_hooks,
                 torch.tensor(x, requires_grad=True))
    assert mine[:2] == theirs[:2] == (2, 2)
    np.testing.assert_allclose(mine[2], theirs[2], rtol=1e-13)


def test_function_saved_output_stays_in_the_graph_for_create_graph():
    Cube = _Cube.make(mg)
    t = mg.tensor([0.5, -1.5], dtype=mg.float64, requires_grad=True)
    with saved_tensors_hooks(lambda u: u.detach(), lambda u: u):
        y = Cube.apply(t)
    (g,) = mg.autograd.grad(y.sum(), t, create_graph=True)
    (h,) = mg.autograd.grad(g.sum(), t)
    np.testing.assert_allclose(h.numpy(), 6 * t.detach().numpy(), rtol=1e-13)


def test_save_on_cpu_on_the_host(torch):
    x, w = _data(5), _data(6, (4, 5))
    plain = _grads(lambda a, b: _model(mg, a, b), [x, w])
    for pin in (False, True):
        packed = []
        xs = [mg.tensor(a, requires_grad=True) for a in (x, w)]
        hooks = save_on_cpu(pin_memory=pin)
        pack = hooks.pack_hook
        hooks.pack_hook = lambda t: packed.append((t, pack(t))) or packed[-1][1]
        with hooks:
            loss = _model(mg, *xs)
        for t, (device, kept) in packed:
            assert device == t.device and kept.device.type == "cpu"
            # on the host no copy is made, unless pin_memory asks for one (as in PyTorch)
            assert (kept.array is not t.array) if pin else (kept.array is t.array)
        loss.backward()
        for p, g in zip(plain, xs):
            np.testing.assert_allclose(g.grad.numpy(), p, rtol=1e-15, atol=0)
    # PyTorch's save_on_cpu gives the same gradients on the same model
    tx = [torch.tensor(a, requires_grad=True) for a in (x, w)]
    with torch.autograd.graph.save_on_cpu():
        loss = _model(torch, *tx)
    loss.backward()
    for p, g in zip(plain, tx):
        np.testing.assert_allclose(g.grad.numpy(), p, rtol=1e-13)


def test_save_on_cpu_on_a_device(device):
    x = _data(7, (3, 3))
    a = mg.tensor(x, device=device, requires_grad=True)
    seen = []
    hooks = save_on_cpu()
    pack = hooks.pack_hook
    hooks.pack_hook = lambda t: seen.append(pack(t)) or seen[-1]
    with hooks:
        y = (a @ a).tanh().sum()
    assert seen and all(d.type == device and kept.device.type == "cpu" for d, kept in seen)
    y.backward()
    b = mg.tensor(x, requires_grad=True)
    (b @ b).tanh().sum().backward()
    assert a.grad.device.type == device
    np.testing.assert_allclose(a.grad.cpu().numpy(), b.grad.numpy(), rtol=1e-12)


# ---------------------------------------------------------------- post-accumulate-grad hooks

def _post_log(lib, make):
    """Hook calls during backward() through two uses of x, grad(), backward(inputs=)."""
    log = []
    x = make([1.0, 2.0], requires_grad=True)
    w = make([3.0, 4.0], requires_grad=True)
    x.register_post_accumulate_grad_hook(lambda t: log.append(("x", t.grad.tolist())))
    w.register_post_accumulate_grad_hook(lambda t: log.append(("w", t.grad.tolist())))
    ((x * w).sum() + (x * 3).sum()).backward()
    log.append("grad")
    lib.autograd.grad((x * w).sum(), [x, w])        # accumulates nothing: no calls
    log.append("inputs=[w]")
    (x * w).sum().backward(inputs=[w])
    log.append("leaf root")
    x.backward(make([1.0, 1.0]))
    return log


def test_post_accumulate_grad_hooks_as_pytorch(torch):
    mine = _post_log(mg, lambda v, **k: mg.tensor(v, dtype=mg.float64, **k))
    theirs = _post_log(torch, lambda v, **k: torch.tensor(v, dtype=torch.float64, **k))
    assert mine == theirs
    # once per pass, with the whole gradient: x's two contributions are summed first
    assert mine[:2] == [("w", [1.0, 2.0]), ("x", [6.0, 7.0])] or \
        mine[:2] == [("x", [6.0, 7.0]), ("w", [1.0, 2.0])]


def test_post_accumulate_grad_hook_errors_and_removal():
    x = mg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="non-leaf"):
        (x * 2).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        mg.tensor([1.0]).register_post_accumulate_grad_hook(lambda t: None)
    calls = []
    handle = x.register_post_accumulate_grad_hook(lambda t: calls.append(1))
    (x * 2).sum().backward()
    handle.remove()
    (x * 2).sum().backward()
    assert calls == [1]
    x.register_post_accumulate_grad_hook(lambda t: 5)
    with pytest.raises(TypeError, match="must return None"):
        (x * 2).sum().backward()


def test_optimizer_step_in_the_hook_matches_a_plain_step():
    """The memory-saving pattern: step each parameter as soon as its gradient is ready."""
    rng = np.random.default_rng(8)
    x = mg.tensor(rng.standard_normal((6, 3)))
    w0, b0 = rng.standard_normal((3, 2)), rng.standard_normal(2)

    def loss(w, b):
        return ((x @ w + b).tanh() ** 2).mean()

    w, b = mg.tensor(w0, requires_grad=True), mg.tensor(b0, requires_grad=True)
    opt = mg.optim.SGD([w, b], lr=0.1, momentum=0.9)
    for _ in range(3):
        opt.zero_grad()
        loss(w, b).backward()
        opt.step()

    v, c = mg.tensor(w0, requires_grad=True), mg.tensor(b0, requires_grad=True)
    opts = {id(p): mg.optim.SGD([p], lr=0.1, momentum=0.9) for p in (v, c)}

    def step(p):
        opts[id(p)].step()
        opts[id(p)].zero_grad()
    for p in (v, c):
        p.register_post_accumulate_grad_hook(step)
    for _ in range(3):
        loss(v, c).backward()
    np.testing.assert_allclose(v.detach().numpy(), w.detach().numpy(), rtol=1e-15)
    np.testing.assert_allclose(c.detach().numpy(), b.detach().numpy(), rtol=1e-15)
    assert v.grad is None and c.grad is None
