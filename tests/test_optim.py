"""Optimizers and schedulers: PyTorch's update rules step for step, parameter groups,
state dicts (resuming equals never stopping), and the errors PyTorch raises."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad import optim
from minigrad.optim import lr_scheduler

SHAPES = [(3, 4), (4,), (2, 3, 2)]

OPTIMIZERS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=1e-2)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=1e-3)),
    ("SGD", dict(lr=0.05, momentum=0.5, maximize=True)),
    ("Adam", dict(lr=1e-2)),
    ("Adam", dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=1e-2)),
    ("Adam", dict(lr=1e-2, amsgrad=True)),
    ("Adam", dict(lr=1e-2, betas=(0.3, 0.9), maximize=True)),
    ("AdamW", dict(lr=1e-2)),
    ("AdamW", dict(lr=1e-2, weight_decay=0.1, amsgrad=True)),
]


def _grad_sequence(steps, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(steps)]


def _run_minigrad(name, kwargs, start, grads, groups=False):
    params = [mg.tensor(a, requires_grad=True) for a in start]
    spec = ([{"params": params[:1]}, {"params": params[1:], "lr": kwargs["lr"] / 3}]
            if groups else params)
    opt = getattr(optim, name)(spec, **kwargs)
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = mg.tensor(g)
        opt.step()
    return [p.detach().numpy() for p in params]


def _run_torch(torch, name, kwargs, start, grads, groups=False):
    params = [torch.tensor(a, requires_grad=True) for a in start]
    spec = ([{"params": params[:1]}, {"params": params[1:], "lr": kwargs["lr"] / 3}]
            if groups else params)
    opt = getattr(torch.optim, name)(spec, **kwargs, foreach=False)
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = torch.tensor(g)
        opt.step()
    return [p.detach().numpy() for p in params]


@pytest.mark.parametrize("name,kwargs", OPTIMIZERS)
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 2e-6)])
@pytest.mark.parametrize("groups", [False, True])
def test_update_rule_matches_torch(torch, name, kwargs, dtype, rtol, groups):
    start = _grad_sequence(1, dtype, seed=1)[0]
    grads = _grad_sequence(25, dtype)
    ours = _run_minigrad(name, kwargs, start, grads, groups)
    theirs = _run_torch(torch, name, kwargs, start, grads, groups)
    for a, b in zip(ours, theirs):
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)


def test_sgd_hand_computed():
    """One momentum step by hand, independent of any oracle."""
    p = mg.tensor([1.0, -2.0], dtype=mg.float64, requires_grad=True)
    opt = optim.SGD([p], lr=0.5, momentum=0.9, weight_decay=0.1)
    p.grad = mg.tensor([0.2, 0.4], dtype=mg.float64)
    opt.step()                               # g = [0.3, 0.2]; b = g
    np.testing.assert_allclose(p.detach().numpy(), [0.85, -2.1])
    p.grad = mg.tensor([0.0, 0.0], dtype=mg.float64)
    opt.step()                               # g = 0.1 p; b = 0.9 b + g
    b = 0.9 * np.array([0.3, 0.2]) + 0.1 * np.array([0.85, -2.1])
    np.testing.assert_allclose(p.detach().numpy(), np.array([0.85, -2.1]) - 0.5 * b)


def test_adam_first_step_is_lr_times_sign():
    p = mg.tensor([1.0, -2.0, 3.0], dtype=mg.float64, requires_grad=True)
    opt = optim.Adam([p], lr=0.01)
    p.grad = mg.tensor([5.0, -0.1, 1e-3], dtype=mg.float64)
    opt.step()
    np.testing.assert_allclose(p.detach().numpy(), [0.99, -1.99, 2.99], rtol=1e-6)


def _model():
    mg.manual_seed(3)
    return nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


def _train(model, opt, sched, batches):
    losses = []
    for x, y in batches:
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        losses.append(loss.item())
    return losses


def _batches(n, seed=0):
    rng = np.random.default_rng(seed)
    return [(mg.tensor(rng.standard_normal((10, 6)).astype(np.float32)),
             mg.tensor(rng.integers(0, 3, 10))) for _ in range(n)]


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    lambda ps: optim.Adam(ps, lr=1e-2, amsgrad=True),
    lambda ps: optim.AdamW(ps, lr=1e-2),
])
def test_resume_from_checkpoint_equals_never_stopping(tmp_path, make):
    batches = _batches(12)
    model = _model()
    opt = make(model.parameters())
    sched = lr_scheduler.StepLR(opt, step_size=4, gamma=0.5)
    straight = _train(model, opt, sched, batches)
    expected = {k: v.numpy().copy() for k, v in model.state_dict().items()}

    model = _model()
    opt = make(model.parameters())
    sched = lr_scheduler.StepLR(opt, step_size=4, gamma=0.5)
    first = _train(model, opt, sched, batches[:5])
    mg.save({"model": model.state_dict(), "optim": opt.state_dict(),
             "sched": sched.state_dict()}, tmp_path / "ckpt.npz")
    del model, opt, sched

    model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    opt = make(model.parameters())
    sched = lr_scheduler.StepLR(opt, step_size=4, gamma=0.5)
    ckpt = mg.load(tmp_path / "ckpt.npz")
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optim"])
    sched.load_state_dict(ckpt["sched"])
    second = _train(model, opt, sched, batches[5:])
    assert first + second == straight
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), expected[k], err_msg=k)


def test_state_dict_layout_matches_torch(torch):
    ours = _model()
    opt = optim.Adam([{"params": list(ours.parameters())[:2]},
                      {"params": list(ours.parameters())[2:], "lr": 1e-4}], lr=1e-3)
    _train(ours, opt, None, _batches(2))
    theirs = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.BatchNorm1d(8),
                                 torch.nn.ReLU(), torch.nn.Linear(8, 3))
    topt = torch.optim.Adam([{"params": list(theirs.parameters())[:2]},
                             {"params": list(theirs.parameters())[2:], "lr": 1e-4}], lr=1e-3)
    for p in theirs.parameters():
        p.grad = torch.ones_like(p)
    topt.step()
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sorted(sd["state"]) == sorted(tsd["state"]) == list(range(6))
    assert sorted(sd["state"][0]) == sorted(tsd["state"][0])
    assert [g["params"] for g in sd["param_groups"]] == \
        [g["params"] for g in tsd["param_groups"]]
    for ours_g, theirs_g in zip(sd["param_groups"], tsd["param_groups"]):
        shared = set(ours_g) & set(theirs_g)
        assert {"lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"} <= shared
        assert all(ours_g[k] == theirs_g[k] for k in shared)


def test_torch_optimizer_state_loads(torch):
    """A PyTorch optimizer's state dict (tensors converted to NumPy) continues identically."""
    rng = np.random.default_rng(0)
    start = rng.standard_normal((4, 3))
    grads = [rng.standard_normal((4, 3)) for _ in range(6)]
    tp = torch.tensor(start, requires_grad=True)
    topt = torch.optim.Adam([tp], lr=1e-2, foreach=False)
    for g in grads[:3]:
        tp.grad = torch.tensor(g)
        topt.step()
    tsd = topt.state_dict()
    converted = {"state": {i: {k: v.numpy() for k, v in s.items()}
                           for i, s in tsd["state"].items()},
                 "param_groups": tsd["param_groups"]}
    p = mg.tensor(tp.detach().numpy(), requires_grad=True)
    opt = optim.Adam([p], lr=1.0)
    opt.load_state_dict(converted)
    assert opt.param_groups[0]["lr"] == 1e-2
    for g in grads[3:]:
        tp.grad = torch.tensor(g)
        topt.step()
        p.grad = mg.tensor(g)
        opt.step()
    np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=1e-12)


def test_loaded_state_is_private_and_cast():
    p = mg.tensor(np.ones(3, np.float32), requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    sd = {"state": {0: {"momentum_buffer": np.ones(3)}},
          "param_groups": [dict(opt.state_dict()["param_groups"][0])]}
    opt.load_state_dict(sd)
    buf = opt.state[p]["momentum_buffer"]
    assert buf.dtype == mg.float32
    p.grad = mg.zeros(3)
    opt.step()
    np.testing.assert_array_equal(sd["state"][0]["momentum_buffer"], np.ones(3))


def test_load_state_dict_errors():
    a, b = (mg.zeros(2, requires_grad=True) for _ in range(2))
    opt = optim.SGD([a, b], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="parameter groups"):
        opt.load_state_dict({"state": {}, "param_groups": []})
    with pytest.raises(ValueError, match="group 0 has 1 parameters"):
        opt.load_state_dict({"state": {}, "param_groups": [{"lr": 0.1, "params": [0]}]})
    group = dict(opt.state_dict()["param_groups"][0])
    with pytest.raises(ValueError, match=r"shape \(5,\)"):
        opt.load_state_dict({"state": {0: {"momentum_buffer": np.zeros(5)}},
                             "param_groups": [group]})


def test_zero_grad():
    p = mg.ones(3, requires_grad=True)
    (p * 2).sum().backward()
    opt = optim.SGD([p], lr=0.1)
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad.numpy(), np.zeros(3))
    opt.zero_grad()
    assert p.grad is None


def test_params_without_grad_are_skipped_and_have_no_state():
    a, b = mg.ones(2, requires_grad=True), mg.ones(2, requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = mg.ones(2)
    opt.step()
    np.testing.assert_array_equal(b.detach().numpy(), np.ones(2))
    assert b not in opt.state and len(opt.state_dict()["state"]) == 1


def test_closure_is_evaluated():
    p = mg.tensor([2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 4.0
    assert p.item() == 1.0


def test_param_group_defaults_and_add_param_group():
    a, b, c = (mg.zeros(1, requires_grad=True) for _ in range(3))
    opt = optim.SGD([{"params": [a]}, {"params": b, "momentum": 0.5}], lr=0.1)
    assert opt.param_groups[1]["lr"] == 0.1 and opt.param_groups[1]["momentum"] == 0.5
    opt.add_param_group({"params": [c], "lr": 1.0})
    assert opt.param_groups[2]["lr"] == 1.0 and opt.param_groups[2]["nesterov"] is False
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})


@pytest.mark.parametrize("call,match", [
    (lambda p: optim.SGD([p], lr=-1), "Invalid learning rate"),
    (lambda p: optim.SGD([p], lr=0.1, nesterov=True), "Nesterov momentum requires"),
    (lambda p: optim.SGD([p], lr=0.1, momentum=-0.1), "Invalid momentum"),
    (lambda p: optim.Adam([p], betas=(1.0, 0.9)), "Invalid beta parameter at index 0"),
    (lambda p: optim.Adam([p], eps=-1), "Invalid epsilon"),
    (lambda p: optim.AdamW([p], weight_decay=-1), "Invalid weight_decay"),
    (lambda p: optim.SGD([], lr=0.1), "empty parameter list"),
    (lambda p: optim.SGD({p}, lr=0.1), "ordered collections"),
    (lambda p: optim.SGD([p * 2], lr=0.1), "non-leaf"),
    (lambda p: optim.SGD(p, lr=0.1), "single Tensor"),
    (lambda p: optim.SGD([mg.tensor([1, 2])], lr=0.1), "floating point"),
])
def test_constructor_errors(call, match):
    p = mg.zeros(2, requires_grad=True)
    with pytest.raises((ValueError, TypeError), match=match):
        call(p)


def test_optimizer_updates_the_model_parameters_in_place():
    model = _model()
    ids = [id(p) for p in model.parameters()]
    before = [p.detach().numpy().copy() for p in model.parameters()]
    _train(model, optim.SGD(model.parameters(), lr=0.1), None, _batches(1))
    assert [id(p) for p in model.parameters()] == ids
    changed = {name: not np.array_equal(a, p.detach().numpy())
               for a, (name, p) in zip(before, model.named_parameters())}
    # BatchNorm subtracts the batch mean, so the bias in front of it gets a zero gradient.
    changed.pop("0.bias")
    assert np.abs(model[0].bias.grad.numpy()).max() < 1e-6
    assert all(changed.values()), changed


# ------------------------------------------------------------------ schedulers
SCHEDULERS = [
    ("StepLR", dict(step_size=3, gamma=0.5), 20),
    ("MultiStepLR", dict(milestones=[2, 5, 5, 9], gamma=0.3), 20),
    ("CosineAnnealingLR", dict(T_max=7), 30),
    ("CosineAnnealingLR", dict(T_max=10, eta_min=0.01), 25),
    ("OneCycleLR", dict(max_lr=[0.5, 0.2], total_steps=40), 40),
    ("OneCycleLR", dict(max_lr=1.0, epochs=3, steps_per_epoch=7, pct_start=0.25,
                        anneal_strategy="linear", div_factor=10.0), 21),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=30, three_phase=True,
                        base_momentum=0.8, max_momentum=0.9), 30),
]


def _lr_trace(lib, opt_name, sched_name, kwargs, steps, params):
    opt = getattr(lib.optim, opt_name)(
        [{"params": params[:1]}, {"params": params[1:], "lr": 0.05}], lr=0.1,
        **({"momentum": 0.9} if opt_name == "SGD" else {}))
    sched = getattr(lib.optim.lr_scheduler, sched_name)(opt, **kwargs)
    trace = []
    for _ in range(steps):
        opt.step()
        sched.step()
        trace.append([(g["lr"], g.get("momentum"), g.get("betas")) for g in opt.param_groups])
        assert sched.get_last_lr() == [g["lr"] for g in opt.param_groups]
    return trace


@pytest.mark.parametrize("sched_name,kwargs,steps", SCHEDULERS)
@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
def test_scheduler_matches_torch(torch, sched_name, kwargs, steps, opt_name):
    ours = _lr_trace(mg, opt_name, sched_name, kwargs, steps,
                     [mg.zeros(2, requires_grad=True) for _ in range(2)])
    theirs = _lr_trace(torch, opt_name, sched_name, kwargs, steps,
                       [torch.zeros(2, requires_grad=True) for _ in range(2)])
    for a, b in zip(ours, theirs):
        for (lr, mom, betas), (tlr, tmom, tbetas) in zip(a, b):
            assert lr == pytest.approx(tlr, rel=1e-12, abs=1e-15)
            for value, expected in ((mom, tmom), (betas, tbetas)):
                if expected is None:            # SGD has no betas, Adam no momentum
                    assert value is None
                else:
                    assert value == pytest.approx(expected, rel=1e-12)


def test_cosine_hits_eta_min_at_T_max_and_onecycle_shape():
    p = mg.zeros(1, requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=8, eta_min=0.1)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(8):
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    assert lrs[0] == 1.0 and lrs[-1] == pytest.approx(0.1) and lrs == sorted(lrs, reverse=True)
    opt = optim.SGD([p], lr=1.0, momentum=0.9)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=2.0, total_steps=100)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(99):
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    assert lrs[0] == pytest.approx(2.0 / 25) and max(lrs) == pytest.approx(2.0)
    assert lrs[-1] == pytest.approx(2.0 / 25 / 1e4)
    with pytest.raises(ValueError, match="Tried to step 101 times"):
        sched.step()
        sched.step()


def test_scheduler_state_dict_round_trip():
    p = mg.zeros(1, requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    sched = lr_scheduler.MultiStepLR(opt, milestones=[2, 4])
    for _ in range(3):
        sched.step()
    state = sched.state_dict()
    assert "optimizer" not in state and state["last_epoch"] == 3
    opt2 = optim.SGD([p], lr=0.1)
    sched2 = lr_scheduler.MultiStepLR(opt2, milestones=[7])
    sched2.load_state_dict(state)
    opt2.param_groups[0]["lr"] = opt.param_groups[0]["lr"]
    sched.step()
    sched2.step()
    assert sched2.get_last_lr() == sched.get_last_lr() == [pytest.approx(0.01)]


def test_scheduler_errors():
    p = mg.zeros(1, requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.StepLR(object(), 3)
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(opt, 3, last_epoch=4)
    with pytest.raises(ValueError, match="total_steps OR"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match="pct_start"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=2.0)
    with pytest.raises(ValueError, match="momentum or beta1"):
        class Plain(optim.Optimizer):
            def __init__(self, params):
                super().__init__(params, {"lr": 0.1})
        lr_scheduler.OneCycleLR(Plain([p]), max_lr=1.0, total_steps=10)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf"), 3.0])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(torch, norm_type, max_norm):
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(s) for s in SHAPES]
    ours = [mg.zeros(s, dtype=mg.float64, requires_grad=True) for s in SHAPES]
    theirs = [torch.zeros(s, dtype=torch.float64, requires_grad=True) for s in SHAPES]
    for p, tp, g in zip(ours, theirs, grads):
        p.grad, tp.grad = mg.tensor(g), torch.tensor(g)
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert total.item() == pytest.approx(ttotal.item(), rel=1e-12)
    for p, tp in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-12)
