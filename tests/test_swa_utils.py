"""minigrad.optim.swa_utils against torch.optim.swa_utils: update_bn's recomputed BatchNorm
statistics, AveragedModel's averages, SWALR's learning rates."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad.optim import swa_utils


def _net(lib, dtype):
    L = lib.nn
    return L.Sequential(
        L.Conv2d(2, 3, 3, padding=1), L.BatchNorm2d(3, momentum=0.3), L.ReLU(),
        L.Flatten(), L.Linear(3 * 4 * 4, 5), L.BatchNorm1d(5), L.Tanh(), L.Linear(5, 2)).to(
        dtype=getattr(lib, dtype))


def _pair(torch, dtype="float64", seed=0):
    """The same net in torch and minigrad, with the same weights and running statistics."""
    torch.manual_seed(seed)
    tm = _net(torch, dtype)
    with torch.no_grad():   # running statistics away from their reset values
        for m in tm.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
    mm = _net(mg, dtype)
    mm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    return mm, tm


def _data(dtype, n=5, batch=6, seed=1):
    rng = np.random.default_rng(seed)
    return [((rng.standard_normal((batch, 2, 4, 4)) * 2 + 0.5).astype(dtype),
             rng.integers(0, 2, batch)) for _ in range(n)]


def _same_buffers(mm, tm, rtol):
    for (name, b), (tname, tb) in zip(mm.named_buffers(), tm.named_buffers(), strict=True):
        assert name == tname
        np.testing.assert_allclose(b.numpy(), tb.numpy(), rtol=rtol, atol=0, err_msg=name)


@pytest.mark.parametrize("dtype, rtol", [("float32", 1e-6), ("float64", 1e-12)])
@pytest.mark.parametrize("batches", ["tensors", "tuples", "lists"])
@pytest.mark.parametrize("training", [True, False])
def test_update_bn_matches_torch(torch, dtype, rtol, batches, training):
    mm, tm = _pair(torch, dtype)
    mm.train(training), tm.train(training)
    data = _data(dtype)

    def loader(lib):
        if batches == "tensors":
            return [lib.tensor(x) for x, _ in data]
        pack = tuple if batches == "tuples" else list
        return [pack((lib.tensor(x), lib.tensor(y))) for x, y in data]

    swa_utils.update_bn(loader(mg), mm)
    torch.optim.swa_utils.update_bn(loader(torch), tm)
    _same_buffers(mm, tm, rtol)
    assert int(mm[1].num_batches_tracked.item()) == len(data)
    # momenta and the mode are restored
    assert [m.momentum for m in (mm[1], mm[5])] == [0.3, 0.1]
    assert mm.training is training and all(m.training is training for m in mm.modules())


def test_update_bn_is_the_average_over_batches(torch):
    """The statistics are the plain mean over batches of each batch's mean and unbiased
    variance (momentum None: a cumulative average), not an exponential average."""
    mm, _ = _pair(torch)
    data = _data("float64", n=4)
    swa_utils.update_bn([mg.tensor(x) for x, _ in data], mm)
    feats = [mm[0](mg.tensor(x)).detach().numpy() for x, _ in data]
    np.testing.assert_allclose(mm[1].running_mean.numpy(),
                               np.mean([f.mean((0, 2, 3)) for f in feats], 0), rtol=1e-12)
    np.testing.assert_allclose(mm[1].running_var.numpy(),
                               np.mean([f.var((0, 2, 3), ddof=1) for f in feats], 0),
                               rtol=1e-12)


def test_update_bn_device_argument(torch):
    mm, tm = _pair(torch)
    data = _data("float64")
    swa_utils.update_bn([(mg.tensor(x),) for x, _ in data], mm, device="cpu")
    torch.optim.swa_utils.update_bn([(torch.tensor(x),) for x, _ in data], tm, device="cpu")
    _same_buffers(mm, tm, 1e-12)


def test_update_bn_without_batchnorm_reads_nothing():
    class Untouchable:
        def __iter__(self):
            raise AssertionError("update_bn iterated the loader of a model without BatchNorm")

    model = nn.Sequential(nn.Linear(3, 2), nn.LayerNorm(2))
    swa_utils.update_bn(Untouchable(), model)


def test_update_bn_leaves_frozen_batchnorm_alone():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 4), nn.BatchNorm1d(4))
    with mg.no_grad():
        model[1].running_mean.fill_(0.7)
    nn.utils.freeze_batchnorm(model[1])
    before = model[1].running_mean.numpy().copy(), model[1].num_batches_tracked.item()
    swa_utils.update_bn([mg.randn(8, 3) for _ in range(3)], model)
    np.testing.assert_array_equal(model[1].running_mean.numpy(), before[0])
    assert model[1].num_batches_tracked.item() == before[1] and not model[1].training
    assert model[3].num_batches_tracked.item() == 3


def test_update_bn_restores_momenta_when_the_loader_fails():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4, momentum=0.2))
    model.eval()

    def loader():
        yield mg.randn(5, 3)
        raise RuntimeError("broken loader")

    with pytest.raises(RuntimeError, match="broken loader"):
        swa_utils.update_bn(loader(), model)
    assert model[1].momentum == 0.2 and not model.training


# ---------------------------------------------------------------- AveragedModel

def _trajectory(torch, dtype, steps=4, seed=3):
    """``steps`` (minigrad, torch) model pairs, as snapshots along a training run."""
    mm, tm = _pair(torch, dtype)
    rng = np.random.default_rng(seed)
    def moved(name, v):
        if v.dtype.kind != "f":
            return v + 1                                        # num_batches_tracked
        if name.endswith("running_var"):
            return v * rng.uniform(0.5, 1.5, v.shape).astype(v.dtype)
        return v + rng.standard_normal(v.shape).astype(v.dtype)

    out = []
    for _ in range(steps):
        state = {k: moved(k, v.detach().numpy()) for k, v in tm.state_dict().items()}
        a, b = _net(mg, dtype), _net(torch, dtype)
        a.load_state_dict(state)
        b.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
        out.append((a, b))
    return mm, tm, out


AVERAGES = {
    "swa": lambda s: {},
    "swa buffers": lambda s: {"use_buffers": True},
    "ema multi": lambda s: {"multi_avg_fn": s.get_ema_multi_avg_fn(0.9)},
    "ema multi buffers": lambda s: {"multi_avg_fn": s.get_ema_multi_avg_fn(0.75),
                                    "use_buffers": True},
    "swa multi": lambda s: {"multi_avg_fn": s.get_swa_multi_avg_fn()},
    "ema": lambda s: {"avg_fn": s.get_ema_avg_fn(0.8)},
    "swa fn buffers": lambda s: {"avg_fn": s.get_swa_avg_fn(), "use_buffers": True},
    "custom": lambda s: {"avg_fn": lambda avg, cur, n: avg * 0.5 + cur * 0.25 + n * 0.125},
}


@pytest.mark.parametrize("dtype, rtol", [("float32", 1e-6), ("float64", 1e-12)])
@pytest.mark.parametrize("name", list(AVERAGES))
def test_averaged_model_matches_torch(torch, dtype, rtol, name):
    mm, tm, snapshots = _trajectory(torch, dtype)
    ours = swa_utils.AveragedModel(mm, **AVERAGES[name](swa_utils))
    theirs = torch.optim.swa_utils.AveragedModel(tm, **AVERAGES[name](torch.optim.swa_utils))
    for a, b in snapshots:
        ours.update_parameters(a)
        theirs.update_parameters(b)
        assert int(ours.n_averaged.item()) == int(theirs.n_averaged.item())
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for (k, v), (tk, tv) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        # PyTorch's lerp kernel rounds with a fused multiply-add, NumPy without one: the
        # two agree to the rounding of the operands (|values| up to ~4), which is an
        # absolute bound where an average cancels to near zero
        np.testing.assert_allclose(v.numpy(), tv.numpy(), rtol=rtol, atol=4 * rtol, err_msg=k)
    x = _data(dtype, n=1)[0][0]
    ours.eval(), theirs.eval()
    np.testing.assert_allclose(ours(mg.tensor(x)).detach().numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=50 * rtol,
                               atol=0)


def test_averaged_model_is_a_copy_and_averages_equally():
    model = nn.Linear(3, 2)
    avg = swa_utils.AveragedModel(model)
    assert avg.module is not model and avg.module.weight is not model.weight
    seen = []
    for _ in range(5):
        with mg.no_grad():
            model.weight.copy_(mg.randn(2, 3))
        seen.append(model.weight.detach().numpy().copy())
        avg.update_parameters(model)
    np.testing.assert_allclose(avg.module.weight.detach().numpy(), np.mean(seen, 0),
                               rtol=1e-6, atol=1e-7)
    assert avg.n_averaged.dtype == mg.int64 and int(avg.n_averaged.item()) == 5


def test_averaged_model_rejects_two_averaging_functions():
    with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn"):
        swa_utils.AveragedModel(nn.Linear(2, 2), avg_fn=swa_utils.get_swa_avg_fn(),
                                multi_avg_fn=swa_utils.get_swa_multi_avg_fn())


@pytest.mark.parametrize("make", [swa_utils.get_ema_multi_avg_fn, swa_utils.get_ema_avg_fn])
def test_ema_decay_must_be_in_unit_interval(make):
    with pytest.raises(ValueError, match=r"Invalid decay value 1.5 provided"):
        make(1.5)


def test_swa_multi_refuses_integer_tensors():
    with pytest.raises(TypeError, match="get_swa_multi_avg_fn: integer tensors"):
        swa_utils.get_swa_multi_avg_fn()([mg.tensor([1, 2])], [mg.tensor([3, 4])],
                                         mg.tensor(1))


# ---------------------------------------------------------------- SWALR

def _swalr_lrs(lib, steps=14, **kwargs):
    opt_mod = mg.optim if lib is mg else lib.optim
    params = [lib.zeros(2, requires_grad=True) for _ in range(2)]
    opt = opt_mod.SGD([{"params": [params[0]], "lr": 0.5}, {"params": [params[1]], "lr": 0.2}],
                      lr=0.1)
    swa = (swa_utils if lib is mg else lib.optim.swa_utils).SWALR(opt, **kwargs)
    seq = [[g["lr"] for g in opt.param_groups]]
    for _ in range(steps):
        opt.step()
        swa.step()
        seq.append([g["lr"] for g in opt.param_groups])
        assert swa.get_last_lr() == seq[-1]
    return seq


@pytest.mark.parametrize("kwargs", [
    dict(swa_lr=0.05), dict(swa_lr=0.05, anneal_strategy="linear"),
    dict(swa_lr=[0.01, 0.3], anneal_epochs=4), dict(swa_lr=0.05, anneal_epochs=0),
    dict(swa_lr=0.05, anneal_epochs=1, anneal_strategy="linear"),
    dict(swa_lr=[0.3, 0.0], anneal_epochs=20)])
def test_swalr_matches_torch(torch, kwargs):
    ours, theirs = _swalr_lrs(mg, **kwargs), _swalr_lrs(torch, **kwargs)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    swa_lr = kwargs["swa_lr"] if isinstance(kwargs["swa_lr"], list) else [kwargs["swa_lr"]] * 2
    if kwargs.get("anneal_epochs", 10) < 14:   # (annealed: it holds swa_lr)
        np.testing.assert_allclose(ours[-1], swa_lr, rtol=1e-12)


def test_swalr_state_dict_resumes():
    seq = _swalr_lrs(mg, steps=10, swa_lr=0.05, anneal_epochs=8, anneal_strategy="linear")
    opt = mg.optim.SGD([mg.zeros(2, requires_grad=True)], lr=0.5)
    first = swa_utils.SWALR(opt, swa_lr=0.05, anneal_epochs=8, anneal_strategy="linear")
    for _ in range(4):
        first.step()
    state = first.state_dict()
    assert "anneal_func" not in state and "optimizer" not in state
    opt2 = mg.optim.SGD([mg.zeros(2, requires_grad=True)], lr=0.5)
    opt2.load_state_dict(opt.state_dict())
    second = swa_utils.SWALR(opt2, swa_lr=0.05, anneal_epochs=8, anneal_strategy="cos")
    second.load_state_dict(state)
    assert second.anneal_func is swa_utils.SWALR._linear_anneal
    for _ in range(6):
        second.step()
    np.testing.assert_allclose(opt2.param_groups[0]["lr"], seq[-1][0], rtol=1e-12)


@pytest.mark.parametrize("kwargs, message", [
    (dict(swa_lr=0.1, anneal_strategy="exp"), "anneal_strategy must be one of 'cos' or 'linear'"),
    (dict(swa_lr=0.1, anneal_epochs=-1), "anneal_epochs must be equal or greater than 0"),
    (dict(swa_lr=0.1, anneal_epochs=2.5), "anneal_epochs must be equal or greater than 0"),
    (dict(swa_lr=[0.1, 0.2, 0.3]), "swa_lr")])
def test_swalr_checks_its_options(torch, kwargs, message):
    opt = mg.optim.SGD([mg.zeros(2, requires_grad=True)], lr=0.5)
    with pytest.raises(ValueError, match=message):
        swa_utils.SWALR(opt, **kwargs)
    topt = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.5)
    with pytest.raises(ValueError):
        torch.optim.swa_utils.SWALR(topt, **kwargs)
