"""Every layer against PyTorch: forward, all gradients, and running buffers over several
training steps. Skipped without torch."""
import itertools

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F

torch = pytest.importorskip("torch")
tnn = torch.nn
TF = torch.nn.functional


def to_torch_state(module):
    return {k: torch.from_numpy(np.array(v.numpy())) for k, v in module.state_dict().items()}


def assert_close(a, b, rtol=1e-9, atol=1e-11, msg=""):
    a = a.detach().numpy() if hasattr(a, "detach") else np.asarray(a)
    b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=msg)


def compare_modules(ours, theirs, inputs, steps=3, train=True, rtol=1e-9, atol=1e-11):
    """Run both modules for ``steps`` forward/backward passes on the same float64 inputs
    with random upstream gradients; compare outputs, input and parameter gradients, and
    every buffer after each step."""
    ours.train(train)
    theirs.train(train)
    rng = np.random.default_rng(0)
    for step in range(steps):
        x = inputs(step)
        xm = mg.tensor(x, requires_grad=True)
        xt = torch.tensor(x, requires_grad=True)
        ym, yt = ours(xm), theirs(xt)
        assert_close(ym, yt, rtol, atol, f"output, step {step}")
        up = rng.standard_normal(yt.shape)
        ym.backward(mg.tensor(up))
        yt.backward(torch.tensor(up))
        assert_close(xm.grad, xt.grad, rtol, atol, f"input grad, step {step}")
        params, tparams = dict(ours.named_parameters()), dict(theirs.named_parameters())
        assert set(params) == set(tparams), "parameters"
        for name, p in params.items():
            assert_close(p.grad, tparams[name].grad, rtol, atol, f"{name}.grad, step {step}")
            p.grad = None
            tparams[name].grad = None
        bufs, tbufs = dict(ours.named_buffers()), dict(theirs.named_buffers())
        assert set(bufs) == set(tbufs), "buffers"
        for name, b in bufs.items():
            assert_close(b, tbufs[name], rtol, atol, f"buffer {name}, step {step}")


BN = {1: (nn.BatchNorm1d, tnn.BatchNorm1d, (6, 3, 5)), 2: (nn.BatchNorm2d, tnn.BatchNorm2d, (4, 3, 5, 2)),
      3: (nn.BatchNorm3d, tnn.BatchNorm3d, (2, 3, 2, 3, 2))}


@pytest.mark.parametrize("kind,momentum,affine,track",
                         list(itertools.product([1, 2, 3], [0.1, None], [True, False], [True, False])))
def test_batchnorm_matches_torch(kind, momentum, affine, track):
    ours_cls, theirs_cls, shape = BN[kind]
    ours = ours_cls(3, momentum=momentum, affine=affine, track_running_stats=track).double()
    theirs = theirs_cls(3, momentum=momentum, affine=affine, track_running_stats=track).double()
    if affine:  # non-trivial scale and shift
        ours.weight.array[...] = [0.5, 1.5, -2.0]
        ours.bias.array[...] = [0.1, -0.3, 0.7]
        theirs.load_state_dict(to_torch_state(ours))
    rng = np.random.default_rng(kind)
    batches = [rng.standard_normal(shape) * (i + 1) + i for i in range(4)]
    compare_modules(ours, theirs, lambda s: batches[s], steps=4)
    compare_modules(ours, theirs, lambda s: batches[s], steps=2, train=False)


def test_batchnorm1d_on_2d_input_matches_torch():
    ours, theirs = nn.BatchNorm1d(4).double(), tnn.BatchNorm1d(4).double()
    rng = np.random.default_rng(3)
    compare_modules(ours, theirs, lambda s: rng.standard_normal((7, 4)) + 3, steps=3)


def test_batchnorm_float32_matches_torch():
    ours, theirs = nn.BatchNorm2d(3), tnn.BatchNorm2d(3)
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((8, 3, 6, 6)) * 2 + 1).astype(np.float32)
    compare_modules(ours, theirs, lambda s: x, steps=2, rtol=1e-5, atol=1e-5)


def test_batchnorm_state_dict_roundtrip_with_torch():
    ours = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    theirs = tnn.Sequential(tnn.Linear(4, 3), tnn.BatchNorm1d(3))
    theirs.train()
    theirs(torch.randn(10, 4))  # move the running stats
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    back = {k: torch.from_numpy(np.array(v.numpy())) for k, v in ours.state_dict().items()}
    theirs.load_state_dict(back)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for k, v in theirs.state_dict().items():
        assert_close(ours.state_dict()[k], v)


@pytest.mark.parametrize("shape,normalized", [((4, 5), (5,)), ((2, 3, 4), (3, 4))])
def test_layer_norm_matches_torch(shape, normalized):
    ours, theirs = nn.LayerNorm(normalized).double(), tnn.LayerNorm(normalized).double()
    ours.weight.array[...] = np.linspace(0.5, 2, ours.weight.numel()).reshape(normalized)
    ours.bias.array[...] = np.linspace(-1, 1, ours.bias.numel()).reshape(normalized)
    theirs.load_state_dict(to_torch_state(ours))
    rng = np.random.default_rng(0)
    compare_modules(ours, theirs, lambda s: rng.standard_normal(shape), steps=2)


@pytest.mark.parametrize("groups", [1, 2, 6])
def test_group_norm_matches_torch(groups):
    ours, theirs = nn.GroupNorm(groups, 6).double(), tnn.GroupNorm(groups, 6).double()
    ours.weight.array[...] = np.linspace(0.5, 2, 6)
    theirs.load_state_dict(to_torch_state(ours))
    rng = np.random.default_rng(0)
    compare_modules(ours, theirs, lambda s: rng.standard_normal((3, 6, 4, 2)), steps=2)


@pytest.mark.parametrize("kind,affine,track", list(itertools.product([1, 2], [False, True], [False, True])))
def test_instance_norm_matches_torch(kind, affine, track):
    ours_cls, theirs_cls = (nn.InstanceNorm1d, tnn.InstanceNorm1d) if kind == 1 else \
        (nn.InstanceNorm2d, tnn.InstanceNorm2d)
    shape = (3, 4, 6) if kind == 1 else (3, 4, 3, 5)
    ours = ours_cls(4, affine=affine, track_running_stats=track).double()
    theirs = theirs_cls(4, affine=affine, track_running_stats=track).double()
    rng = np.random.default_rng(0)
    batches = [rng.standard_normal(shape) + i for i in range(3)]
    compare_modules(ours, theirs, lambda s: batches[s], steps=3)
    compare_modules(ours, theirs, lambda s: batches[s], steps=1, train=False)


@pytest.mark.parametrize("name,kwargs", [("ReLU", {}), ("Sigmoid", {}), ("Tanh", {}),
                                          ("LeakyReLU", {"negative_slope": 0.2}), ("GELU", {}),
                                          ("GELU", {"approximate": "tanh"}), ("Softmax", {"dim": 1}),
                                          ("LogSoftmax", {"dim": -1}), ("Flatten", {}),
                                          ("Identity", {})])
def test_activations_match_torch(name, kwargs):
    rng = np.random.default_rng(0)
    compare_modules(getattr(nn, name)(**kwargs), getattr(tnn, name)(**kwargs),
                    lambda s: rng.standard_normal((4, 3, 2)) * 3, steps=1)


def test_linear_matches_torch():
    ours = nn.Linear(5, 3).double()
    theirs = tnn.Linear(5, 3).double()
    theirs.load_state_dict(to_torch_state(ours))
    rng = np.random.default_rng(0)
    compare_modules(ours, theirs, lambda s: rng.standard_normal((2, 4, 5)), steps=2)


def test_dropout_eval_is_identity_and_train_scales():
    d = nn.Dropout(0.25)
    x = mg.ones(1000)
    y = d(x)
    kept = y.numpy() != 0
    assert 0.65 < kept.mean() < 0.85
    np.testing.assert_allclose(y.numpy()[kept], 1 / 0.75, rtol=1e-6)
    assert d.eval()(x) is x


# ------------------------------------------------------------------ losses

def _loss_parity(ours_fn, theirs_fn, logits, target, rtol=1e-10):
    xm = mg.tensor(logits, requires_grad=True)
    xt = torch.tensor(logits, requires_grad=True)
    lm, lt = ours_fn(xm, target), theirs_fn(xt, target)
    assert_close(lm, lt, rtol)
    up = np.random.default_rng(1).standard_normal(lt.shape)
    lm.backward(mg.tensor(up))
    lt.backward(torch.tensor(up))
    assert_close(xm.grad, xt.grad, rtol)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("spatial", [False, True])
def test_cross_entropy_matches_torch(reduction, smoothing, weighted, spatial):
    rng = np.random.default_rng(0)
    shape, tshape = ((6, 4, 3), (6, 3)) if spatial else ((7, 4), (7,))
    logits = rng.standard_normal(shape) * 3
    target = rng.integers(0, 4, tshape)
    target.flat[1] = -100  # one ignored
    w = np.array([0.5, 1.0, 2.0, 1.5])
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    _loss_parity(lambda x, t: F.cross_entropy(x, mg.tensor(t), weight=mg.tensor(w) if weighted else None, **kw),
                 lambda x, t: TF.cross_entropy(x, torch.tensor(t), weight=torch.tensor(w) if weighted else None, **kw),
                 logits, target)


def test_cross_entropy_with_huge_logits_does_not_overflow():
    logits = np.array([[1000.0, -1000.0, 0.0], [0.0, 800.0, 800.0]], dtype=np.float32)
    target = np.array([0, 2])
    lm = F.cross_entropy(mg.tensor(logits), mg.tensor(target))
    lt = TF.cross_entropy(torch.tensor(logits), torch.tensor(target))
    assert np.isfinite(lm.item())
    assert_close(lm, lt, rtol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_mse_bce_match_torch(reduction):
    rng = np.random.default_rng(0)
    logp = rng.standard_normal((5, 3))
    target = np.array([0, 2, 1, 1, 0])
    _loss_parity(lambda x, t: F.nll_loss(x, mg.tensor(t), reduction=reduction),
                 lambda x, t: TF.nll_loss(x, torch.tensor(t), reduction=reduction), logp, target)
    y = rng.standard_normal((5, 3))
    _loss_parity(lambda x, t: F.mse_loss(x, mg.tensor(t), reduction=reduction),
                 lambda x, t: TF.mse_loss(x, torch.tensor(t), reduction=reduction), logp, y)
    p = rng.uniform(0, 1, (5, 3))
    pw = np.array([1.0, 2.0, 0.5])
    logits = rng.standard_normal((5, 3)) * 30  # large logits: the stable formula matters
    _loss_parity(lambda x, t: F.binary_cross_entropy_with_logits(x, mg.tensor(t), reduction=reduction,
                                                                  pos_weight=mg.tensor(pw)),
                 lambda x, t: TF.binary_cross_entropy_with_logits(x, torch.tensor(t), reduction=reduction,
                                                                   pos_weight=torch.tensor(pw)),
                 logits, p)
    _loss_parity(lambda x, t: F.binary_cross_entropy_with_logits(x, mg.tensor(t), reduction=reduction),
                 lambda x, t: TF.binary_cross_entropy_with_logits(x, torch.tensor(t), reduction=reduction),
                 logits, p)


def test_bce_with_logits_gradients_at_zero_logits_match_torch():
    """At x = 0 the gradient is sigmoid(0) - y = 0.5 - y (times pos_weight's factor), and
    the second derivative sigmoid'(0) = 0.25: the |x| and relu kinks of the old formula
    gave 1 - y there."""
    logits = np.array([[0.0, 0.0, 1.5], [-2.0, 0.0, 0.0]])
    target = np.array([[0.0, 1.0, 0.3], [1.0, 0.7, 0.2]])
    pw = np.array([2.0, 0.5, 1.0])
    grads = []
    for lib, fn in ((mg, F), (torch, TF)):
        x = lib.tensor(logits, requires_grad=True)
        for kw in ({}, {"pos_weight": lib.tensor(pw)}):
            loss = fn.binary_cross_entropy_with_logits(x, lib.tensor(target), reduction="sum", **kw)
            (g,) = lib.autograd.grad(loss, x, create_graph=True)
            (h,) = lib.autograd.grad(g.sum(), x)
            grads += [g.detach().numpy(), h.numpy()]
    half = len(grads) // 2
    for ours, theirs in zip(grads[:half], grads[half:]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(grads[0][0, :2], [0.5, -0.5])


# ------------------------------------------------------------------ convolution and pooling

CONV_GRID = list(itertools.product([1, 2], [0, 1, (2, 1)], [1, 2], [1, 2], [True, False]))


@pytest.mark.parametrize("stride,padding,dilation,groups,bias", CONV_GRID)
def test_conv2d_matches_torch(stride, padding, dilation, groups, bias):
    ours = nn.Conv2d(4, 6, (3, 2), stride, padding, dilation, groups, bias).double()
    theirs = tnn.Conv2d(4, 6, (3, 2), stride, padding, dilation, groups, bias).double()
    theirs.load_state_dict(to_torch_state(ours))
    rng = np.random.default_rng(0)
    compare_modules(ours, theirs, lambda s: rng.standard_normal((2, 4, 8, 7)), steps=1)


@pytest.mark.parametrize("stride,padding,dilation,groups,bias",
                         [(1, 0, 1, 1, True), (2, 1, 1, 1, False), (1, 2, 2, 3, True),
                          (1, "same", 2, 1, True), (3, 0, 1, 3, False)])
def test_conv1d_matches_torch(stride, padding, dilation, groups, bias):
    ours = nn.Conv1d(3, 6, 3, stride, padding, dilation, groups, bias).double()
    theirs = tnn.Conv1d(3, 6, 3, stride, padding, dilation, groups, bias).double()
    theirs.load_state_dict(to_torch_state(ours))
    rng = np.random.default_rng(0)
    compare_modules(ours, theirs, lambda s: rng.standard_normal((2, 3, 11)), steps=1)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_conv2d_same_padding_and_float32_match_torch():
    ours, theirs = nn.Conv2d(3, 5, 4, padding="same"), tnn.Conv2d(3, 5, 4, padding="same")
    theirs.load_state_dict(to_torch_state(ours))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    compare_modules(ours, theirs, lambda s: x, steps=1, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kernel,stride,padding,dilation,ceil_mode",
                         [(2, None, 0, 1, False), (3, 2, 1, 1, False), (3, 2, 1, 1, True),
                          (2, 1, 1, 2, False), ((3, 2), (2, 1), (1, 0), 1, True)])
def test_max_pool_matches_torch(kernel, stride, padding, dilation, ceil_mode):
    rng = np.random.default_rng(0)
    compare_modules(nn.MaxPool2d(kernel, stride, padding, dilation, ceil_mode=ceil_mode),
                    tnn.MaxPool2d(kernel, stride, padding, dilation, ceil_mode=ceil_mode),
                    lambda s: rng.standard_normal((2, 3, 7, 8)), steps=1)


def test_max_pool_indices_match_torch():
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 5))
    _, ours = F.max_pool2d(mg.tensor(x), 3, 2, 1, return_indices=True)
    _, theirs = TF.max_pool2d(torch.tensor(x), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("kernel,stride,padding,ceil_mode,include_pad,divisor",
                         [(2, None, 0, False, True, None), (3, 2, 1, False, True, None),
                          (3, 2, 1, True, False, None), (3, 2, 1, True, True, None),
                          ((3, 2), 1, (1, 1), False, False, None), (2, 2, 1, False, True, 3)])
def test_avg_pool_matches_torch(kernel, stride, padding, ceil_mode, include_pad, divisor):
    rng = np.random.default_rng(0)
    compare_modules(nn.AvgPool2d(kernel, stride, padding, ceil_mode, include_pad, divisor),
                    tnn.AvgPool2d(kernel, stride, padding, ceil_mode, include_pad, divisor),
                    lambda s: rng.standard_normal((2, 3, 7, 8)), steps=1)


@pytest.mark.parametrize("size", [1, (3, 4), (5, 2), (7, None)])
def test_adaptive_avg_pool_matches_torch(size):
    rng = np.random.default_rng(0)
    compare_modules(nn.AdaptiveAvgPool2d(size), tnn.AdaptiveAvgPool2d(size),
                    lambda s: rng.standard_normal((2, 3, 7, 8)), steps=1)


def test_small_cnn_training_step_matches_torch():
    def build(lib):
        return lib.Sequential(lib.Conv2d(1, 4, 3, padding=1), lib.BatchNorm2d(4), lib.ReLU(),
                              lib.MaxPool2d(2), lib.Conv2d(4, 6, 3), lib.BatchNorm2d(6),
                              lib.ReLU(), lib.AdaptiveAvgPool2d(1), lib.Flatten(),
                              lib.Linear(6, 3))
    ours, theirs = build(nn).double(), build(tnn).double()
    theirs.load_state_dict(to_torch_state(ours))
    rng = np.random.default_rng(0)
    compare_modules(ours, theirs, lambda s: rng.standard_normal((4, 1, 10, 10)), steps=3)


@pytest.mark.parametrize("kernel,stride,padding", [(2, 2, 0), (3, 2, 0), (3, 2, 1), (2, 1, 0)])
def test_max_pool_nan_and_ties_match_torch(torch, kernel, stride, padding):
    """The bounds-free fast path (no padding) and the general path agree with PyTorch on
    NaN propagation and on which of tied maxima receives the gradient."""
    x = np.random.default_rng(0).random((2, 3, 9, 9)).astype(np.float32)
    x[0, 0, 0, 1] = np.nan
    x[1, 2, 5, 5] = np.nan
    x[1, 1, 2, 2] = x[1, 1, 2, 3] = x[1, 1, 3, 2] = 5.0
    ours = mg.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    out = F.max_pool2d(ours, kernel, stride, padding)
    tout = torch.nn.functional.max_pool2d(theirs, kernel, stride, padding)
    np.testing.assert_array_equal(out.detach().numpy(), tout.detach().numpy())
    up = np.random.default_rng(1).random(out.shape).astype(np.float32)
    out.backward(mg.tensor(up))
    tout.backward(torch.tensor(up))
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_with_every_target_ignored_matches_torch(reduction):
    """PyTorch: the mean is NaN (0 / 0) but the gradient is zero; sum and none are 0."""
    logits = np.random.default_rng(0).standard_normal((4, 3))
    target = np.full(4, -100)
    xm = mg.tensor(logits, requires_grad=True)
    xt = torch.tensor(logits, requires_grad=True)
    lm = F.cross_entropy(xm, mg.tensor(target), reduction=reduction)
    lt = TF.cross_entropy(xt, torch.tensor(target), reduction=reduction)
    np.testing.assert_array_equal(lm.detach().numpy(), lt.detach().numpy())
    lm.sum().backward()
    lt.sum().backward()
    np.testing.assert_array_equal(xm.grad.numpy(), xt.grad.numpy())


@pytest.mark.parametrize("padding", [0, 1])
def test_max_pool_nan_and_tie_indices_match_torch(padding):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, (2, 3, 6, 8)).astype(np.float32)
    x[0, 0, 0, 0:2] = np.nan
    x[1, 2, 3, 3] = x[1, 2, 2, 2] = np.nan
    ym, im = F.max_pool2d(mg.tensor(x), 2, padding=padding, return_indices=True)
    yt, it = TF.max_pool2d(torch.tensor(x), 2, padding=padding, return_indices=True)
    np.testing.assert_array_equal(im.numpy(), it.numpy())
    np.testing.assert_array_equal(ym.numpy(), yt.numpy())


def test_amax_of_an_empty_tensor_follows_torch():
    for op in ("amax", "amin"):
        assert getattr(mg.zeros(2, 0), op)(0).shape == getattr(torch.zeros(2, 0), op)(0).shape
        with pytest.raises(IndexError, match="Expected reduction dim 1 to have non-zero size"):
            getattr(mg.zeros(2, 0), op)(1)


def test_max_and_argmax_of_an_empty_tensor_follow_torch():
    values, indices = mg.zeros(2, 0).max(0)
    t_values, t_indices = torch.zeros(2, 0).max(0)
    assert values.shape == tuple(t_values.shape) and indices.shape == tuple(t_indices.shape)
    assert mg.zeros(2, 0).argmax(0).shape == tuple(torch.zeros(2, 0).argmax(0).shape)
    with pytest.raises(IndexError, match="Expected reduction dim to be specified"):
        mg.zeros(2, 0).argmax()
    with pytest.raises(IndexError, match="Expected reduction dim 1 to have non-zero size"):
        mg.zeros(2, 0).argmax(1)


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5, 5), (16, 3, 48, 48)])  # the last: threaded kernels
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_non_finite_value_stays_in_its_batchnorm_channel(shape, bad):
    """A NaN or inf in channel 1 poisons channel 1 (output, gradients, running stats) as in
    PyTorch, and nothing else: the other channels match PyTorch's numbers."""
    x = np.random.default_rng(0).standard_normal(shape)
    x[(0, 1) + (0,) * (len(shape) - 2)] = bad
    ours, theirs = (nn.BatchNorm1d(3), tnn.BatchNorm1d(3)) if len(shape) == 2 else \
        (nn.BatchNorm2d(3), tnn.BatchNorm2d(3))
    ours, theirs = ours.double(), theirs.double()
    xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ym, yt = ours(xm), theirs(xt)
    (ym * ym).sum().backward()
    (yt * yt).sum().backward()
    clean = [0, 2]
    pairs = [(ym.detach().numpy(), yt.detach().numpy()), (xm.grad.numpy(), xt.grad.numpy()),
             (ours.weight.grad.numpy(), theirs.weight.grad.numpy()),
             (ours.running_mean.numpy(), theirs.running_mean.numpy()),
             (ours.running_var.numpy(), theirs.running_var.numpy())]
    for i, (m, t) in enumerate(pairs):
        m, t = np.moveaxis(m, 1, 0) if m.ndim > 1 else m, np.moveaxis(t, 1, 0) if t.ndim > 1 else t
        np.testing.assert_allclose(m[clean], t[clean], rtol=1e-9, atol=1e-9, err_msg=f"pair {i}")
        assert not np.isfinite(m[1]).all(), f"pair {i}: the poisoned channel looks clean"
    assert np.isnan(ym.detach().numpy()[:, 1]).all() == np.isnan(yt.detach().numpy()[:, 1]).all()


EMPTY = {"bn1d": (lambda: nn.BatchNorm1d(3), lambda: tnn.BatchNorm1d(3), (0, 3)),
         "bn1d length 0": (lambda: nn.BatchNorm1d(3), lambda: tnn.BatchNorm1d(3), (4, 3, 0)),
         "bn2d": (lambda: nn.BatchNorm2d(3), lambda: tnn.BatchNorm2d(3), (0, 3, 4, 4)),
         "bn2d height 0": (lambda: nn.BatchNorm2d(3), lambda: tnn.BatchNorm2d(3), (2, 3, 0, 4)),
         "groupnorm": (lambda: nn.GroupNorm(2, 4), lambda: tnn.GroupNorm(2, 4), (0, 4, 2, 2)),
         "layernorm": (lambda: nn.LayerNorm(4), lambda: tnn.LayerNorm(4), (0, 4))}


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("name", list(EMPTY))
def test_normalization_of_an_empty_batch_follows_torch(name, train):
    """PyTorch normalizes an empty batch to an empty output with zero parameter gradients,
    and leaves running statistics alone (the batch counter still counts it)."""
    make_ours, make_theirs, shape = EMPTY[name]
    compare_modules(make_ours().double(), make_theirs().double(), lambda step: np.zeros(shape),
                    steps=2, train=train)


def test_flatten_of_an_empty_batch_follows_torch():
    for start, end in [(1, -1), (0, -1), (0, 1), (2, 3)]:
        got = mg.zeros(0, 2, 3, 3).flatten(start, end).shape
        assert got == tuple(torch.zeros(0, 2, 3, 3).flatten(start, end).shape), (start, end)
    assert nn.Flatten()(mg.zeros(0, 2, 3, 3)).shape == (0, 18)


@pytest.mark.parametrize("kernel,stride,padding,dilation,ceil_mode",
                         [(2, 1, 1, 2, False), (2, 2, 1, 3, True), (3, 3, 1, 2, True)])
def test_max_pool_window_of_padding_only(kernel, stride, padding, dilation, ceil_mode):
    """On a 1x1 input these windows hold no input element: PyTorch outputs -inf with a zero
    gradient (its index points outside the plane, and its own backward then writes out of
    bounds; ours records -1 and passes nothing back), to every order."""
    from minigrad.backend import cpu, numpy_ref
    args = (kernel, stride, padding, dilation, ceil_mode)
    x = np.random.default_rng(0).standard_normal((2, 3, 1, 1))
    yt = TF.max_pool2d(torch.tensor(x), *args)
    xm = mg.tensor(x, requires_grad=True)
    ym, idx = F.max_pool2d(xm, *args, return_indices=True)
    assert_close(ym, yt)
    assert np.all(ym.detach().numpy() == -np.inf) and np.all(idx.numpy() == -1)
    (g,) = mg.autograd.grad(ym.exp().sum(), xm, create_graph=True)
    (h,) = mg.autograd.grad((g * g).sum() + g.sum(), xm)
    assert np.all(g.detach().numpy() == 0) and np.all(h.numpy() == 0)
    grad = np.ones(ym.shape)
    np.testing.assert_array_equal(cpu.max_pool2d_backward(grad, idx.numpy(), x.shape),
                                  numpy_ref.max_pool2d_backward(grad, idx.numpy(), x.shape))
    from minigrad.ops.pool import _pool_args
    ref_y, ref_idx = numpy_ref.max_pool2d(x, *_pool_args("max_pool2d", xm, *args))
    np.testing.assert_array_equal(ref_y, ym.detach().numpy())
    np.testing.assert_array_equal(ref_idx, idx.numpy())
