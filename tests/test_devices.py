"""The same computations on a device and on the CPU: every registered op's output, first
and second derivatives, convolution, pooling, BatchNorm's semantics, a model's training
and the device plumbing (moves, RNG, optimizers, save, data), in float64 (tight) and
float32.

The ``device`` fixture (conftest.py) runs each test on the fake device (CuPy's contract
on array_api_strict's device1, which refuses host NumPy: a leak to the host anywhere in
an op, a layer or the backend fails here) under the reference backend and under the CUDA
backend's glue, and on a real GPU with ``pytest -m gpu``."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad import backend
from minigrad import gradcheck as registry

TOL = {np.float64: dict(rtol=1e-10, atol=1e-11), np.float32: dict(rtol=1e-4, atol=1e-5)}


def _host(t):
    return t.detach().cpu().numpy()


def _on_both(fn, arrays, dtype, device, second=False):
    """fn(*tensors) on the CPU and on ``device`` from the same data: outputs, gradients
    and (with ``second``) the gradient of a gradient norm, each as NumPy."""
    results = []
    for where in ("cpu", device):
        xs = [mg.tensor(np.asarray(a).astype(dtype), device=where, requires_grad=True)
              for a in arrays]
        outs = fn(*xs)
        outs = [o for o in ((outs,) if isinstance(outs, mg.Tensor) else outs)
                if o.dtype.is_floating_point]
        rng = np.random.default_rng(9)
        total = sum((o * mg.tensor(rng.standard_normal(o.shape).astype(dtype), device=where))
                    .sum() for o in outs)
        got = [_host(o) for o in outs]
        if total.requires_grad:
            grads = mg.autograd.grad(total, xs, create_graph=second, allow_unused=True)
            got += [_host(g) for g in grads if g is not None]
            used = [g for g in grads if g is not None and g.requires_grad]
            if second and used:
                norm = sum((g * g).sum() for g in used)
                got += [_host(g) for g in mg.autograd.grad(norm, xs, allow_unused=True)
                        if g is not None]
        results.append(got)
    return results


def _assert_same(results, dtype):
    cpu, dev = results
    assert len(cpu) == len(dev)
    for c, d in zip(cpu, dev):
        np.testing.assert_allclose(d, c, **TOL[dtype])


registry._load_registries()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", [pytest.param(c, id=f"{c.name}[{c.shape_text}]")
                                  for c in registry.CASES])
def test_every_registered_op(case, dtype, device):
    arrays = [t.array for t in case.make_inputs()]
    _assert_same(_on_both(case.fn, arrays, dtype, device,
                          second=case.second_order and dtype == np.float64), dtype)


R = np.random.default_rng(0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("args", [(1, 1, 1, 1), ((2, 1), (1, 2), (1, 2), 2)])
def test_conv2d(args, dtype, device):
    stride, padding, dilation, groups = args
    x, w = R.standard_normal((3, 4, 9, 8)), R.standard_normal((6, 4 // groups, 3, 3))
    _assert_same(_on_both(lambda x, w: F.conv2d(x, w, None, stride, padding, dilation, groups),
                          [x, w], dtype, device, second=dtype == np.float64), dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pools(dtype, device):
    x = np.round(R.standard_normal((2, 3, 9, 8)) * 2)       # ties
    _assert_same(_on_both(lambda x: F.max_pool2d(x, 3, 2, 1), [x], dtype, device, second=True), dtype)
    _assert_same(_on_both(lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True), [x], dtype, device,
                          second=True), dtype)
    _assert_same(_on_both(lambda x: F.adaptive_avg_pool2d(x, (4, 3)), [x], dtype, device), dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(64, 5), (16, 4, 7, 6)])
def test_batch_norm_train_and_eval(shape, dtype, device):
    # its own generator: the data, and so the measured errors below, do not depend on
    # which tests ran before
    x = np.random.default_rng(0).standard_normal(shape) * 3 + 1e3   # a large mean: stable variance
    results = []
    for where in ("cpu", device):
        bn = (nn.BatchNorm1d if len(shape) == 2 else nn.BatchNorm2d)(shape[1]).to(where)
        bn = bn.double() if dtype == np.float64 else bn
        xs = mg.tensor(x.astype(dtype), device=where, requires_grad=True)
        out = bn(xs)
        w = np.random.default_rng(5).standard_normal(shape).astype(dtype)
        (out * mg.tensor(w, device=where)).sum().backward()   # (a random upstream: no grad
        bn.eval()                                             #  is zero by symmetry)
        results.append([a.detach().cpu().numpy() for a in
                        (out, xs.grad, bn.weight.grad, bn.bias.grad, bn.running_mean,
                         bn.running_var, bn(xs))])
    if dtype == np.float64:
        _assert_same(results, dtype)
        return
    for c, g, atol in zip(*results, _float32_batch_norm_atol(shape)):
        np.testing.assert_allclose(g, c, rtol=1e-6, atol=atol)


def _float32_batch_norm_atol(shape):
    """atol at rtol=1e-6 for (out, x.grad, weight.grad, bias.grad, running_mean, running_var,
    eval out) of a float32 BatchNorm on two backends. Measured over 40 seeds of this data:
    the outputs, the input gradient and the statistics need atol <= 1.8e-7 (a few ulps of
    their O(1) terms; the ~1e3 eval outputs are within 1 ulp, inside rtol). The parameter
    gradients are sums of n products in each backend's own order: they need <= 6.8e-6 at
    n=672 and 1.5e-6 at n=64, so 8 ulps * sqrt(n)."""
    n = int(np.prod(shape)) // shape[1]
    params = 8 * np.finfo(np.float32).eps * np.sqrt(n)
    return [1e-6, 1e-6, params, params, 1e-6, 1e-6, 1e-6]


def test_elementwise_reductions_losses_and_second_derivatives(device):
    a, b = R.standard_normal((5, 7)), R.standard_normal((5, 7))
    _assert_same(_on_both(lambda a, b: (a.tanh() * b.sigmoid() + a.relu() ** 2).sum(1)
                          .log_softmax(0), [a, b], np.float64, device, second=True), np.float64)
    y = R.integers(0, 7, 5)
    _assert_same(_on_both(lambda a: F.cross_entropy(a, mg.tensor(y, device=a.device))[None],
                          [a], np.float64, device, second=True), np.float64)
    _assert_same(_on_both(lambda a, b: a @ b.T, [a, b], np.float32, device), np.float32)


def test_device_plumbing(device):
    x = mg.randn(3, 4, device=device)
    assert x.device == mg.device(device) and x.is_cuda == (device == "cuda")
    assert backend.of(x.array) is backend.for_device(device)      # drawn on the device
    mg.manual_seed(3)
    a = mg.randn(5, device=device).cpu().numpy()
    mg.manual_seed(3)
    np.testing.assert_array_equal(mg.randn(5, device=device).cpu().numpy(), a)
    with pytest.raises(RuntimeError, match="same device"):
        mg.ones(3) + mg.ones(3, device=device)
    with pytest.raises(TypeError, match="cpu"):
        x.numpy()
    assert isinstance(float(x.sum()), float) and isinstance(x[0, 0].item(), float)
    assert f"device='{x.device}'" in repr(x)
    for make in (mg.zeros, mg.ones, mg.empty, mg.rand):
        assert make(2, 3, device=device).device == x.device
    assert mg.arange(5, device=device).device == mg.randint(0, 5, (3,), device=device).device \
        == mg.eye(3, device=device).device == mg.full((2,), 1.5, device=device).device == x.device
    # gradients flow back across a move
    h = mg.ones(2, requires_grad=True)
    (h.to(device) * 3).sum().backward()
    np.testing.assert_array_equal(h.grad.numpy(), [3, 3])
    d = F.dropout(mg.ones(1000, device=device), 0.5)
    assert d.device == x.device and 0.3 < float((d == 0).float().mean()) < 0.7


def test_a_model_trains_on_the_device_as_on_the_cpu(tmp_path, device):
    x = R.standard_normal((16, 1, 12, 12))
    y = R.integers(0, 10, 16)
    params = []
    getattr(backend.for_device(device), "launches", []).clear()
    for where in ("cpu", device):
        mg.manual_seed(0)
        # (no conv bias before BN: its gradient is zero but for rounding, which Adam's
        # normalized step would turn into arbitrary updates)
        net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                            nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 36, 10)).double()
        net.to(where)
        opt = mg.optim.Adam(net.parameters(), lr=1e-2)
        xs, ys = mg.tensor(x, device=where), mg.tensor(y, device=where)
        for _ in range(3):
            opt.zero_grad()
            F.cross_entropy(net(xs), ys).backward()
            opt.step()
        launches = getattr(backend.for_device(where), "launches", None)
        if launches is not None:   # (the glue's kernels did the work)
            assert {"im2col", "max_pool", "max_pool_backward", "channel_moments",
                    "channel_affine"} <= set(launches)
        state = opt.state[net[0].weight]["exp_avg"]
        assert state.device == net[0].weight.device           # optimizer state stays there
        mg.save(net.state_dict(), tmp_path / f"{where}.npz")   # device tensors save to host
        params.append([p.detach().cpu().numpy() for p in net.parameters()])
    for c, g in zip(*params):
        np.testing.assert_allclose(g, c, rtol=1e-9, atol=1e-10)
    loaded = mg.load(tmp_path / f"{device}.npz")
    np.testing.assert_allclose(loaded["0.weight"].numpy(), params[1][0])


@pytest.mark.parametrize("name", ["conv2d", "batch_norm train", "max_pool2d", "avg_pool2d",
                                  "cross_entropy", "channel_moments", "getitem", "pad reflect"])
def test_finite_difference_gradchecks_on_the_device(name, device):
    """The gradient checker itself runs on the device: it perturbs device arrays and reads
    the outputs back explicitly (first and second derivatives, float64)."""
    cases = [c for c in registry.CASES if c.name == name][:2]
    assert cases, f"no registered case named {name!r}"
    for case in cases:
        xs = [mg.tensor(t.array, device=device, requires_grad=True) for t in case.make_inputs()]
        assert mg.autograd.gradcheck(case.fn, xs)
        if case.second_order:
            assert mg.autograd.gradgradcheck(case.fn, xs)


def test_in_place_updates_and_index_assignment(device):
    """In-place ops, index assignment (ints, masks, host and device index arrays) and their
    gradients, as on the CPU; an expanded view is refused (CuPy has no writeable flag)."""
    a, b = R.standard_normal((4, 3)), R.standard_normal(3)
    results = []
    for where in ("cpu", device):
        x = mg.tensor(a, device=where)
        x += 1
        x[0] = 5.0
        x[x < 0] = 0.0
        x[mg.tensor([1, 3], device=where), 2] = -1.0
        x[np.array([2])] = 0.25
        x.mul_(2).clamp_(-1.5, 9.0).sub_(0.5)
        w = mg.tensor(b, device=where, requires_grad=True)
        y = x * w
        y[1] = 0.0
        (y * y).sum().backward()
        results.append([_host(x), _host(w.grad)])
        with pytest.raises(RuntimeError, match="read-only"):
            mg.ones(1, device=where).expand(3).add_(1)
    _assert_same(results, np.float64)


def test_bn_folding_and_gradient_clipping(device):
    a = R.standard_normal((2, 2, 5, 5))
    results = []
    for where in ("cpu", device):
        mg.manual_seed(0)
        conv, bn = nn.Conv2d(2, 3, 3).double().to(where), nn.BatchNorm2d(3).double().to(where)
        x = mg.tensor(a, device=where)
        bn(conv(x)).sum().backward()                 # (running statistics and gradients)
        norm = nn.utils.clip_grad_norm_(conv.parameters(), 0.5)
        assert norm.device == conv.weight.device
        inf_norm = nn.utils.clip_grad_norm_(bn.parameters(), 0.1, norm_type="inf")
        conv.eval(), bn.eval()
        fused = nn.utils.fuse_conv_bn_eval(conv, bn)
        assert fused.weight.device == conv.weight.device
        results.append([_host(fused(x)), _host(bn(conv(x))), _host(conv.weight.grad),
                        _host(norm), _host(inf_norm)])
    _assert_same(results, np.float64)
    np.testing.assert_allclose(results[1][0], results[1][1], rtol=1e-12, atol=1e-12)


def test_comparisons_and_bitwise_ops_refuse_two_devices(device):
    """Ops without a gradient rule check devices too (they do not pass through a
    primitive's check): PyTorch's error, naming the op, instead of the array library's."""
    a, b = mg.ones(3), mg.ones(3, device=device)
    ai, bi = mg.ones(3, dtype=mg.int64), mg.ones(3, dtype=mg.int64, device=device)
    for name, call in [("lt", lambda: a < b), ("eq", lambda: a == b), ("ne", lambda: b != a),
                       ("ge", lambda: a >= b), ("bitwise_and", lambda: ai & bi),
                       ("bitwise_xor", lambda: ai ^ bi), ("isclose", lambda: mg.isclose(a, b)),
                       ("equal", lambda: mg.equal(a, b))]:
        with pytest.raises(RuntimeError, match=f"{name}: expected all tensors to be on the same "
                                               f"device, but found at least two devices"):
            call()
