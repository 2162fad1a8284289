"""Lazy modules against PyTorch: uninitialized parameters and buffers, materialization at
the first forward (shape, dtype, default initialization), the class they become, state
dicts before and after, and d2l.ai's BatchNorm LeNet built from them."""
import copy

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad.nn.parameter import UninitializedBuffer, UninitializedParameter, is_lazy

LAZY = [(lambda m: m.LazyLinear(4), (3, 5)), (lambda m: m.LazyConv1d(4, 3), (2, 3, 7)),
        (lambda m: m.LazyConv2d(4, (3, 2), stride=2, padding=1), (2, 3, 7, 6)),
        (lambda m: m.LazyConv2d(6, 3, groups=3, bias=False), (2, 3, 7, 6)),
        (lambda m: m.LazyConv3d(4, 2, dilation=(1, 2, 1)), (2, 3, 4, 6, 5)),
        (lambda m: m.LazyBatchNorm1d(), (4, 3)), (lambda m: m.LazyBatchNorm1d(), (4, 3, 5)),
        (lambda m: m.LazyBatchNorm2d(momentum=None), (4, 3, 2, 3)),
        (lambda m: m.LazyBatchNorm3d(affine=False), (4, 3, 2, 2, 2)),
        (lambda m: m.LazyBatchNorm2d(bias=False), (4, 3, 2, 3))]


def R(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ---------------------------------------------------------------- without torch

def test_uninitialized_parameter_is_a_parameter_of_unknown_shape():
    p = UninitializedParameter()
    assert isinstance(p, nn.Parameter) and is_lazy(p) and p.requires_grad and p.is_leaf
    assert p.dtype == mg.float32 and str(p.device) == "cpu"
    assert repr(p) == "<UninitializedParameter>"
    assert UninitializedParameter(dtype=mg.float64).dtype == mg.float64
    assert not UninitializedParameter(requires_grad=False).requires_grad
    b = UninitializedBuffer()
    assert not isinstance(b, nn.Parameter) and is_lazy(b) and not b.requires_grad
    with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized"):
        p.shape
    for use in (lambda: p + 1, lambda: p.sum(), lambda: p.numel(), lambda: mg.nn.init.zeros_(p),
                lambda: p.detach().numpy(), lambda: np.asarray(p.array), lambda: p * 2.0,
                lambda: mg.nn.functional.linear(mg.ones(2, 3), p)):
        with pytest.raises(ValueError, match="Attempted to use an uninitialized parameter"):
            use()
    p.materialize((2, 3))
    assert type(p) is nn.Parameter and p.shape == (2, 3) and p.dtype == mg.float32
    b.materialize((4,), dtype=mg.float64)
    assert type(b) is mg.Tensor and b.dtype == mg.float64 and not is_lazy(b)


def test_lazy_linear_lifecycle():
    m = nn.LazyLinear(3)
    assert repr(m) == "LazyLinear(in_features=0, out_features=3, bias=True)"
    assert m.has_uninitialized_params() and nn.LazyLinear.cls_to_become is nn.Linear
    assert [(n, type(p).__name__) for n, p in m.named_parameters()] == \
        [("weight", "UninitializedParameter"), ("bias", "UninitializedParameter")]
    sd = m.state_dict()
    assert list(sd) == ["weight", "bias"] and all(is_lazy(v) for v in sd.values())
    opt = mg.optim.SGD(m.parameters(), lr=0.5)  # (allowed before the dry run, as in torch)
    weight = m.weight
    with pytest.raises(ValueError, match="uninitialized parameter"):
        sum(p.numel() for p in m.parameters())
    x = mg.randn(2, 5)
    y = m(x)
    assert type(m) is nn.Linear and not hasattr(m, "_initialize_hook")
    assert repr(m) == "Linear(in_features=5, out_features=3, bias=True)"
    assert m.weight is weight and type(weight) is nn.Parameter and weight.shape == (3, 5)
    assert not m.has_uninitialized_params() if hasattr(m, "has_uninitialized_params") else True
    assert not m._forward_pre_hooks
    bound = 1 / np.sqrt(5)  # Linear's default initialization
    assert np.abs(m.weight.detach().numpy()).max() <= bound
    assert np.abs(m.bias.detach().numpy()).max() <= bound
    assert np.unique(m.weight.detach().numpy()).size == 15
    y.sum().backward()
    before = m.weight.detach().numpy().copy()
    opt.step()  # the optimizer built before the dry run holds the same parameters
    np.testing.assert_allclose(m.weight.detach().numpy(), before - 0.5 * m.weight.grad.numpy())


def test_lazy_modules_take_dtype_and_module_conversions():
    m = nn.LazyLinear(3, bias=False, dtype=mg.float64)
    assert m.bias is None and list(m.state_dict()) == ["weight"]
    m(mg.randn(2, 4).double())
    assert m.weight.dtype == mg.float64
    net = nn.Sequential(nn.LazyConv2d(2, 3), nn.LazyBatchNorm2d()).double().to("cpu")
    assert str(net[0].weight.device) == "cpu" and net[1].running_mean.dtype == mg.float64
    assert all(t.dtype == mg.float64 for t in net.state_dict().values()
               if t.dtype != mg.int64)
    net(mg.randn(1, 3, 5, 5).double())
    assert net[0].weight.dtype == mg.float64 and net[1].running_var.dtype == mg.float64
    assert net.to("cpu") is net


def test_initialize_parameters_and_errors():
    m = nn.LazyLinear(3)
    m.initialize_parameters(mg.ones(2, 4))
    assert not m.has_uninitialized_params() and type(m) is nn.LazyLinear and m.in_features == 4
    m(mg.ones(2, 4))
    assert type(m) is nn.Linear
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.LazyConv2d(6, 3, groups=2)(mg.ones(1, 3, 5, 5))
    with pytest.raises(RuntimeError, match=r"Expected 3D \(unbatched\) or 4D \(batched\) input "
                                           r"to LazyConv2d"):
        nn.LazyConv2d(6, 3)(mg.ones(5, 5))
    c = nn.LazyConv2d(4, 3)
    c(mg.ones(3, 5, 5))  # unbatched: channels in dim 0
    assert c.weight.shape == (4, 3, 3, 3)
    with pytest.raises(NotImplementedError, match="padding_mode"):
        nn.LazyConv2d(4, 3, padding_mode="reflect")

    class Broken(nn.modules.lazy.LazyModuleMixin, nn.Module):
        def __init__(self):
            super().__init__()
            self.w = UninitializedParameter()

        def initialize_parameters(self, x):
            pass

    with pytest.raises(RuntimeError, match="Broken has not been fully initialized"):
        Broken()(mg.ones(2))
    with pytest.raises(NotImplementedError, match="initialize_parameters"):
        nn.modules.lazy.LazyModuleMixin.initialize_parameters(Broken())


def test_lazy_state_dicts():
    lazy, full = nn.LazyLinear(2), nn.Linear(4, 2)
    lazy.load_state_dict(full.state_dict())  # materializes to the stored shapes
    assert type(lazy) is nn.LazyLinear and not lazy.has_uninitialized_params()
    np.testing.assert_array_equal(lazy.weight.detach().numpy(), full.weight.detach().numpy())
    x = mg.randn(3, 4)
    np.testing.assert_array_equal(lazy(x).detach().numpy(), full(x).detach().numpy())
    assert type(lazy) is nn.Linear and repr(lazy).startswith("Linear(in_features=0,")
    other = nn.LazyLinear(2)
    assert other.load_state_dict(nn.LazyLinear(2).state_dict()) == ([], [])
    assert other.has_uninitialized_params()
    with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized"):
        nn.Linear(4, 2).load_state_dict(nn.LazyLinear(2).state_dict())
    with pytest.raises(RuntimeError, match='Missing key.*"bias"'):
        nn.LazyLinear(2).load_state_dict({"weight": np.ones((2, 4))})
    bn = nn.LazyBatchNorm1d()
    bn.load_state_dict(nn.BatchNorm1d(3).state_dict())
    out = bn(mg.randn(5, 3))
    assert type(bn) is nn.BatchNorm1d and out.shape == (5, 3)
    copied = copy.deepcopy(nn.LazyConv2d(2, 3))
    copied(mg.ones(1, 4, 5, 5))
    assert type(copied) is nn.Conv2d and copied.in_channels == 4


def test_lazy_batchnorm_without_affine_or_statistics():
    m = nn.LazyBatchNorm1d(affine=False, track_running_stats=False)
    assert not m.has_uninitialized_params() and list(m.state_dict()) == []
    m(mg.randn(4, 3))
    assert type(m) is nn.BatchNorm1d and m.num_features == 0  # (PyTorch's, too)


# ---------------------------------------------------------------- against torch

@pytest.mark.parametrize("make, shape", LAZY)
def test_lazy_modules_match_torch(torch, make, shape):
    m, t = make(nn), make(torch.nn)
    assert repr(m) == repr(t)
    assert [(n, type(p).__name__) for n, p in m.named_parameters()] == \
        [(n, type(p).__name__) for n, p in t.named_parameters()]
    assert [(k, type(v).__name__) for k, v in m.state_dict().items()] == \
        [(k, type(v).__name__) for k, v in t.state_dict().items()]
    m, t = m.double(), t.double()
    x = R(*shape)
    m(mg.tensor(x))
    t(torch.tensor(x))
    assert type(m).__name__ == type(t).__name__ and repr(m) == repr(t)
    assert [(n, tuple(p.shape)) for n, p in m.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in t.named_parameters()]
    if not isinstance(t, torch.nn.modules.batchnorm._BatchNorm):
        for n, p in m.named_parameters():  # the ordinary class's initialization bounds
            bound = 1 / np.sqrt(np.prod(p.shape[1:]) if n == "weight" else
                                np.prod(m.weight.shape[1:]))
            assert np.abs(p.detach().numpy()).max() <= bound
    # torch's state dict loads unchanged; then outputs and every gradient agree
    m.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    mx, tx = mg.tensor(R(*shape, seed=1), requires_grad=True), \
        torch.tensor(R(*shape, seed=1), requires_grad=True)
    my, ty = m(mx), t(tx)
    np.testing.assert_allclose(my.detach().numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = R(*ty.shape, seed=2)
    (my * mg.tensor(g)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(mx.grad.numpy(), tx.grad.numpy(), rtol=1e-11, atol=1e-12)
    for n, p in m.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), t.get_parameter(n).grad.numpy(),
                                   rtol=1e-11, atol=1e-12, err_msg=n)
    for k, v in m.state_dict().items():
        np.testing.assert_allclose(v.numpy(), t.state_dict()[k].numpy(), rtol=1e-12, err_msg=k)


def _d2l_bn_lenet(nn):
    """d2l.ai, chapter 'Batch Normalization': LeNet with BatchNorm, built lazily."""
    return nn.Sequential(
        nn.LazyConv2d(6, kernel_size=5), nn.LazyBatchNorm2d(), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.LazyConv2d(16, kernel_size=5), nn.LazyBatchNorm2d(), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(),
        nn.LazyLinear(120), nn.LazyBatchNorm1d(), nn.Sigmoid(),
        nn.LazyLinear(84), nn.LazyBatchNorm1d(), nn.Sigmoid(),
        nn.LazyLinear(10))


@pytest.mark.parametrize("dry_run", [True, False])
def test_d2l_batchnorm_lenet_matches_torch(torch, dry_run):
    """After a dry run (or with no dry run at all: loading materializes), torch's weights
    load unchanged; two training steps then agree: outputs, input and parameter
    gradients, running statistics."""
    m, t = _d2l_bn_lenet(nn).double(), _d2l_bn_lenet(torch.nn).double()
    assert repr(m) == repr(t)
    t(torch.zeros(2, 1, 28, 28, dtype=torch.float64))
    if dry_run:
        m(mg.zeros(2, 1, 28, 28, dtype=mg.float64))
        assert repr(m) == repr(t)
    m.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    assert list(m.state_dict()) == list(t.state_dict())
    mopt = mg.optim.SGD(m.parameters(), lr=0.1)
    topt = torch.optim.SGD(t.parameters(), lr=0.1)
    for step in range(2):
        x = R(4, 1, 28, 28, seed=step)
        mx, tx = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        my, ty = m(mx), t(tx)
        np.testing.assert_allclose(my.detach().numpy(), ty.detach().numpy(), rtol=1e-10,
                                   atol=1e-12)
        g = R(4, 10, seed=10 + step)
        (my * mg.tensor(g)).sum().backward()
        (ty * torch.tensor(g)).sum().backward()
        np.testing.assert_allclose(mx.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-13)
        for n, p in m.named_parameters():
            np.testing.assert_allclose(p.grad.numpy(), t.get_parameter(n).grad.numpy(),
                                       rtol=1e-9, atol=1e-12, err_msg=n)
        mopt.step(), topt.step()
        mopt.zero_grad(), topt.zero_grad()
    if dry_run:  # (loaded without one, the sizes stay 0 in the repr, as in PyTorch)
        assert repr(m) == repr(t)
    for k, v in m.state_dict().items():
        np.testing.assert_allclose(v.numpy(), t.state_dict()[k].numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=k)
    m.eval(), t.eval()
    x = R(3, 1, 28, 28, seed=5)
    np.testing.assert_allclose(m(mg.tensor(x)).detach().numpy(),
                               t(torch.tensor(x)).detach().numpy(), rtol=1e-10, atol=1e-12)


def test_lazy_modules_materialize_on_their_device(device):
    """Built for a device (device=) or moved there before the dry run (Module.to)."""
    x = mg.tensor(R(2, 3, 5, 5)).to(device)
    for m in (nn.Sequential(nn.LazyConv2d(2, 3, device=device), nn.LazyBatchNorm2d(device=device)),
              nn.Sequential(nn.LazyConv2d(2, 3), nn.LazyBatchNorm2d()).double().to(device)):
        y = m(x.to(m[0].weight.dtype))
        assert y.device == x.device and m[0].weight.device == x.device
        assert m[1].running_mean.device == x.device and type(m[1]) is nn.BatchNorm2d
