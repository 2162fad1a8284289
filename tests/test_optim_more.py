"""RMSprop, Adagrad, LambdaLR, ExponentialLR, ReduceLROnPlateau and clip_grad_value_
against PyTorch: parameters after several training steps of a small model (float64, every
option), state dicts, and learning-rate sequences."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad import optim
from minigrad.optim import lr_scheduler

torch = pytest.importorskip("torch")


def _models(seed=0):
    """A Linear-tanh-Linear model in minigrad and torch with the same float64 weights."""
    torch.manual_seed(seed)
    tm = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(),
                             torch.nn.Linear(3, 2)).double()
    mm = nn.Sequential(nn.Linear(4, 3, dtype=mg.float64), nn.Tanh(),
                       nn.Linear(3, 2, dtype=mg.float64))
    mm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    return mm, tm


def _batches(steps, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((5, 4)), rng.standard_normal((5, 2))) for _ in range(steps)]


def _train(lib, model, opt, batches, start=0):
    for x, y in batches[start:]:
        opt.zero_grad()
        loss = ((model(lib.tensor(x)) - lib.tensor(y)) ** 2).mean()
        loss.backward()
        opt.step()


def _assert_same_parameters(mm, tm, rtol=1e-10):
    for (name, p), (tname, tp) in zip(mm.named_parameters(), tm.named_parameters()):
        assert name == tname
        np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=rtol,
                                   atol=1e-14, err_msg=name)


OPTIMIZERS = [
    ("RMSprop", dict(lr=1e-2)),
    ("RMSprop", dict(lr=1e-2, alpha=0.9, eps=1e-6)),
    ("RMSprop", dict(lr=1e-2, weight_decay=0.1)),
    ("RMSprop", dict(lr=1e-2, momentum=0.9)),
    ("RMSprop", dict(lr=1e-2, centered=True)),
    ("RMSprop", dict(lr=5e-3, alpha=0.8, eps=1e-4, weight_decay=0.05, momentum=0.5,
                     centered=True, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5)),
    ("Adagrad", dict(lr=0.1, eps=1e-3)),
    ("Adagrad", dict(lr=0.05, lr_decay=0.1, weight_decay=0.01, initial_accumulator_value=0.2,
                     eps=1e-6, maximize=True)),
]


@pytest.mark.parametrize("name,kwargs", OPTIMIZERS)
def test_training_matches_torch(name, kwargs):
    mm, tm = _models()
    mo = getattr(optim, name)(mm.parameters(), **kwargs)
    to = getattr(torch.optim, name)(tm.parameters(), **kwargs, foreach=False)
    batches = _batches(6)
    _train(mg, mm, mo, batches)
    _train(torch, tm, to, batches)
    _assert_same_parameters(mm, tm)


@pytest.mark.parametrize("name,kwargs", [OPTIMIZERS[5], OPTIMIZERS[11]])
def test_parameter_groups_match_torch(name, kwargs):
    mm, tm = _models(1)
    lr2 = kwargs["lr"] / 3
    mo = getattr(optim, name)([{"params": mm[0].parameters()},
                               {"params": mm[2].parameters(), "lr": lr2}], **kwargs)
    to = getattr(torch.optim, name)([{"params": tm[0].parameters()},
                                     {"params": tm[2].parameters(), "lr": lr2}],
                                    **kwargs, foreach=False)
    batches = _batches(4, seed=1)
    _train(mg, mm, mo, batches)
    _train(torch, tm, to, batches)
    _assert_same_parameters(mm, tm)


@pytest.mark.parametrize("name,kwargs", [OPTIMIZERS[5], OPTIMIZERS[11]])
def test_state_dict_resumes_like_never_stopping(name, kwargs, tmp_path):
    batches = _batches(6, seed=2)
    mm, tm = _models(2)
    mo = getattr(optim, name)(mm.parameters(), **kwargs)
    to = getattr(torch.optim, name)(tm.parameters(), **kwargs, foreach=False)
    _train(mg, mm, mo, batches[:3])
    _train(torch, tm, to, batches[:3])
    # the state has PyTorch's names and values
    ts, ms = to.state_dict(), mo.state_dict()
    assert ms["param_groups"][0].keys() >= {k for k in ts["param_groups"][0]
                                           if k not in ("foreach", "differentiable", "capturable",
                                                        "fused")}
    for i, tstate in ts["state"].items():
        assert set(ms["state"][i]) == set(tstate)
        for key, value in tstate.items():
            np.testing.assert_allclose(np.asarray(ms["state"][i][key].numpy()
                                                  if hasattr(ms["state"][i][key], "numpy")
                                                  else ms["state"][i][key]),
                                       value.numpy(), rtol=1e-10, atol=1e-14, err_msg=key)
    mg.save({"model": mm.state_dict(), "opt": mo.state_dict()}, tmp_path / "ckpt.npz")
    ckpt = mg.load(tmp_path / "ckpt.npz")
    mm2, _ = _models(5)
    mm2.load_state_dict(ckpt["model"])
    mo2 = getattr(optim, name)(mm2.parameters(), **kwargs)
    mo2.load_state_dict(ckpt["opt"])
    _train(mg, mm2, mo2, batches, start=3)
    _train(torch, tm, to, batches, start=3)
    _assert_same_parameters(mm2, tm)


def test_adagrad_state_exists_before_the_first_step():
    mm, tm = _models()
    ms = optim.Adagrad(mm.parameters(), initial_accumulator_value=0.3).state_dict()
    ts = torch.optim.Adagrad(tm.parameters(), initial_accumulator_value=0.3).state_dict()
    assert sorted(ms["state"]) == sorted(ts["state"])
    np.testing.assert_array_equal(ms["state"][0]["sum"].numpy(), ts["state"][0]["sum"].numpy())
    assert float(ms["state"][0]["step"]) == float(ts["state"][0]["step"]) == 0.0


@pytest.mark.parametrize("cls,kwargs,message", [
    ("RMSprop", dict(lr=-1.0), "learning rate"), ("RMSprop", dict(alpha=-0.1), "alpha"),
    ("RMSprop", dict(momentum=-0.1), "momentum"), ("RMSprop", dict(eps=-1.0), "epsilon"),
    ("Adagrad", dict(lr_decay=-1.0), "lr_decay"),
    ("Adagrad", dict(initial_accumulator_value=-1.0), "initial_accumulator_value"),
    ("Adagrad", dict(weight_decay=-1.0), "weight_decay")])
def test_invalid_options_raise_like_torch(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        getattr(torch.optim, cls)([torch.zeros(2, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError, match=message):
        getattr(optim, cls)([mg.zeros(2, requires_grad=True)], **kwargs)


# ---------------------------------------------------------------- schedulers

def _lr_sequence(lib, make_scheduler, steps=25, metrics=None, groups=2):
    opt_mod = optim if lib is mg else torch.optim
    params = [lib.zeros(2, requires_grad=True) for _ in range(groups)]
    opt = opt_mod.SGD([{"params": [p], "lr": 0.1 * (i + 1)} for i, p in enumerate(params)],
                      lr=0.1)
    sched = make_scheduler(lr_scheduler if lib is mg else torch.optim.lr_scheduler, opt)
    seq = [[g["lr"] for g in opt.param_groups]]
    for t in range(steps):
        opt.step()
        sched.step() if metrics is None else sched.step(metrics[t])
        seq.append([g["lr"] for g in opt.param_groups])
        assert sched.get_last_lr() == seq[-1]
    return seq


class _Warmup:
    """A callable object: its state goes into LambdaLR's state dict."""

    def __init__(self, n):
        self.n = n

    def __call__(self, epoch):
        return min(1.0, (epoch + 1) / self.n)


LOSSES = [1.0, 0.9, 0.95, 0.95, 0.96, 0.97, 0.9, 0.89995, 0.91, 0.92, 0.93, 0.94, 0.5, 0.6,
          0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7]

SCHEDULERS = {
    "LambdaLR": (lambda s, o: s.LambdaLR(o, lambda e: 0.95 ** e), None),
    "LambdaLR per group": (lambda s, o: s.LambdaLR(o, [lambda e: 1 / (e + 1), _Warmup(5)]), None),
    "ExponentialLR": (lambda s, o: s.ExponentialLR(o, gamma=0.9), None),
    "ReduceLROnPlateau": (lambda s, o: s.ReduceLROnPlateau(o, patience=2), LOSSES),
    "ReduceLROnPlateau max abs": (lambda s, o: s.ReduceLROnPlateau(
        o, mode="max", factor=0.5, patience=1, threshold=0.05, threshold_mode="abs"),
        [-x for x in LOSSES]),
    "ReduceLROnPlateau max rel": (lambda s, o: s.ReduceLROnPlateau(
        o, mode="max", factor=0.5, patience=0, threshold=0.01), [-x for x in LOSSES]),
    "ReduceLROnPlateau min abs cooldown": (lambda s, o: s.ReduceLROnPlateau(
        o, factor=0.3, patience=1, threshold=0.02, threshold_mode="abs", cooldown=3,
        min_lr=[0.005, 0.02]), LOSSES),
    "ReduceLROnPlateau min_lr eps": (lambda s, o: s.ReduceLROnPlateau(
        o, factor=0.5, patience=0, min_lr=0.01, eps=0.02), [1.0] * 25),
}


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_scheduler_lr_sequence_matches_torch(name):
    make, metrics = SCHEDULERS[name]
    ours = _lr_sequence(mg, make, metrics=metrics)
    theirs = _lr_sequence(torch, make, metrics=metrics)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)
    assert len({tuple(s) for s in ours}) > 1  # (the schedule does change the lr)


@pytest.mark.parametrize("name", ["LambdaLR per group", "ExponentialLR",
                                  "ReduceLROnPlateau min abs cooldown"])
def test_scheduler_state_dict_resumes(name):
    make, metrics = SCHEDULERS[name]
    full = _lr_sequence(mg, make, metrics=metrics)
    params = [mg.zeros(2, requires_grad=True) for _ in range(2)]
    opt = optim.SGD([{"params": [p], "lr": 0.1 * (i + 1)} for i, p in enumerate(params)], lr=0.1)
    sched = make(lr_scheduler, opt)
    for t in range(10):
        sched.step() if metrics is None else sched.step(metrics[t])
    saved_opt, saved = opt.state_dict(), sched.state_dict()
    params2 = [mg.zeros(2, requires_grad=True) for _ in range(2)]
    opt2 = optim.SGD([{"params": [p], "lr": 0.1 * (i + 1)} for i, p in enumerate(params2)],
                     lr=0.1)
    sched2 = make(lr_scheduler, opt2)
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved)
    for t in range(10, 25):
        sched2.step() if metrics is None else sched2.step(metrics[t])
        np.testing.assert_allclose([g["lr"] for g in opt2.param_groups], full[t + 1], rtol=1e-12)


def test_lambda_lr_state_dict_keeps_callable_objects_only():
    opt = optim.SGD([{"params": [mg.zeros(1, requires_grad=True)]},
                     {"params": [mg.zeros(1, requires_grad=True)]}], lr=0.1)
    sd = lr_scheduler.LambdaLR(opt, [lambda e: 1.0, _Warmup(7)]).state_dict()
    topt = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)]},
                            {"params": [torch.zeros(1, requires_grad=True)]}], lr=0.1)
    tsd = torch.optim.lr_scheduler.LambdaLR(topt, [lambda e: 1.0, _Warmup(7)]).state_dict()
    assert sd["lr_lambdas"] == tsd["lr_lambdas"] == [None, {"n": 7}]


def test_reduce_lr_on_plateau_checks_its_options():
    opt = optim.SGD([mg.zeros(1, requires_grad=True)], lr=0.1)
    for kwargs, message in [(dict(factor=1.0), "Factor"), (dict(mode="up"), "unknown"),
                            (dict(threshold_mode="x"), "unknown"), (dict(min_lr=[0, 0]), "min_lrs")]:
        with pytest.raises(ValueError, match=message):
            lr_scheduler.ReduceLROnPlateau(opt, **kwargs)


# ---------------------------------------------------------------- clip_grad_value_

def test_clip_grad_value_matches_torch():
    grads = [np.array([[-3.0, 0.5], [2.0, np.nan]]), np.array([0.1, -0.2, 5.0])]
    mp = [mg.zeros(*g.shape, dtype=mg.float64, requires_grad=True) for g in grads]
    tp = [torch.zeros(*g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for m, t, g in zip(mp, tp, grads):
        m.grad, t.grad = mg.tensor(g), torch.tensor(g)
    no_grad = mg.zeros(2, requires_grad=True)
    assert nn.utils.clip_grad_value_(mp + [no_grad], 1.0) is None
    torch.nn.utils.clip_grad_value_(tp, 1.0)
    for m, t in zip(mp, tp):
        np.testing.assert_array_equal(m.grad.numpy(), t.grad.numpy())
    nn.utils.clip_grad_value_(mp[1], 0.15)
    np.testing.assert_array_equal(mp[1].grad.numpy(), [0.1, -0.15, 0.15])


def test_optimizer_state_starts_empty_for_every_parameter_like_torch():
    """torch.optim.Optimizer.state is a defaultdict(dict): an optimizer written against
    it (lion-pytorch's Lion) reads self.state[p] before storing anything."""
    torch = pytest.importorskip("torch")
    for lib in (mg, torch):
        p = lib.nn.Parameter(lib.ones(2))
        opt = lib.optim.SGD([p], lr=0.1)
        assert opt.state[p] == {} and len(opt.state) == 1
        assert opt.state_dict()["state"] == {0: {}}     # (an entry, once looked up)
