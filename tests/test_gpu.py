"""The CUDA backend on a real GPU (``python -m pytest -m gpu``): the same computations on
CuPy arrays and on the CPU, in float64 (tight) and float32, through first and second
derivatives, plus the device plumbing (moves, RNG, optimizers, save, data). Skipped
without a usable GPU; tests/test_cuda_backend.py checks the same kernels' arithmetic on
the host without one."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not mg.cuda.is_available(),
                                 reason="no usable CUDA GPU (needs CuPy and a GPU)")]

TOL = {np.float64: dict(rtol=1e-10, atol=1e-11), np.float32: dict(rtol=1e-4, atol=1e-5)}


def _on_both(fn, arrays, dtype, second=False):
    """fn(*tensors) on the CPU and on the GPU from the same data: output, gradients and
    (with ``second``) the gradient of a gradient norm, each as NumPy."""
    results = []
    for device in ("cpu", "cuda"):
        xs = [mg.tensor(a.astype(dtype), device=device, requires_grad=True) for a in arrays]
        out = fn(*xs)
        w = mg.tensor(np.random.default_rng(9).standard_normal(out.shape).astype(dtype),
                      device=device)
        grads = mg.autograd.grad((out * w).sum(), xs, create_graph=second)
        got = [out.detach().cpu().numpy()] + [g.detach().cpu().numpy() for g in grads]
        if second:
            total = sum((g * g).sum() for g in grads)
            got += [g.cpu().numpy() for g in mg.autograd.grad(total, xs, allow_unused=True)
                    if g is not None]
        results.append(got)
    return results


def _assert_same(results, dtype):
    cpu, gpu = results
    assert len(cpu) == len(gpu)
    for c, g in zip(cpu, gpu):
        np.testing.assert_allclose(g, c, **TOL[dtype])


R = np.random.default_rng(0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("args", [(1, 1, 1, 1), ((2, 1), (1, 2), (1, 2), 2)])
def test_conv2d(args, dtype):
    stride, padding, dilation, groups = args
    x, w = R.standard_normal((3, 4, 9, 8)), R.standard_normal((6, 4 // groups, 3, 3))
    _assert_same(_on_both(lambda x, w: F.conv2d(x, w, None, stride, padding, dilation, groups),
                          [x, w], dtype, second=dtype == np.float64), dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pools(dtype):
    x = np.round(R.standard_normal((2, 3, 9, 8)) * 2)       # ties
    _assert_same(_on_both(lambda x: F.max_pool2d(x, 3, 2, 1), [x], dtype, second=True), dtype)
    _assert_same(_on_both(lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True), [x], dtype,
                          second=True), dtype)
    _assert_same(_on_both(lambda x: F.adaptive_avg_pool2d(x, (4, 3)), [x], dtype), dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(64, 5), (16, 4, 7, 6)])
def test_batch_norm_train_and_eval(shape, dtype):
    x = R.standard_normal(shape) * 3 + 1e3                  # a large mean: stable variance
    results = []
    for device in ("cpu", "cuda"):
        bn = (nn.BatchNorm1d if len(shape) == 2 else nn.BatchNorm2d)(shape[1]).to(device)
        bn = bn.double() if dtype == np.float64 else bn
        xs = mg.tensor(x.astype(dtype), device=device, requires_grad=True)
        out = bn(xs)
        (out * out).sum().backward()
        bn.eval()
        results.append([a.detach().cpu().numpy() for a in
                        (out, xs.grad, bn.weight.grad, bn.bias.grad, bn.running_mean,
                         bn.running_var, bn(xs))])
    _assert_same(results, dtype) if dtype == np.float64 else [
        np.testing.assert_allclose(g, c, rtol=1e-3, atol=1e-3) for c, g in zip(*results)]


def test_elementwise_reductions_losses_and_second_derivatives():
    a, b = R.standard_normal((5, 7)), R.standard_normal((5, 7))
    _assert_same(_on_both(lambda a, b: (a.tanh() * b.sigmoid() + a.relu() ** 2).sum(1)
                          .log_softmax(0), [a, b], np.float64, second=True), np.float64)
    y = R.integers(0, 7, 5)
    _assert_same(_on_both(lambda a: F.cross_entropy(a, mg.tensor(y, device=a.device))[None],
                          [a], np.float64, second=True), np.float64)
    _assert_same(_on_both(lambda a, b: a @ b.T, [a, b], np.float32), np.float32)


def test_device_plumbing():
    x = mg.randn(3, 4, device="cuda")
    assert x.device == mg.device("cuda", 0) and x.is_cuda
    assert type(x.data).__module__.startswith("cupy")      # drawn on the GPU
    mg.manual_seed(3)
    a = mg.randn(5, device="cuda").cpu().numpy()
    mg.manual_seed(3)
    np.testing.assert_array_equal(mg.randn(5, device="cuda").cpu().numpy(), a)
    with pytest.raises(RuntimeError, match="same device"):
        mg.ones(3) + mg.ones(3, device="cuda")
    with pytest.raises(TypeError, match="cpu"):
        x.numpy()
    assert isinstance(float(x.sum()), float) and isinstance(x[0, 0].item(), float)
    # gradients flow back across a move
    h = mg.ones(2, requires_grad=True)
    (h.cuda() * 3).sum().backward()
    np.testing.assert_array_equal(h.grad.numpy(), [3, 3])
    d = F.dropout(mg.ones(1000, device="cuda"), 0.5)
    assert type(d.data).__module__.startswith("cupy") and 0.3 < float((d == 0).float().mean()) < 0.7


def test_a_model_trains_on_the_gpu_as_on_the_cpu(tmp_path):
    x = R.standard_normal((16, 1, 12, 12))
    y = R.integers(0, 10, 16)
    params = []
    for device in ("cpu", "cuda"):
        mg.manual_seed(0)
        net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                            nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 36, 10)).double()
        net.to(device)
        opt = mg.optim.Adam(net.parameters(), lr=1e-2)
        xs, ys = mg.tensor(x, device=device), mg.tensor(y, device=device)
        for _ in range(3):
            opt.zero_grad()
            F.cross_entropy(net(xs), ys).backward()
            opt.step()
        state = opt.state[net[0].weight]["exp_avg"]
        assert state.device == net[0].weight.device           # optimizer state stays there
        mg.save(net.state_dict(), tmp_path / f"{device}.npz")  # device tensors save to host
        params.append([p.detach().cpu().numpy() for p in net.parameters()])
    for c, g in zip(*params):
        np.testing.assert_allclose(g, c, rtol=1e-9, atol=1e-10)
    loaded = mg.load(tmp_path / "cuda.npz")
    np.testing.assert_allclose(loaded["0.weight"].numpy(), params[1][0])
