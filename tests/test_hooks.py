"""Module hooks (forward pre-hooks, forward hooks, full backward hooks) against PyTorch:
call order, what each hook sees, replacement of arguments, outputs and input gradients."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn

torch = pytest.importorskip("torch")


def _arr(t):
    return None if t is None else (t.detach().numpy() if hasattr(t, "detach") else t.numpy())


def _both(build):
    """The same model in minigrad and torch (build(lib) makes it; weights copied over)."""
    torch.manual_seed(0)
    tm = build(torch.nn)
    mm = build(nn)
    mm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    return mm, tm


def _linear_pair():
    return _both(lambda lib: lib.Linear(3, 2))


def _x(lib, requires_grad=True):
    x = np.random.default_rng(1).standard_normal((4, 3))
    return (torch.tensor(x, dtype=torch.float32, requires_grad=requires_grad) if lib is torch
            else mg.tensor(x.astype(np.float32), requires_grad=requires_grad))


def _run(lib_model, lib, register, requires_grad=True):
    """Register hooks via ``register(model, log)``, run forward + backward, return the log
    and the input's gradient."""
    log = []
    register(lib_model, log)
    x = _x(lib, requires_grad)
    out = lib_model(x)
    out.sum().backward() if out.requires_grad else None
    return log, (_arr(x.grad) if requires_grad else None)


def _same_logs(a, b):
    assert len(a) == len(b)
    for ea, eb in zip(a, b):
        assert ea[0] == eb[0] and len(ea) == len(eb), (ea, eb)
        for u, v in zip(ea[1:], eb[1:]):
            if u is None or v is None:
                assert u is None and v is None
            else:
                np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6, strict=True)


def test_forward_hook_order_prepend_and_replacement():
    def register(m, log):
        m.register_forward_pre_hook(lambda mod, args: log.append(("pre-a",)))
        m.register_forward_pre_hook(lambda mod, args: (args[0] * 2,))
        m.register_forward_pre_hook(lambda mod, args: log.append(("pre-first",)), prepend=True)
        m.register_forward_hook(lambda mod, args, out: log.append(("fwd-a", _arr(args[0]),
                                                                   _arr(out))))
        m.register_forward_hook(lambda mod, args, out: out * 3)
        m.register_forward_hook(lambda mod, args, out: log.append(("fwd-c", _arr(out))))
        m.register_forward_hook(lambda mod, args, out: log.append(("fwd-0",)), prepend=True)

    mm, tm = _linear_pair()
    (lm, gm), (lt, gt) = _run(mm, mg, register), _run(tm, torch, register)
    assert [e[0] for e in lm] == ["pre-first", "pre-a", "fwd-0", "fwd-a", "fwd-c"]
    _same_logs(lm, lt)
    np.testing.assert_allclose(gm, gt, rtol=1e-6)


def test_forward_pre_hook_single_value_is_wrapped_and_kwargs():
    class Two:
        @staticmethod
        def build(lib):
            class M(lib.Module):
                def forward(self, a, b, k=1.0):
                    return a * b * k
            return M()

    for lib, mod in ((mg, Two.build(nn)), (torch, Two.build(torch.nn))):
        one = mod.register_forward_pre_hook(lambda m, args: args[0])  # (a,): b missing
        with pytest.raises(TypeError):
            mod(lib.ones(2), lib.ones(2))
        one.remove()
        seen = []
        mod.register_forward_pre_hook(lambda m, args, kw: seen.append(dict(kw)) or
                                      (args, {"k": 5.0}), with_kwargs=True)
        mod.register_forward_hook(lambda m, args, kw, out: seen.append((len(args), kw)),
                                  with_kwargs=True)
        out = mod(lib.ones(2), lib.full((2,), 2.0), k=3.0)
        assert out.tolist() == [10.0, 10.0]
        assert seen == [{"k": 3.0}, (2, {"k": 5.0})]
        bad = mod.register_forward_pre_hook(lambda m, args, kw: 3, with_kwargs=True)
        with pytest.raises(RuntimeError, match="must return None or a tuple"):
            mod(lib.ones(2), lib.ones(2))
        bad.remove()


def test_handles_remove_and_context_manager():
    m = nn.Identity()
    calls = []
    h = m.register_forward_hook(lambda mod, a, o: calls.append(1), with_kwargs=False)
    with m.register_forward_pre_hook(lambda mod, a, k: calls.append(2), with_kwargs=True) as h2:
        m(mg.ones(1))
        assert h2.id in m._hooks_with_kwargs
    assert h2.id not in m._hooks_with_kwargs
    m(mg.ones(1))
    h.remove()
    h.remove()  # (twice is harmless, as in torch)
    m(mg.ones(1))
    assert calls == [2, 1, 1]
    assert h.id != h2.id


def test_always_call_forward_hook_runs_when_forward_raises():
    class Boom(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    m, seen = Boom(), []
    m.register_forward_hook(lambda mod, a, o: seen.append(("always", o)), always_call=True)
    m.register_forward_hook(lambda mod, a, o: seen.append("plain"))
    with pytest.raises(ValueError, match="boom"):
        m(mg.ones(1))
    assert seen == [("always", None)]


def _bw_register(replace=None):
    def register(m, log):
        def hook(mod, gi, go):
            log.append(("bw", *map(_arr, gi), *map(_arr, go)))
            return replace(gi) if replace else None
        m.register_full_backward_hook(hook)
    return register


def test_backward_hook_sees_input_and_output_gradients():
    mm, tm = _linear_pair()
    (lm, gm), (lt, gt) = _run(mm, mg, _bw_register()), _run(tm, torch, _bw_register())
    assert len(lm) == 1
    _same_logs(lm, lt)
    np.testing.assert_allclose(gm, gt, rtol=1e-6)


def test_backward_hook_replaces_grad_input_and_chains():
    def register(m, log):
        m.register_full_backward_hook(lambda mod, gi, go: (gi[0] * 2 + 1,))
        m.register_full_backward_hook(lambda mod, gi, go: log.append(("second", _arr(gi[0]))))
        m.register_full_backward_hook(lambda mod, gi, go: log.append(("first",)), prepend=True)

    mm, tm = _linear_pair()
    (lm, gm), (lt, gt) = _run(mm, mg, register), _run(tm, torch, register)
    assert [e[0] for e in lm] == ["first", "second"]
    _same_logs(lm, lt)
    np.testing.assert_allclose(gm, gt, rtol=1e-6)


def test_backward_hook_wrong_number_of_gradients():
    for lib, mod in zip((mg, torch), _linear_pair()):
        mod.register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
        with pytest.raises(RuntimeError, match="invalid number of grad_input, got 2, but "
                                               "expected 1"):
            mod(_x(lib)).sum().backward()


def _two_in_two_out(lib):
    class M(lib.Module):
        def forward(self, a, b, scale):
            return a * b * scale, a + b
    return M()


def test_backward_hook_multi_io_none_and_zero_entries():
    """An input that does not require grad: zeros; a non-tensor argument: None; an output
    that received no gradient: None."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(3), rng.standard_normal(3)
    logs = []
    for lib in (mg, torch):
        log = []
        m = _two_in_two_out(torch.nn) if lib is torch else _two_in_two_out(nn)
        m.register_full_backward_hook(
            lambda mod, gi, go, log=log: log.append(("bw", *map(_arr, gi), *map(_arr, go))))
        ta = lib.tensor(a, requires_grad=True)
        tb = lib.tensor(b)
        o1, o2 = m(ta, tb, 2.0)
        assert o2.requires_grad
        (o1 * 3).sum().backward()
        logs.append(log)
    _same_logs(*logs)
    entry = logs[0][0]
    assert entry[3] is None and entry[5] is None and not entry[2].any()


def test_backward_hook_when_no_input_requires_grad():
    for lib, mod in zip((mg, torch), _linear_pair()):
        seen = []
        mod.register_full_backward_hook(lambda m, gi, go: seen.append((gi, _arr(go[0]))))
        with pytest.warns(UserWarning, match="no inputs require gradients"):
            mod(_x(lib, requires_grad=False)).sum().backward()
        assert len(seen) == 1 and seen[0][0] == (None,)
        np.testing.assert_array_equal(seen[0][1], np.ones((4, 2)))
        mod.register_full_backward_hook(lambda m, gi, go: (lib.zeros(4, 3),))
        with pytest.raises(RuntimeError, match="no input requires gradient should always "
                                               "return None"), \
                pytest.warns(UserWarning):
            mod(_x(lib, requires_grad=False)).sum().backward()


def test_backward_hook_not_called_without_graph():
    mm, _ = _linear_pair()
    seen = []
    mm.register_full_backward_hook(lambda m, gi, go: seen.append(1))
    with mg.no_grad():
        out = mm(_x(mg))
    assert not out.requires_grad and seen == []


def test_hook_order_in_a_network():
    def build(lib):
        return lib.Sequential(lib.Linear(3, 4), lib.Tanh(), lib.Linear(4, 2))

    def register(model, log):
        for i, m in enumerate(model):
            m.register_forward_hook(lambda mod, a, o, i=i: log.append((f"f{i}", _arr(o))))
            m.register_full_backward_hook(
                lambda mod, gi, go, i=i: log.append((f"b{i}", _arr(gi[0]), _arr(go[0]))))

    mm, tm = _both(build)
    (lm, gm), (lt, gt) = _run(mm, mg, register), _run(tm, torch, register)
    assert [e[0] for e in lm] == ["f0", "f1", "f2", "b2", "b1", "b0"]
    _same_logs(lm, lt)
    np.testing.assert_allclose(gm, gt, rtol=1e-5)


def test_backward_hook_with_create_graph_second_derivative():
    """The identities the hook adds are transparent to double backward."""
    def build(lib):
        return lib.Sequential(lib.Linear(3, 3), lib.Tanh())

    results = []
    for lib, model in zip((mg, torch), _both(build)):
        calls = []
        model[1].register_full_backward_hook(lambda m, gi, go: calls.append(1))
        x = _x(lib)
        (g,) = lib.autograd.grad((model(x) ** 2).sum(), [x], create_graph=True)
        (g ** 2).sum().backward()
        results.append((_arr(g), _arr(x.grad), len(calls)))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-5)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-4)
    assert results[0][2] == results[1][2]
