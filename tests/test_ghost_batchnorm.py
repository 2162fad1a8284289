"""Ghost Batch Normalization, ``BatchNorm*d(virtual_batch_size=...)`` (Hoffer et al. 2017, with
Keras's semantics): outputs and gradients against torch's BatchNorm applied to each strided
sub-batch, running statistics against NumPy, the errors, eval mode, and the default path."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.errors import InvalidArgument
from minigrad.gradcheck import CASES, _load_registries
from minigrad.nn import functional as F

MODULES = {2: nn.BatchNorm1d, 3: nn.BatchNorm1d, 4: nn.BatchNorm2d, 5: nn.BatchNorm3d}


def _keras_ghost(x, size, eps=1e-5):
    """NumPy, as Keras computes it: x reshaped to (size, N / size, ...), moments over the
    first axis and the spatial ones, per (sub-batch, channel); returns the normalized x and
    the (sub-batch, channel) biased means and variances."""
    G, C = x.shape[0] // size, x.shape[1]
    xs = x.reshape(size, G, C, -1)
    mean, var = xs.mean((0, 3), keepdims=True), xs.var((0, 3), keepdims=True)
    return ((xs - mean) / np.sqrt(var + eps)).reshape(x.shape), mean.reshape(G, C), \
        var.reshape(G, C)


SHAPES = [((8, 3), 2), ((8, 3), 4), ((6, 2, 5), 3), ((8, 3, 3, 2), 2), ((6, 2, 2, 2, 3), 2),
          ((4, 3), 4), ((9, 2, 1), 3)]


@pytest.mark.parametrize("shape, size", SHAPES)
@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-12), ("float32", 1e-6)])
def test_forward_and_running_stats_match_keras_semantics(shape, size, dtype, rtol, rng):
    x = (rng.standard_normal(shape) * 3 + 2).astype(dtype)
    C = shape[1]
    bn = MODULES[len(shape)](C, momentum=0.2, virtual_batch_size=size).to(dtype=getattr(mg, dtype))
    with mg.no_grad():
        bn.weight.copy_(mg.tensor(rng.uniform(0.5, 2, C).astype(dtype)))
        bn.bias.copy_(mg.tensor(rng.standard_normal(C).astype(dtype)))
        bn.running_mean.copy_(mg.tensor(rng.standard_normal(C).astype(dtype)))
    rm0, rv0 = bn.running_mean.numpy().astype(np.float64), bn.running_var.numpy().astype(float)
    y = bn(mg.tensor(x)).detach().numpy()
    x64 = x.astype(np.float64)
    x_hat, mean, var = _keras_ghost(x64, size)
    view = (1, C) + (1,) * (len(shape) - 2)
    expected = x_hat * bn.weight.detach().numpy().reshape(view) + \
        bn.bias.detach().numpy().reshape(view)
    np.testing.assert_allclose(y, expected, rtol=rtol, atol=rtol)
    # the running statistics move once, toward the sub-batches' average mean and unbiased
    # variance (n values per channel in a sub-batch)
    n = size * int(np.prod(shape[2:]))
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.8 * rm0 + 0.2 * mean.mean(0),
                               rtol=rtol, atol=rtol)
    np.testing.assert_allclose(bn.running_var.numpy(),
                               0.8 * rv0 + 0.2 * (var * n / (n - 1)).mean(0), rtol=rtol)
    assert int(bn.num_batches_tracked.item()) == 1


@pytest.mark.parametrize("shape, size", SHAPES)
def test_values_and_gradients_match_torch_batchnorm_per_strided_sub_batch(torch, shape, size,
                                                                           rng):
    """The reference is torch's own BatchNorm applied to each sub-batch x[g::G]."""
    C, G = shape[1], shape[0] // size
    x, w, b = (rng.standard_normal(shape) * 2 + 1, rng.uniform(0.5, 2, C),
               rng.standard_normal(C))
    up = rng.standard_normal(shape)   # (a sum() upstream would make dx vanish)
    xm, wm, bm = (mg.tensor(a, requires_grad=True) for a in (x, w, b))
    y = F.batch_norm(xm, None, None, wm, bm, True, virtual_batch_size=size)
    y.backward(mg.tensor(up))
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yt = torch.empty(shape, dtype=torch.float64)
    for g in range(G):
        yt[g::G] = torch.nn.functional.batch_norm(xt[g::G], None, None, wt, bt, training=True)
    yt.backward(torch.tensor(up))
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-13)
    for ours, theirs in ((xm, xt), (wm, wt), (bm, bt)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10,
                                   atol=1e-12)


def test_sub_batches_are_strided_not_contiguous(rng):
    """With 4 samples in sub-batches of 2, samples 0 and 2 share statistics (Keras's
    reshape to (2, 2, ...)): changing sample 1 leaves the outputs of 0 and 2 as they were."""
    x = rng.standard_normal((4, 3))
    y = F.batch_norm(mg.tensor(x), None, None, training=True, virtual_batch_size=2).numpy()
    x2 = x.copy()
    x2[1] += 5.0
    y2 = F.batch_norm(mg.tensor(x2), None, None, training=True, virtual_batch_size=2).numpy()
    np.testing.assert_array_equal(y2[[0, 2]], y[[0, 2]])
    assert np.abs(y2[[1, 3]] - y[[1, 3]]).max() > 0.1


@pytest.mark.parametrize("shape", [(6, 4), (6, 2, 3), (4, 3, 2, 2)])
def test_one_virtual_batch_is_batch_norm(shape, rng):
    x = rng.standard_normal(shape)
    ghost, plain = (MODULES[len(shape)](shape[1], virtual_batch_size=size).double()
                    for size in (shape[0], None))
    np.testing.assert_allclose(ghost(mg.tensor(x)).detach().numpy(),
                               plain(mg.tensor(x)).detach().numpy(), rtol=1e-14, atol=1e-15)
    for name in ("running_mean", "running_var"):
        np.testing.assert_allclose(getattr(ghost, name).numpy(), getattr(plain, name).numpy(),
                                   rtol=1e-14)


def test_momentum_none_is_a_cumulative_average(rng):
    bn = nn.BatchNorm1d(2, momentum=None, virtual_batch_size=2).double()
    batches = [rng.standard_normal((6, 2)) * (i + 1) for i in range(3)]
    for x in batches:
        bn(mg.tensor(x))
    means = [_keras_ghost(x, 2)[1].mean(0) for x in batches]
    variances = [(_keras_ghost(x, 2)[2] * 2).mean(0) for x in batches]   # n / (n - 1) = 2
    np.testing.assert_allclose(bn.running_mean.numpy(), np.mean(means, 0), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), np.mean(variances, 0), rtol=1e-12)


def test_eval_uses_the_running_statistics_at_any_batch_size(rng):
    bn = nn.BatchNorm2d(3, virtual_batch_size=4).double()
    bn(mg.tensor(rng.standard_normal((8, 3, 2, 2))))
    plain = nn.BatchNorm2d(3).double()
    plain.load_state_dict(bn.state_dict())
    bn.eval(), plain.eval()
    x = rng.standard_normal((5, 3, 2, 2))   # (5: not a multiple of 4; eval does not split)
    np.testing.assert_array_equal(bn(mg.tensor(x)).detach().numpy(),
                                  plain(mg.tensor(x)).detach().numpy())


def test_without_running_statistics_eval_normalizes_sub_batches_too(rng):
    """Where batch statistics are used in eval (track_running_stats=False), they are the
    sub-batches' too: virtual_batch_size applies wherever batch statistics do."""
    bn = nn.BatchNorm1d(2, affine=False, track_running_stats=False,
                        virtual_batch_size=2).double().eval()
    x = rng.standard_normal((4, 2))
    np.testing.assert_allclose(bn(mg.tensor(x)).numpy(), _keras_ghost(x, 2)[0], rtol=1e-12)


def test_errors_name_the_op_the_shapes_and_what_is_expected():
    bn = nn.BatchNorm1d(3, virtual_batch_size=4)
    with pytest.raises(InvalidArgument, match=r"virtual_batch_size=4 must divide the batch "
                                              r"size, got input of shape \(6, 3\)"):
        bn(mg.randn(6, 3))
    for bad in (0, -2, 2.0, True, "4"):
        with pytest.raises(ValueError, match="BatchNorm2d: virtual_batch_size must be a "
                                             "positive integer"):
            nn.BatchNorm2d(3, virtual_batch_size=bad)
        with pytest.raises(InvalidArgument, match="batch_norm: virtual_batch_size must be"):
            F.batch_norm(mg.randn(4, 3), None, None, training=True, virtual_batch_size=bad)
    with pytest.raises(InvalidArgument, match="Expected more than 1 value per channel in "
                                              "each virtual batch"):
        nn.BatchNorm1d(3, virtual_batch_size=1)(mg.randn(4, 3))
    with pytest.raises(InvalidArgument, match="combines with neither mask"):
        nn.BatchNorm1d(3, virtual_batch_size=2)(mg.randn(4, 3), mask=np.ones(4, bool))
    with pytest.raises(ValueError, match="SyncBatchNorm does not support"):
        nn.SyncBatchNorm.convert_sync_batchnorm(
            nn.Sequential(nn.BatchNorm1d(3, virtual_batch_size=2)))


def test_default_path_is_plain_batch_norm(rng):
    bn = nn.BatchNorm1d(3)
    assert bn.virtual_batch_size is None and "virtual_batch_size" not in repr(bn)
    assert "virtual_batch_size=2" in repr(nn.BatchNorm1d(3, virtual_batch_size=2))
    assert list(nn.BatchNorm1d(3, virtual_batch_size=2).state_dict()) == list(bn.state_dict())
    lazy = nn.LazyBatchNorm2d(virtual_batch_size=2)
    lazy(mg.randn(4, 3, 2, 2))
    assert type(lazy) is nn.BatchNorm2d and lazy.virtual_batch_size == 2


def test_registered_in_the_gradient_checks():
    _load_registries()
    ghost = [c for c in CASES if c.name == "batch_norm train ghost"]
    assert len(ghost) >= 3 and all(c.second_order for c in ghost)
