"""Module system, BatchNorm semantics (float32 against float64), and errors. PyTorch
parity lives in test_nn_parity.py."""
import math

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.bn = nn.BatchNorm1d(3)
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(3, 2))
        self.register_buffer("scratch", mg.zeros(1), persistent=False)

    def forward(self, x):
        return self.head(self.bn(self.fc(x)))


# ------------------------------------------------------------------ module system

def test_registration_and_naming():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        "fc.weight", "fc.bias", "bn.weight", "bn.bias", "head.1.weight", "head.1.bias"]
    assert list(net.state_dict()) == [
        "fc.weight", "fc.bias", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var",
        "bn.num_batches_tracked", "head.1.weight", "head.1.bias"]
    assert [n for n, _ in net.named_buffers()][0] == "scratch"  # a buffer, not persistent
    assert [type(m).__name__ for m in net.children()] == ["Linear", "BatchNorm1d", "Sequential"]
    assert len(list(net.modules())) == 6
    assert net.bn.num_batches_tracked.dtype == mg.int64


def test_shared_parameters_are_listed_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, lin)
    assert len(list(seq.parameters())) == 2


def test_train_and_eval_propagate():
    net = Net()
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_state_dict_roundtrip_and_strict_errors():
    a, b = Net(), Net()
    a(mg.randn(8, 4))  # move the running statistics
    b.load_state_dict(a.state_dict())
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        np.testing.assert_array_equal(va.numpy(), vb.numpy(), err_msg=k)
    sd = {k: v.numpy() for k, v in a.state_dict().items()}  # numpy arrays load too
    b.load_state_dict(sd)
    del sd["bn.running_var"]
    sd["extra.weight"] = np.zeros(1)
    sd["fc.bias"] = np.zeros(5)
    with pytest.raises(RuntimeError) as err:
        b.load_state_dict(sd)
    msg = str(err.value)
    assert 'Missing key(s) in state_dict: "bn.running_var"' in msg
    assert 'Unexpected key(s) in state_dict: "extra.weight"' in msg
    assert "size mismatch for fc.bias: copying a param with shape (5,)" in msg
    sd["fc.bias"] = np.zeros(3)
    result = b.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["bn.running_var"] and result.unexpected_keys == ["extra.weight"]


def test_load_state_dict_writes_in_place():
    net = nn.Linear(2, 2)
    w = net.weight
    net.load_state_dict({"weight": np.ones((2, 2)), "bias": np.zeros(2)})
    assert net.weight is w and w.detach().numpy().sum() == 4


def test_zero_grad_requires_grad_apply_and_dtype():
    net = Net()
    net(mg.randn(4, 4)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Net" and "Linear" in seen
    net.double()
    assert net.fc.weight.dtype == mg.float64 and net.bn.num_batches_tracked.dtype == mg.int64


def test_repr_reads_like_pytorch():
    text = repr(Net())
    assert "(fc): Linear(in_features=4, out_features=3, bias=True)" in text
    assert "(bn): BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)" in text
    assert "(0): ReLU()" in text


def test_containers():
    ml = nn.ModuleList([nn.ReLU(), nn.Tanh()])
    ml.append(nn.Sigmoid())
    assert len(ml) == 3 and isinstance(ml[-1], nn.Sigmoid) and len(ml[1:]) == 2
    md = nn.ModuleDict({"a": nn.Linear(2, 2)})
    md["b"] = nn.ReLU()
    assert list(md.keys()) == ["a", "b"] and "a" in md
    holder = nn.Module()
    holder.blocks = ml
    holder.heads = md
    assert [n for n, _ in holder.named_parameters()] == ["heads.a.weight", "heads.a.bias"]
    seq = nn.Sequential(nn.Linear(3, 3), nn.ReLU())
    assert isinstance(seq[0], nn.Linear) and len(seq) == 2 and len(seq[:1]) == 1
    with pytest.raises(IndexError):
        seq[5]
    seq[-1] = nn.Tanh()
    assert isinstance(seq[1], nn.Tanh) and list(dict(seq.named_children())) == ["0", "1"]
    with pytest.raises(IndexError):
        seq[2] = nn.ReLU()


def test_assigning_a_wrong_type_to_a_parameter_slot_is_an_error():
    lin = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="parameter 'weight'"):
        lin.weight = mg.zeros(2, 2)
    lin.bias = None  # allowed, as in PyTorch
    assert lin.bias is None


def test_default_initializations_follow_pytorch():
    mg.manual_seed(0)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w = lin.weight.detach().numpy()
    assert w.min() >= -bound and w.max() <= bound and w.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    assert np.abs(lin.bias.detach().numpy()).max() <= bound
    bn = nn.BatchNorm2d(5)
    assert bn.weight.tolist() == [1] * 5 and bn.bias.tolist() == [0] * 5
    assert bn.running_mean.tolist() == [0] * 5 and bn.running_var.tolist() == [1] * 5


def test_init_functions():
    t = mg.empty(200, 300)
    nn.init.xavier_uniform_(t)
    assert np.abs(t.numpy()).max() <= math.sqrt(6 / 500)
    nn.init.kaiming_normal_(t, nonlinearity="relu")
    assert t.numpy().std() == pytest.approx(math.sqrt(2 / 300), rel=0.03)
    nn.init.constant_(t, 0.5)
    assert t.numpy().min() == 0.5
    assert nn.init.calculate_gain("tanh") == pytest.approx(5 / 3)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        nn.init.xavier_uniform_(mg.empty(3))


# ------------------------------------------------------------------ BatchNorm semantics

def _bn_run(dtype, shape, steps=3, momentum=0.1, affine=True):
    mg.manual_seed(0)
    cls = {2: nn.BatchNorm1d, 3: nn.BatchNorm1d, 4: nn.BatchNorm2d, 5: nn.BatchNorm3d}[len(shape)]
    bn = cls(shape[1], momentum=momentum, affine=affine).to(dtype)
    if affine:
        bn.weight.array[...] = np.linspace(0.5, 1.5, shape[1])
        bn.bias.array[...] = np.linspace(-0.2, 0.4, shape[1])
    rng = np.random.default_rng(1)
    out = []
    for step in range(steps + 1):
        bn.train(step < steps)
        # drawn in float32 so that both dtypes see the same values
        x = mg.tensor((rng.standard_normal(shape) * 2 + 3).astype(np.float32).astype(dtype.np),
                      requires_grad=True)
        y = bn(x)
        y.backward(mg.tensor(rng.standard_normal(shape).astype(np.float32).astype(dtype.np)))
        out += [y.detach().numpy(), x.grad.numpy()]
        out += [p.grad.numpy() for p in bn.parameters()]
        bn.zero_grad()
        out += [bn.running_mean.numpy().copy(), bn.running_var.numpy().copy()]
    return out


@pytest.mark.parametrize("shape", [(8, 5), (4, 3, 7), (4, 3, 5, 6), (2, 3, 2, 3, 4), (64, 3, 40, 40)],
                         ids=str)
@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("affine", [True, False])
def test_float32_batch_norm_agrees_with_float64(shape, momentum, affine):
    """The same inputs (rounded to float32) through the float32 kernels and the float64 ones:
    outputs, input/weight/bias gradients and running statistics over train and eval steps
    agree to float32's precision (the largest shape runs the kernels' threaded blocks)."""
    single = _bn_run(mg.float32, shape, momentum=momentum, affine=affine)
    double = _bn_run(mg.float64, shape, momentum=momentum, affine=affine)
    for i, (a, b) in enumerate(zip(single, double)):
        scale = max(np.abs(b).max(), 1e-30)
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-5 * scale, err_msg=f"item {i}")


def test_running_variance_is_unbiased_and_normalization_biased():
    x = np.arange(12, dtype=np.float64).reshape(4, 3) ** 1.5
    bn = nn.BatchNorm1d(3, momentum=1.0).double()
    y = bn(mg.tensor(x))
    np.testing.assert_allclose(bn.running_var.numpy(), x.var(0, ddof=1))
    np.testing.assert_allclose(y.detach().numpy(), (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5))


def test_momentum_none_is_a_cumulative_average():
    bn = nn.BatchNorm1d(2, momentum=None).double()
    rng = np.random.default_rng(0)
    batches = [rng.standard_normal((5, 2)) + i for i in range(3)]
    for b in batches:
        bn(mg.tensor(b))
    np.testing.assert_allclose(bn.running_mean.numpy(), np.mean([b.mean(0) for b in batches], 0))
    assert bn.num_batches_tracked.item() == 3


def test_eval_uses_running_stats_and_no_tracking_uses_batch_stats():
    bn = nn.BatchNorm1d(2).double()
    bn.running_mean.array[...] = [1.0, 2.0]
    bn.running_var.array[...] = [4.0, 9.0]
    bn.eval()
    y = bn(mg.tensor(np.array([[3.0, 5.0]])))  # one sample is fine in eval
    np.testing.assert_allclose(y.detach().numpy(), [[2 / math.sqrt(4 + 1e-5), 3 / math.sqrt(9 + 1e-5)]])
    assert bn.num_batches_tracked.item() == 0
    free = nn.BatchNorm1d(2, track_running_stats=False).double().eval()
    assert free.running_mean is None and "running_mean" not in free.state_dict()
    out = free(mg.tensor(np.array([[1.0, 2.0], [3.0, 6.0]])))
    np.testing.assert_allclose(out.detach().numpy(), [[-1, -1], [1, 1]], atol=1e-5)


def test_reset_running_stats_and_parameters():
    bn = nn.BatchNorm1d(2)
    bn(mg.randn(4, 2) + 3)
    bn.weight.array[...] = 5
    bn.reset_running_stats()
    assert bn.running_mean.tolist() == [0, 0] and bn.num_batches_tracked.item() == 0
    assert bn.weight.tolist() == [5, 5]
    bn.reset_parameters()
    assert bn.weight.tolist() == [1, 1]


def test_affine_false_has_no_parameters():
    bn = nn.BatchNorm2d(3, affine=False)
    assert bn.weight is None and bn.bias is None and list(bn.parameters()) == []


@pytest.mark.parametrize("shape", [(256, 4), (32, 3, 8, 8), (64, 3, 40, 40)])
def test_float32_batch_norm_of_a_large_mean_input_has_unit_std(shape):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) + 1e5).astype(np.float32)
    y = nn.BatchNorm1d(shape[1])(mg.tensor(x)) if len(shape) == 2 else \
        nn.BatchNorm2d(shape[1])(mg.tensor(x))
    dims = (0,) + tuple(range(2, len(shape)))
    y = y.detach().numpy().astype(np.float64)
    x64, eps32 = x.astype(np.float64), np.finfo(np.float32).eps
    mean, var = x64.mean(dims), x64.var(dims)
    # the std is sqrt(var / (var + eps)) of the float32 data as given, not 1: measured within
    # 8e-8 of it (1 - std is ~5e-6, eps's share); 4 float32 ulps allow for rounding the
    # variance, the scale and each output
    np.testing.assert_allclose(y.std(dims), np.sqrt(var / (var + 1e-5)), rtol=4 * eps32, atol=0)
    # the batch mean is held in float32, so the output is off-centre by up to half its ulp
    # (2**-8 at 1e5) over the std, measured up to 3.4e-3, plus the outputs' own rounding
    off_centre = np.spacing(mean.astype(np.float32)) / 2 / np.sqrt(var + 1e-5)
    assert np.all(np.abs(y.mean(dims)) <= off_centre + 4 * eps32)


def test_batch_renorm_with_rmax_1_dmax_0_is_batch_norm():
    rng = np.random.default_rng(0)
    renorm = nn.BatchRenorm2d(3, rmax=1.0, dmax=0.0).double()
    bn = nn.BatchNorm2d(3).double()
    for step in range(3):
        x = rng.standard_normal((4, 3, 2, 2)) * (step + 1) + step
        up = rng.standard_normal(x.shape)
        xs = [mg.tensor(x, requires_grad=True) for _ in range(2)]
        ys = [renorm(xs[0]), bn(xs[1])]
        for y in ys:
            y.backward(mg.tensor(up))
        np.testing.assert_allclose(ys[0].detach().numpy(), ys[1].detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(xs[0].grad.numpy(), xs[1].grad.numpy(), rtol=1e-9, atol=1e-12)
        for a, b in zip(renorm.parameters(), bn.parameters()):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10)
            a.grad = b.grad = None
        np.testing.assert_allclose(renorm.running_var.numpy(), bn.running_var.numpy(), rtol=1e-12)
    renorm.eval(), bn.eval()
    x = mg.tensor(rng.standard_normal((2, 3, 2, 2)))
    np.testing.assert_allclose(renorm(x).detach().numpy(), bn(x).detach().numpy(), rtol=1e-12)


def test_batch_renorm_corrects_toward_running_stats():
    renorm = nn.BatchRenorm1d(1, rmax=2.0, dmax=1.0, affine=False).double()
    renorm.running_mean.array[...] = 1.0
    renorm.running_var.array[...] = 4.0
    x = np.array([[0.0], [2.0]])  # batch mean 1 (= running), batch std ~1, running std ~2
    y = renorm(mg.tensor(x))
    # r = sigma_B / sigma (inside the clip range), d = 0: x is normalized by the running std
    np.testing.assert_allclose(y.detach().numpy().ravel(), np.array([-1, 1]) / math.sqrt(4 + 1e-5),
                               rtol=1e-12)


def test_batch_renorm_clipping_matches_algorithm_1_by_hand():
    """Ioffe (2017), Algorithm 1, in NumPy: r = clip(sigma_B / sigma, 1/rmax, rmax) and
    d = clip((mu_B - mu) / sigma, -dmax, dmax) as constants, x_hat = (x - mu_B) / sigma_B
    * r + d, y = gamma x_hat + beta, so dL/dx is BatchNorm's input gradient times r. The
    running statistics follow BatchNorm's rule (minigrad's documented choice, where the
    paper moves sigma itself), and sigma = sqrt(running_var + eps). The running statistics
    start far from the batches', so in the first step r and d clip on both sides (channels
    0 and 1) while channel 3 is inside both ranges."""
    rmax, dmax, eps, momentum = 1.5, 0.5, 1e-5, 0.1
    C, axes = 4, (0, 2, 3)
    gamma, beta = np.array([0.5, 1.5, -2.0, 1.0]), np.array([0.1, -0.3, 0.7, 0.0])
    mu, var = np.array([0.0, 6.0, 1.0, 2.2]), np.array([0.04, 1.0, 30.0, 1.1])
    renorm = nn.BatchRenorm2d(C, eps, momentum, rmax=rmax, dmax=dmax).double()
    renorm.weight.array[...], renorm.bias.array[...] = gamma, beta
    renorm.running_mean.array[...], renorm.running_var.array[...] = mu, var

    def per_channel(v):
        return v.reshape(1, C, 1, 1)

    rng = np.random.default_rng(4)
    for step in range(3):
        x = rng.standard_normal((5, C, 3, 2)) * [[[[1.0]], [[0.5]], [[2.0]], [[1.0]]]] + 2.0
        up = rng.standard_normal(x.shape)
        mu_b, var_b = x.mean(axes), x.var(axes)
        sigma_b, sigma = np.sqrt(var_b + eps), np.sqrt(var + eps)
        r_raw, d_raw = sigma_b / sigma, (mu_b - mu) / sigma
        if step == 0:
            assert list(np.sign(np.clip(r_raw, 1 / rmax, rmax) - r_raw)) == [-1, 1, 1, 0]
            assert list(np.sign(np.clip(d_raw, -dmax, dmax) - d_raw)) == [-1, 1, 0, 0]
        r, d = np.clip(r_raw, 1 / rmax, rmax), np.clip(d_raw, -dmax, dmax)
        x_bn = (x - per_channel(mu_b)) / per_channel(sigma_b)
        y = per_channel(gamma) * (x_bn * per_channel(r) + per_channel(d)) + per_channel(beta)
        dx_bn = up * per_channel(gamma * r)          # dL/dx_bn, r held constant
        dx = (dx_bn - per_channel(dx_bn.mean(axes))
              - x_bn * per_channel((dx_bn * x_bn).mean(axes))) / per_channel(sigma_b)
        n = x.size // C
        mu = (1 - momentum) * mu + momentum * mu_b
        var = (1 - momentum) * var + momentum * var_b * n / (n - 1)

        xt = mg.tensor(x, requires_grad=True)
        out = renorm(xt)
        out.backward(mg.tensor(up))
        np.testing.assert_allclose(out.detach().numpy(), y, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(xt.grad.numpy(), dx, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(renorm.weight.grad.numpy(),
                                   (up * (x_bn * per_channel(r) + per_channel(d))).sum(axes),
                                   rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(renorm.running_mean.numpy(), mu, rtol=1e-14, atol=0)
        np.testing.assert_allclose(renorm.running_var.numpy(), var, rtol=1e-14, atol=0)
        renorm.weight.grad = renorm.bias.grad = None
    renorm.eval()                                        # inference: the running statistics
    x = rng.standard_normal((2, C, 3, 2))
    np.testing.assert_allclose(
        renorm(mg.tensor(x)).detach().numpy(),
        per_channel(gamma) * (x - per_channel(mu)) / per_channel(np.sqrt(var + eps))
        + per_channel(beta), rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ errors

def test_batchnorm_errors():
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        nn.BatchNorm1d(3)(mg.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input\)"):
        nn.BatchNorm2d(3)(mg.randn(2, 3, 4))
    with pytest.raises(ValueError, match="expected 3 channels"):
        nn.BatchNorm1d(3)(mg.randn(2, 4))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        nn.BatchNorm1d(3)(mg.randn(1, 3))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        nn.BatchNorm2d(3)(mg.randn(1, 3, 1, 1))
    with pytest.raises(TypeError, match="input is minigrad.float32 but weight is minigrad.float64"):
        nn.BatchNorm1d(3).double()(mg.randn(4, 3))
    with pytest.raises(ValueError, match=r"running_mean must have shape \(3,\)"):
        F.batch_norm(mg.randn(4, 3), mg.zeros(4), mg.ones(3))
    with pytest.raises(ValueError, match="eps must be positive during training"):
        nn.BatchNorm1d(3, eps=0.0)(mg.randn(4, 3))
    nn.BatchNorm1d(3).eval()(mg.randn(1, 3))  # fine in eval
    with pytest.raises(ValueError, match="running_mean and running_var are needed"):
        F.batch_norm(mg.randn(2, 3), None, None, training=False)
    with pytest.raises(ValueError, match="divisible"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match="trailing shape"):
        F.layer_norm(mg.randn(2, 3), (4,))
    with pytest.raises(ValueError, match="rmax >= 1"):
        nn.BatchRenorm1d(3, rmax=0.5)


def test_layer_and_loss_errors():
    with pytest.raises(ValueError, match="Linear: expected input with 4 features"):
        nn.Linear(4, 2)(mg.randn(3, 5))
    with pytest.raises(TypeError, match="integer class indices"):
        F.cross_entropy(mg.randn(3, 4), mg.randn(3))
    with pytest.raises(ValueError, match=r"needs a target of shape \(3,\)"):
        F.cross_entropy(mg.randn(3, 4), mg.tensor([0, 1]))
    with pytest.raises(IndexError, match="target 7 is out of bounds for 4 classes"):
        F.cross_entropy(mg.randn(3, 4), mg.tensor([0, 1, 7]))
    with pytest.raises(ValueError, match="reduction must be"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="same shape"):
        F.mse_loss(mg.randn(3), mg.randn(4))
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


# ------------------------------------------------------------------ utils

def _trained_bn(bn, shape):
    bn.train()
    for i in range(3):
        bn(mg.randn(*shape, dtype=bn.running_mean.dtype) * (i + 2) + i)
    if bn.weight is not None:
        bn.weight.array[...] = np.linspace(0.5, 2, bn.num_features)
        bn.bias.array[...] = np.linspace(-1, 1, bn.num_features)
    return bn.eval()


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_fuse_conv_bn_eval_gives_the_same_outputs(bias, affine):
    conv = nn.Conv2d(3, 5, 3, padding=1, bias=bias).double().eval()
    bn = _trained_bn(nn.BatchNorm2d(5, affine=affine).double(), (4, 5, 6, 6))
    fused = nn.utils.fuse_conv_bn_eval(conv, bn)
    x = mg.randn(2, 3, 6, 6, dtype=mg.float64)
    np.testing.assert_allclose(fused(x).detach().numpy(), bn(conv(x)).detach().numpy(), rtol=1e-10, atol=1e-12)
    assert fused is not conv and fused.bias is not None


def test_fuse_linear_bn_eval_gives_the_same_outputs():
    lin = nn.Linear(4, 3).double().eval()
    bn = _trained_bn(nn.BatchNorm1d(3).double(), (8, 3))
    fused = nn.utils.fuse_linear_bn_eval(lin, bn)
    x = mg.randn(5, 4, dtype=mg.float64)
    np.testing.assert_allclose(fused(x).detach().numpy(), bn(lin(x)).detach().numpy(), rtol=1e-10, atol=1e-12)


def test_fusion_in_training_mode_is_an_error():
    conv, bn = nn.Conv2d(3, 5, 3), nn.BatchNorm2d(5)
    with pytest.raises(RuntimeError, match="only defined for inference"):
        nn.utils.fuse_conv_bn_eval(conv, bn)
    with pytest.raises(ValueError, match="BatchNorm has 4 features but the layer has 5"):
        nn.utils.fuse_conv_bn_eval(conv.eval(), nn.BatchNorm2d(4).eval())
    with pytest.raises(TypeError, match="expected a Linear"):
        nn.utils.fuse_linear_bn_eval(conv, bn)


def test_freeze_batchnorm_survives_train():
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU())
    net(mg.randn(8, 3))
    nn.utils.freeze_batchnorm(net)
    bn = net[1]
    stats = (bn.running_mean.numpy().copy(), bn.num_batches_tracked.item())
    net.train()
    assert net.training and net[0].training and not bn.training
    out = net(mg.randn(8, 3) * 5 + 3)
    np.testing.assert_array_equal(bn.running_mean.numpy(), stats[0])
    assert bn.num_batches_tracked.item() == stats[1]
    assert not bn.weight.requires_grad and not bn.bias.requires_grad
    out.sum().backward()
    assert bn.weight.grad is None and net[0].weight.grad is not None
    nn.utils.unfreeze_batchnorm(net)
    assert bn.training and bn.weight.requires_grad


def test_clip_grad_norm():
    a = nn.Parameter(mg.zeros(3))
    b = nn.Parameter(mg.zeros(4))
    a.grad, b.grad = mg.tensor([3.0, 0.0, 0.0]), mg.tensor([0.0, 4.0, 0.0, 0.0])
    norm = nn.utils.clip_grad_norm_([a, b], 1.0)
    assert norm.item() == pytest.approx(5.0)
    total = math.sqrt((a.grad.numpy() ** 2).sum() + (b.grad.numpy() ** 2).sum())
    assert total == pytest.approx(1.0, rel=1e-5)
    assert nn.utils.clip_grad_norm_([a, b], 10.0).item() == pytest.approx(1.0, rel=1e-5)
    a.grad = mg.tensor([float("inf"), 0.0, 0.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_([a], 1.0, error_if_nonfinite=True)


def test_conv_and_pool_errors():
    with pytest.raises(ValueError, match="expects input with 3 channels"):
        nn.Conv2d(3, 4, 3)(mg.randn(1, 4, 5, 5))
    with pytest.raises(ValueError, match="smaller than the dilated kernel"):
        nn.Conv2d(3, 4, 5)(mg.randn(1, 3, 3, 3))
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(TypeError, match="input is minigrad.float64 but weight is minigrad.float32"):
        nn.Conv2d(3, 4, 3)(mg.randn(1, 3, 5, 5, dtype=mg.float64))
    with pytest.raises(ValueError, match="padding='same' needs stride 1"):
        F.conv2d(mg.randn(1, 3, 5, 5), mg.randn(2, 3, 3, 3), stride=2, padding="same")
    with pytest.raises(ValueError, match=r"expected a 3-D \(C, H, W\) or 4-D \(N, C, H, W\) input"):
        F.conv2d(mg.randn(5, 5), mg.randn(2, 3, 3, 3))
    with pytest.raises(ValueError, match="at most half of the kernel"):
        nn.MaxPool2d(2, padding=2)(mg.randn(1, 1, 6, 6))
    with pytest.raises(ValueError, match="too small"):
        nn.MaxPool2d(4)(mg.randn(1, 1, 3, 3))
    with pytest.raises(ValueError, match="max_pool2d: expected a 3-D"):
        nn.MaxPool2d(2)(mg.randn(4, 4))
    with pytest.raises(ValueError, match="output size"):
        nn.AdaptiveAvgPool2d(0)(mg.randn(1, 1, 4, 4))


def test_degenerate_layer_arguments_are_named():
    with pytest.raises(ValueError, match="Conv2d: groups must be a positive integer, got 0"):
        nn.Conv2d(2, 4, 3, groups=0)
    with pytest.raises(ValueError, match="Conv2d: groups must be a positive integer, got -1"):
        nn.Conv2d(2, 4, 3, groups=-1)
    with pytest.raises(ValueError, match="Conv1d: in_channels must be a non-negative"):
        nn.Conv1d(-1, 4, 3)
    with pytest.raises(ValueError, match="conv2d: kernel size should be greater than zero"):
        nn.Conv2d(1, 3, 0)(mg.zeros(1, 1, 4, 4))   # (built, as in PyTorch; refused when run)
    with pytest.raises(ValueError, match="conv2d: groups must be a positive integer"):
        F.conv2d(mg.zeros(1, 2, 4, 4), mg.zeros(2, 2, 3, 3), groups=0)
    with pytest.raises(ValueError, match="Linear: expected input with 3 features .* got shape"):
        nn.Linear(3, 2)(mg.tensor(1.0))
    with pytest.raises(ValueError, match="linear: input of shape"):
        F.linear(mg.tensor(1.0), mg.zeros(2, 3))


@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "conv2d"])
@pytest.mark.parametrize("dtype", [np.int64, np.bool_])
def test_pools_and_conv_name_an_unsupported_dtype(op, dtype):
    x = mg.tensor(np.ones((1, 1, 4, 4), dtype=dtype))
    call = {"max_pool2d": lambda: F.max_pool2d(x, 2), "avg_pool2d": lambda: F.avg_pool2d(x, 2),
            "adaptive_avg_pool2d": lambda: F.adaptive_avg_pool2d(x, 2),
            "conv2d": lambda: F.conv2d(x, mg.tensor(np.ones((1, 1, 3, 3), dtype=dtype)))}[op]
    if op == "max_pool2d" and dtype is np.int64:  # (PyTorch max-pools integers)
        assert call().tolist() == [[[[1, 1], [1, 1]]]]
        return
    with pytest.raises(TypeError, match=f"{op}: expected (float32 or float64|a floating point)"
                                        f" .*{np.dtype(dtype)}"):
        call()


def test_layers_with_zero_input_features_build_and_run_like_torch():
    """PyTorch builds Linear(0, 3) and Conv2d(0, 3, 3) (init of an empty weight is a no-op,
    the bias bound 1/sqrt(fan_in) becomes 0): the output is the bias, its gradient counts."""
    with pytest.warns(UserWarning, match="zero-element"):
        lin = nn.Linear(0, 3)
    x = mg.zeros(2, 0, requires_grad=True)
    y = lin(x)
    y.sum().backward()
    assert y.shape == (2, 3) and np.all(y.detach().numpy() == lin.bias.detach().numpy())
    assert np.all(lin.bias.detach().numpy() == 0)   # U(-0, 0)
    np.testing.assert_array_equal(lin.bias.grad.numpy(), [2, 2, 2])
    assert lin.weight.grad.shape == (3, 0) and x.grad.shape == (2, 0)
    with pytest.warns(UserWarning, match="zero-element"):
        conv = nn.Conv2d(0, 3, 3)
    y = conv(mg.zeros(1, 0, 5, 5))
    y.sum().backward()
    assert y.shape == (1, 3, 3, 3)
    np.testing.assert_array_equal(conv.bias.grad.numpy(), [9, 9, 9])


def test_a_gradient_must_fit_its_tensor():
    p = nn.Parameter(mg.zeros(3))
    with pytest.raises(RuntimeError, match=r"gradient of shape \(1,\) to a tensor of shape \(3,\)"):
        p.grad = mg.ones(1)
    with pytest.raises(RuntimeError, match="dtype minigrad.float64 to a tensor of dtype minigrad.float32"):
        p.grad = mg.ones(3, dtype=mg.float64)
    with pytest.raises(TypeError, match="Tensor or None"):
        p.grad = np.ones(3, dtype=np.float32)
    p.grad = mg.ones(3)
    mg.optim.SGD([p], lr=0.5).step()
    np.testing.assert_array_equal(p.detach().numpy(), [-0.5, -0.5, -0.5])
    p.grad = None
    assert p.grad is None
