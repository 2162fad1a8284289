"""LBFGS against PyTorch: a small network's parameters, the losses returned and the
closure calls over many ``step(closure)`` calls (float64 to ~1e-12; with and without the
strong-Wolfe line search, short histories, evaluation and tolerance limits, float32), the
state under PyTorch's names and values, a checkpoint that resumes as if never stopped, and
the option checks; convergence on a quadratic and on Rosenbrock's function without
PyTorch."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad import optim

STATE_NAMES = {"func_evals", "n_iter", "d", "t", "old_dirs", "old_stps", "ro", "H_diag",
               "prev_flat_grad", "prev_loss", "al"}


def _data(seed=0, dtype=np.float64):
    """Inputs and labels (3 classes) of a small classification problem."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((40, 6)).astype(dtype), rng.integers(0, 3, 40)


def _models(torch, seed=0, dtype="float64", hidden=None):
    """Linear(6, 3) (with the L2 penalty in ``_run``, a strongly convex problem), or with
    ``hidden`` units a Linear-tanh-Linear network, in minigrad and torch."""
    torch.manual_seed(seed)
    md, tn = getattr(mg, dtype), torch.nn
    if hidden is None:
        tm, mm = tn.Linear(6, 3), nn.Linear(6, 3, dtype=md)
    else:
        tm = tn.Sequential(tn.Linear(6, hidden), tn.Tanh(), tn.Linear(hidden, 3))
        mm = nn.Sequential(nn.Linear(6, hidden, dtype=md), nn.Tanh(),
                           nn.Linear(hidden, 3, dtype=md))
    tm = tm.double() if dtype == "float64" else tm.float()
    mm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    return mm, tm


def _run(lib, model, opt, data, steps):
    """``steps`` calls of opt.step(closure) on cross-entropy plus an L2 penalty; the losses
    the steps return and the closure calls so far after each step."""
    x, y = lib.tensor(data[0]), lib.tensor(data[1])
    F = mg.nn.functional if lib is mg else lib.nn.functional
    calls = [0]

    def closure():
        calls[0] += 1
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss = loss + 0.05 * sum((p * p).sum() for p in model.parameters())
        loss.backward()
        return loss

    losses, counts = [], []
    for _ in range(steps):
        losses.append(float(opt.step(closure).detach()))
        counts.append(calls[0])
    return losses, counts


def _assert_same_parameters(mm, tm, rtol=1e-12, atol=1e-14):
    for (name, p), (tname, tp) in zip(mm.named_parameters(), tm.named_parameters()):
        assert name == tname
        np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=rtol,
                                   atol=atol, err_msg=name)


OPTIONS = [
    dict(),
    dict(lr=0.5),
    dict(history_size=3),
    dict(history_size=2, max_iter=4),
    dict(max_iter=4),
    dict(max_iter=30, max_eval=12),
    dict(tolerance_change=1e-4),
    dict(tolerance_grad=1e-2),
    dict(tolerance_grad=0, tolerance_change=0, max_iter=10),   # (iterating on to the end)
    dict(line_search_fn="strong_wolfe"),
    dict(line_search_fn="strong_wolfe", history_size=2, max_iter=10),
    dict(line_search_fn="strong_wolfe", lr=0.3, max_eval=9),
    dict(line_search_fn="strong_wolfe", lr=0.01),   # (extrapolation)
]


def _compare(torch, kwargs, steps, seed=0, hidden=None):
    mm, tm = _models(torch, seed, hidden=hidden)
    mo, to = optim.LBFGS(mm.parameters(), **kwargs), torch.optim.LBFGS(tm.parameters(), **kwargs)
    data = _data(seed)
    ours, theirs = _run(mg, mm, mo, data, steps), _run(torch, tm, to, data, steps)
    assert ours[1] == theirs[1]             # the same closure calls, step by step
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12)
    _assert_same_parameters(mm, tm)
    first = next(mm.parameters())
    ms, ts = mo.state[first], to.state[next(tm.parameters())]
    assert (ms["n_iter"], ms["func_evals"]) == (ts["n_iter"], ts["func_evals"])
    return ours


@pytest.mark.parametrize("kwargs", OPTIONS, ids=str)
def test_training_matches_torch(torch, kwargs):
    """8 steps on a strongly convex problem (up to 80 iterations): L-BFGS there does not
    amplify the last-bit differences of two implementations (PyTorch's fused
    multiply-adds, other summation orders), so agreement to ~1e-12 is the semantics."""
    losses, calls = _compare(torch, kwargs, 8)
    assert losses[1] < 0.9 * losses[0]      # (it did optimize)


@pytest.mark.parametrize("kwargs", [dict(), dict(line_search_fn="strong_wolfe", max_iter=10)],
                         ids=str)
def test_a_network_trains_as_in_torch(torch, kwargs):
    """A tanh network (not convex): one step (10 to 20 iterations)."""
    _compare(torch, kwargs, 1, hidden=5)


def test_the_zoom_phase_trains_as_in_torch(torch):
    """With large steps the line search zooms (cubic interpolation between bracket ends),
    dividing differences of nearly equal losses: the last-bit differences of the trial
    points (PyTorch moves them with a fused multiply-add) grow there to ~1e-11 relative
    (measured: 1e-10 at worst over six seeds; the line search alone is compared exactly
    below). The closure calls must still be the same, step by step."""
    mm, tm = _models(torch)
    kwargs = dict(line_search_fn="strong_wolfe", lr=5.0)
    mo, to = optim.LBFGS(mm.parameters(), **kwargs), torch.optim.LBFGS(tm.parameters(), **kwargs)
    data = _data()
    ours, theirs = _run(mg, mm, mo, data, 8), _run(torch, tm, to, data, 8)
    assert ours[1] == theirs[1]
    _assert_same_parameters(mm, tm, rtol=1e-9, atol=1e-12)


PHIS = {
    # phi(t), phi'(t): the loss along the search direction
    "quadratic": (lambda t: (t - 2.0) ** 2 - 4.0, lambda t: 2.0 * (t - 2.0)),
    "wavy": (lambda t: np.sin(3.0 * t) * 0.5 - t * np.exp(-t * t),
             lambda t: 1.5 * np.cos(3.0 * t) - np.exp(-t * t) + 2.0 * t * t * np.exp(-t * t)),
    "steep": (lambda t: np.exp(4.0 * t) - 8.0 * t, lambda t: 4.0 * np.exp(4.0 * t) - 8.0),
}


@pytest.mark.parametrize("phi", list(PHIS))
@pytest.mark.parametrize("t0,max_ls", [(1.0, 25), (0.01, 25), (10.0, 25), (3.0, 25),
                                       (10.0, 2), (0.01, 1)])
def test_strong_wolfe_line_search_matches_torchs(torch, phi, t0, max_ls):
    """The line search alone, on a loss along d given by a formula (the same floats for
    both): every decision and interpolation, bracketing, zoom, running out of
    evaluations. PyTorch's private ``_strong_wolfe`` is the oracle."""
    torch_lbfgs = pytest.importorskip("torch.optim.lbfgs")
    if not hasattr(torch_lbfgs, "_strong_wolfe"):
        pytest.skip("this torch has no torch.optim.lbfgs._strong_wolfe")
    from minigrad.optim import lbfgs
    f, df = PHIS[phi]
    results = []
    for search, make in ((torch_lbfgs._strong_wolfe,
                          lambda v: torch.tensor([v], dtype=torch.float64)),
                         (lbfgs._strong_wolfe, lambda v: np.array([v]))):
        trials = []

        def evaluate(x, t, d):
            t = float(t)
            trials.append(t)
            return float(f(t)), make(df(t))

        loss, grad, t, evals = search(evaluate, None, t0, make(1.0), float(f(0.0)),
                                      make(df(0.0)), make(df(0.0)).dot(make(1.0)),
                                      max_ls=max_ls)
        results.append((float(loss), float(grad[0]), float(t), evals, trials))
    (loss, grad, t, evals, trials), theirs = results[1], results[0]
    assert evals == theirs[3] == len(trials) == len(theirs[4]) <= max_ls + 1
    # the same decisions; the numbers to the last bits (PyTorch divides by a 0-d tensor
    # as a multiplication by its reciprocal)
    np.testing.assert_allclose([loss, t] + trials, [theirs[0], theirs[2]] + theirs[4],
                               rtol=1e-14, atol=0)
    assert grad == float(PHIS[phi][1](t))   # (the gradient at the accepted point)


def test_float32_matches_torch(torch):
    """In float32 the computation stays in float32 (PyTorch's scalar promotion); rounding
    differences are float32's, so one step of a few iterations is compared."""
    mm, tm = _models(torch, 1, dtype="float32")
    kwargs = dict(line_search_fn="strong_wolfe", max_iter=5)
    mo, to = optim.LBFGS(mm.parameters(), **kwargs), torch.optim.LBFGS(tm.parameters(), **kwargs)
    data = _data(1, np.float32)
    ours, theirs = _run(mg, mm, mo, data, 1), _run(torch, tm, to, data, 1)
    assert ours[1] == theirs[1]
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-5)
    _assert_same_parameters(mm, tm, rtol=1e-4, atol=1e-5)
    assert mo.state[mm.weight]["d"].dtype == mg.float32


def _state_value(v):
    if isinstance(v, list):
        return [_state_value(e) for e in v]
    return None if v is None else np.asarray(v.numpy() if hasattr(v, "numpy") else v, np.float64)


def _assert_same_state(ms, ts):
    assert set(ms) == set(ts) == STATE_NAMES
    for key in STATE_NAMES:
        a, b = _state_value(ms[key]), _state_value(ts[key])
        if isinstance(b, list):
            assert len(a) == len(b), key
            for x, y in zip(a, b):
                assert (x is None) == (y is None), key
                if y is not None:
                    np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-13, err_msg=key)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13, err_msg=key)


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_state_and_a_checkpoint_that_resumes_like_never_stopping(torch, tmp_path,
                                                                  line_search_fn):
    kwargs = dict(max_iter=4, history_size=5, line_search_fn=line_search_fn)
    data = _data(2)
    mm, tm = _models(torch, 2)
    mo, to = optim.LBFGS(mm.parameters(), **kwargs), torch.optim.LBFGS(tm.parameters(), **kwargs)
    _run(mg, mm, mo, data, 3)
    _run(torch, tm, to, data, 3)
    sd, tsd = mo.state_dict(), to.state_dict()
    assert sorted(sd["state"]) == sorted(tsd["state"]) == [0]   # on the first parameter
    assert sd["param_groups"] == tsd["param_groups"]
    _assert_same_state(sd["state"][0], tsd["state"][0])
    assert len(sd["state"][0]["old_dirs"]) == 5                 # (the history is full)

    mg.save({"model": mm.state_dict(), "opt": sd}, tmp_path / "ckpt.npz")
    ckpt = mg.load(tmp_path / "ckpt.npz")
    mm2, _ = _models(torch, 7)
    mm2.load_state_dict(ckpt["model"])
    mo2 = optim.LBFGS(mm2.parameters())
    mo2.load_state_dict(ckpt["opt"])
    assert mo2.param_groups[0]["history_size"] == 5
    ours, theirs = _run(mg, mm2, mo2, data, 3), _run(torch, tm, to, data, 3)
    assert ours[1] == theirs[1]
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12)
    _assert_same_parameters(mm2, tm)
    _assert_same_state(mo2.state[mm2.weight], to.state[tm.weight])


def test_a_torch_state_dict_loads_into_minigrad(torch):
    kwargs = dict(max_iter=3, line_search_fn="strong_wolfe")
    data = _data(3)
    mm, tm = _models(torch, 3)
    to = torch.optim.LBFGS(tm.parameters(), **kwargs)
    _run(torch, tm, to, data, 2)
    mm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})

    def host(v):
        if isinstance(v, list):
            return [host(e) for e in v]
        return v.numpy() if isinstance(v, torch.Tensor) else v

    tsd = to.state_dict()
    mo = optim.LBFGS(mm.parameters())
    mo.load_state_dict({"state": {i: {k: host(v) for k, v in s.items()}
                                  for i, s in tsd["state"].items()},
                        "param_groups": tsd["param_groups"]})
    assert isinstance(mo.state[mm.weight]["old_dirs"][0], mg.Tensor)
    ours, theirs = _run(mg, mm, mo, data, 2), _run(torch, tm, to, data, 2)
    assert ours[1] == theirs[1]
    _assert_same_parameters(mm, tm)


def test_a_loss_already_at_a_minimum_returns_at_once(torch):
    for lib, opt_mod in ((mg, optim), (torch, torch.optim)):
        p = lib.zeros(3, dtype=lib.float64, requires_grad=True)
        opt = opt_mod.LBFGS([p])
        calls = []

        def closure():
            calls.append(1)
            opt.zero_grad()
            loss = (p * p).sum()
            loss.backward()
            return loss

        assert float(opt.step(closure).detach()) == 0.0
        assert len(calls) == 1
        assert set(opt.state[p]) == {"func_evals", "n_iter"}
        assert (opt.state[p]["func_evals"], opt.state[p]["n_iter"]) == (1, 0)


def test_gradients_missing_for_a_parameter_count_as_zero(torch):
    results = []
    for lib, opt_mod in ((mg, optim), (torch, torch.optim)):
        a = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        unused = lib.tensor([5.0], dtype=lib.float64, requires_grad=True)
        opt = opt_mod.LBFGS([a, unused], line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = ((a - 3.0) ** 4).sum()
            loss.backward()
            return loss

        for _ in range(3):
            opt.step(closure)
        results.append((a.detach().numpy().copy(), unused.detach().numpy().copy()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    np.testing.assert_array_equal(results[0][1], [5.0])


def test_options_are_checked_like_torch(torch):
    for lib, opt_mod in ((mg, optim), (torch, torch.optim)):
        p, q = lib.zeros(2, requires_grad=True), lib.zeros(2, requires_grad=True)
        with pytest.raises(ValueError, match="Invalid learning rate"):
            opt_mod.LBFGS([p], lr=-1.0)
        with pytest.raises(ValueError, match="doesn't support per-parameter options"):
            opt_mod.LBFGS([{"params": [p]}, {"params": [q], "lr": 0.1}])
        assert opt_mod.LBFGS([p], max_iter=8).param_groups[0]["max_eval"] == 10
        assert opt_mod.LBFGS([p]).defaults == {
            "lr": 1, "max_iter": 20, "max_eval": 25, "tolerance_grad": 1e-7,
            "tolerance_change": 1e-9, "history_size": 100, "line_search_fn": None}
    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        optim.LBFGS([mg.zeros(2, requires_grad=True)], line_search_fn="armijo")
    with pytest.raises(TypeError):
        optim.LBFGS([mg.zeros(2, requires_grad=True)]).step()   # (a closure is required)


# ---------------------------------------------------------------- without PyTorch

def _minimize(fn, x0, steps=10, **kwargs):
    x = mg.tensor(x0, dtype=mg.float64, requires_grad=True)
    opt = optim.LBFGS([x], **kwargs)

    def closure():
        opt.zero_grad()
        loss = fn(x)
        loss.backward()
        return loss

    for _ in range(steps):
        opt.step(closure)
    return x.detach().numpy()


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_a_convex_quadratic_is_solved(line_search_fn):
    rng = np.random.default_rng(0)
    m = rng.standard_normal((6, 6))
    A, b = m @ m.T + 6 * np.eye(6), rng.standard_normal(6)
    At, bt = mg.tensor(A), mg.tensor(b)
    x = _minimize(lambda x: 0.5 * (x @ (At @ x)) - (bt * x).sum(), np.zeros(6),
                  line_search_fn=line_search_fn, tolerance_grad=1e-12, tolerance_change=0,
                  max_iter=50)
    np.testing.assert_allclose(x, np.linalg.solve(A, b), rtol=1e-8, atol=1e-9)


def test_rosenbrock_is_minimized_with_the_line_search():
    def rosenbrock(x):
        return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
    x = _minimize(rosenbrock, [-1.5, 2.0], steps=5, line_search_fn="strong_wolfe",
                  tolerance_grad=1e-12, tolerance_change=1e-15, max_iter=100)
    np.testing.assert_allclose(x, [1.0, 1.0], atol=1e-8)


def test_runs_on_a_device_as_on_the_cpu(device):
    rng = np.random.default_rng(3)
    A = rng.standard_normal((5, 5))
    results = []
    for where in ("cpu", device):
        At = mg.tensor(A @ A.T + np.eye(5), device=where)
        p = mg.tensor(rng.standard_normal(5) * 0 + 1.0, device=where, requires_grad=True)
        opt = optim.LBFGS([p], line_search_fn="strong_wolfe", max_iter=5)

        def closure():
            opt.zero_grad()
            loss = (p @ (At @ p)) + (p ** 4).sum()
            loss.backward()
            return loss

        for _ in range(2):
            opt.step(closure)
        assert opt.state[p]["d"].device == p.device
        results.append(p.detach().cpu().numpy())
    np.testing.assert_allclose(results[1], results[0], rtol=1e-10, atol=1e-12)
