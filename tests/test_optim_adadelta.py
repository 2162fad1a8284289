"""Adadelta against PyTorch: parameters after many training steps of a small model
(float64 to ~1e-12, every option, parameter groups, float32), the state under PyTorch's
names and values, a checkpoint that resumes as if never stopped, and the option checks;
one step by hand without PyTorch."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad import optim


def _models(torch, seed=0, dtype="float64"):
    """A Linear-tanh-Linear model in minigrad and torch with the same weights."""
    torch.manual_seed(seed)
    tm = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))
    tm = tm.double() if dtype == "float64" else tm.float()
    md = getattr(mg, dtype)
    mm = nn.Sequential(nn.Linear(4, 3, dtype=md), nn.Tanh(), nn.Linear(3, 2, dtype=md))
    mm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    return mm, tm


def _batches(steps, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((5, 4)).astype(dtype), rng.standard_normal((5, 2)).astype(dtype))
            for _ in range(steps)]


def _train(lib, model, opt, batches):
    for x, y in batches:
        opt.zero_grad()
        loss = ((model(lib.tensor(x)) - lib.tensor(y)) ** 2).mean()
        loss.backward()
        opt.step()


def _assert_same_parameters(mm, tm, rtol=1e-12, atol=1e-14):
    for (name, p), (tname, tp) in zip(mm.named_parameters(), tm.named_parameters()):
        assert name == tname
        assert p.detach().numpy().dtype == tp.detach().numpy().dtype
        np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=rtol,
                                   atol=atol, err_msg=name)


OPTIONS = [
    dict(),
    dict(lr=0.5),
    dict(rho=0.5),
    dict(eps=1e-3),
    dict(weight_decay=0.1),
    dict(maximize=True),
    dict(lr=0.3, rho=0.95, eps=1e-4, weight_decay=0.02, maximize=True),
    dict(rho=1.0),   # (the edge of the allowed range: the averages never move)
    dict(rho=0.0),
]


@pytest.mark.parametrize("kwargs", OPTIONS, ids=str)
def test_training_matches_torch_for_many_steps(torch, kwargs):
    mm, tm = _models(torch)
    mo = optim.Adadelta(mm.parameters(), **kwargs)
    to = torch.optim.Adadelta(tm.parameters(), **kwargs, foreach=False)
    batches = _batches(40)
    _train(mg, mm, mo, batches)
    _train(torch, tm, to, batches)
    _assert_same_parameters(mm, tm)
    moved = [np.abs(p.detach().numpy() - q.detach().numpy()).max()
             for p, q in zip(mm.parameters(), _models(torch)[0].parameters())]
    if kwargs.get("rho") != 1.0:
        assert max(moved) > 1e-3  # (the optimizer did move the parameters)


def test_float32_matches_torch(torch):
    mm, tm = _models(torch, dtype="float32")
    kwargs = dict(lr=0.5, rho=0.8, weight_decay=0.01)
    mo = optim.Adadelta(mm.parameters(), **kwargs)
    to = torch.optim.Adadelta(tm.parameters(), **kwargs, foreach=False)
    batches = _batches(20, dtype=np.float32)
    _train(mg, mm, mo, batches)
    _train(torch, tm, to, batches)
    _assert_same_parameters(mm, tm, rtol=2e-5, atol=1e-6)
    assert mo.state[mm[0].weight]["square_avg"].dtype == mg.float32


def test_parameter_groups_match_torch(torch):
    mm, tm = _models(torch, 1)
    mo = optim.Adadelta([{"params": mm[0].parameters()},
                         {"params": mm[2].parameters(), "lr": 0.2, "rho": 0.7}], weight_decay=0.1)
    to = torch.optim.Adadelta([{"params": tm[0].parameters()},
                               {"params": tm[2].parameters(), "lr": 0.2, "rho": 0.7}],
                              weight_decay=0.1, foreach=False)
    batches = _batches(25, seed=1)
    _train(mg, mm, mo, batches)
    _train(torch, tm, to, batches)
    _assert_same_parameters(mm, tm)


def test_state_has_torchs_names_and_a_checkpoint_resumes_like_never_stopping(torch, tmp_path):
    kwargs = dict(lr=0.7, rho=0.85, eps=1e-5, weight_decay=0.05)
    batches = _batches(30, seed=2)
    mm, tm = _models(torch, 2)
    mo = optim.Adadelta(mm.parameters(), **kwargs)
    to = torch.optim.Adadelta(tm.parameters(), **kwargs)
    _train(mg, mm, mo, batches[:12])
    _train(torch, tm, to, batches[:12])
    ts, ms = to.state_dict(), mo.state_dict()
    assert ms["param_groups"][0].keys() == ts["param_groups"][0].keys()
    assert sorted(ms["state"]) == sorted(ts["state"])
    for i, tstate in ts["state"].items():
        assert set(ms["state"][i]) == set(tstate) == {"step", "square_avg", "acc_delta"}
        assert float(ms["state"][i]["step"]) == float(tstate["step"]) == 12.0
        for key in ("square_avg", "acc_delta"):
            np.testing.assert_allclose(ms["state"][i][key].numpy(), tstate[key].numpy(),
                                       rtol=1e-12, atol=1e-15, err_msg=key)
    mg.save({"model": mm.state_dict(), "opt": mo.state_dict()}, tmp_path / "ckpt.npz")
    ckpt = mg.load(tmp_path / "ckpt.npz")
    mm2, _ = _models(torch, 5)
    mm2.load_state_dict(ckpt["model"])
    mo2 = optim.Adadelta(mm2.parameters(), lr=0.1)   # the groups come from the checkpoint
    mo2.load_state_dict(ckpt["opt"])
    assert mo2.param_groups[0]["lr"] == 0.7
    _train(mg, mm2, mo2, batches[12:])
    _train(torch, tm, to, batches[12:])
    _assert_same_parameters(mm2, tm)


def test_a_torch_state_dict_loads_into_minigrad(torch):
    """A torch Adadelta's state dict (tensors converted to arrays) resumes in minigrad."""
    batches = _batches(16, seed=4)
    mm, tm = _models(torch, 4)
    to = torch.optim.Adadelta(tm.parameters(), lr=0.9, rho=0.8)
    _train(torch, tm, to, batches[:8])
    mm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    tsd = to.state_dict()
    sd = {"state": {i: {k: v.numpy() for k, v in s.items()} for i, s in tsd["state"].items()},
          "param_groups": tsd["param_groups"]}
    mo = optim.Adadelta(mm.parameters())
    mo.load_state_dict(sd)
    _train(mg, mm, mo, batches[8:])
    _train(torch, tm, to, batches[8:])
    _assert_same_parameters(mm, tm)


@pytest.mark.parametrize("kwargs,message", [
    (dict(lr=-1.0), "Invalid learning rate"), (dict(rho=-0.1), "Invalid rho value"),
    (dict(rho=1.1), "Invalid rho value"), (dict(eps=-1e-6), "Invalid epsilon value"),
    (dict(weight_decay=-0.1), "Invalid weight_decay value")])
def test_invalid_options_raise_like_torch(torch, kwargs, message):
    with pytest.raises(ValueError, match=message):
        torch.optim.Adadelta([torch.zeros(2, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError, match=message):
        optim.Adadelta([mg.zeros(2, requires_grad=True)], **kwargs)


def test_defaults_and_one_step_by_hand():
    p = mg.tensor([1.0, -2.0], dtype=mg.float64, requires_grad=True)
    opt = optim.Adadelta([p])
    group = opt.param_groups[0]
    assert (group["lr"], group["rho"], group["eps"], group["weight_decay"],
            group["maximize"]) == (1.0, 0.9, 1e-6, 0, False)
    g = np.array([0.5, -4.0])
    for _ in range(2):
        p.grad = mg.tensor(g)
        opt.step()
    # by hand: v1 = 0.1 g^2, d1 = sqrt(eps)/sqrt(v1+eps) g, u1 = 0.1 d1^2; then again
    eps = 1e-6
    v1 = 0.1 * g * g
    d1 = np.sqrt(eps) / np.sqrt(v1 + eps) * g
    u1 = 0.1 * d1 * d1
    v2 = 0.9 * v1 + 0.1 * g * g
    d2 = np.sqrt(u1 + eps) / np.sqrt(v2 + eps) * g
    np.testing.assert_allclose(p.detach().numpy(), np.array([1.0, -2.0]) - d1 - d2, rtol=1e-14)
    state = opt.state[p]
    assert state["step"] == 2
    np.testing.assert_allclose(state["acc_delta"].numpy(), 0.9 * u1 + 0.1 * d2 * d2, rtol=1e-14)
    p.grad = None
    opt.step()  # (a parameter without a gradient is left alone)
    assert state["step"] == 2


def test_unsupported_implementation_switches_are_refused():
    with pytest.raises(ValueError, match="differentiable=True is not supported"):
        optim.Adadelta([mg.zeros(2, requires_grad=True)], differentiable=True)
    optim.Adadelta([mg.zeros(2, requires_grad=True)], foreach=True)   # (no effect)


def test_runs_on_a_device_as_on_the_cpu(device):
    rng = np.random.default_rng(3)
    start, grads = rng.standard_normal((3, 4)), rng.standard_normal((6, 3, 4))
    results = []
    for where in ("cpu", device):
        p = mg.tensor(start, device=where, requires_grad=True)
        opt = optim.Adadelta([p], lr=0.5, weight_decay=0.1)
        for g in grads:
            p.grad = mg.tensor(g, device=where)
            opt.step()
        assert opt.state[p]["acc_delta"].device == p.device
        results.append(p.detach().cpu().numpy())
    np.testing.assert_allclose(results[1], results[0], rtol=1e-12, atol=1e-14)
