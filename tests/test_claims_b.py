"""The noisy_bn, landscape, curvature and ics studies of ``examples/bn_claims.py``: their quick
runs through the report, and the pieces they rest on: the noise layer against NumPy, the
Lanczos eigen-solver against an exact Hessian, the landscape and internal-covariate-shift
probes against a direct computation in PyTorch, and the verdict rules."""
import json
import sys

import numpy as np
import pytest
from test_bn_claims import quick_study
from test_examples import EXAMPLES

import minigrad as mg
import minigrad.nn as nn

sys.path.insert(0, str(EXAMPLES))
from claims import _santurkar as S  # noqa: E402
from claims import curvature, ics, landscape, noisy_bn  # noqa: E402

STUDIES = ("noisy_bn", "landscape", "curvature", "ics")


def test_quick_runs_write_results_and_the_report(bn_claims_quick):
    tmp_path, _ = bn_claims_quick
    report = (tmp_path / "bn_claims.md").read_text()
    for name in STUDIES:
        assert set(quick_study(tmp_path, report, name)["runs"]) == set(S.ACTIVATIONS)
    assert report.count("(--quick: a smoke test, not a result)") >= 2 * len(STUDIES)

    r = json.loads((tmp_path / "claim_noisy_bn.json").read_text())
    assert r["eval_steps"][0] == 0 and r["eval_steps"][-1] == r["steps"]
    assert set(r["checkpoints"]) <= set(r["eval_steps"])
    for act in S.ACTIVATIONS:
        for kind in noisy_bn.KINDS:
            for x in r["runs"][act][kind]:
                assert len(x["loss"]) == len(x["test_acc"]) == len(r["eval_steps"])
                assert all(0 <= a <= 1 for a in x["train_acc"] + x["test_acc"])
        # BN pins each unit's batch mean and std, the noise moves them at every step
        for bn, noisy in zip(r["runs"][act]["bn"], r["runs"][act]["noisy"]):
            assert bn["shift"] < 0.05 < 0.3 < noisy["shift"]

    r = json.loads((tmp_path / "claim_landscape.json").read_text())
    for act in S.ACTIVATIONS:
        for x in r["runs"][act]["plain"] + r["runs"][act]["bn"]:
            assert x["steps"] == list(range(0, r["steps"], r["every"]))
            for lo, hi, rng in zip(x["loss_min"], x["loss_max"], x["loss_range"]):
                assert lo <= hi and rng == pytest.approx(hi - lo)
            assert all(a <= b for a, b in zip(x["grad_change_min"], x["grad_change"]))

    r = json.loads((tmp_path / "claim_curvature.json").read_text())
    for act in S.ACTIVATIONS:
        for x in r["runs"][act]["plain"] + r["runs"][act]["bn"]:
            assert x["steps"] == r["points"]
            for top, low in zip(x["top"], x["min"]):
                assert len(top) == r["top"] and top == sorted(top, reverse=True)
                assert top[0] > 0 and low <= top[-1]

    r = json.loads((tmp_path / "claim_ics.json").read_text())
    for act in S.ACTIVATIONS:
        for x in r["runs"][act]["plain"] + r["runs"][act]["bn"]:
            assert np.shape(x["cos"]) == (len(x["steps"]), 3)
            assert np.all(np.abs(x["cos"]) <= 1 + 1e-9) and np.all(np.array(x["l2"]) >= 0)


# ---------------------------------------------------------------- the noise layer

def test_noise_layer_draws_shift_and_scale_per_step_as_numpy_does(rng):
    layer = S.ShiftScaleNoise(7, n_mu=0.8, n_sigma=2.5, seed=42)
    reference = np.random.default_rng(42)
    x = rng.standard_normal((5, 7))
    for _ in range(3):   # a new draw at every training forward
        shift = reference.uniform(-0.8, 0.8, 7)
        scale = reference.uniform(1.0, 2.5, 7)
        y = layer(mg.tensor(x)).numpy()
        np.testing.assert_allclose(y, scale * x + shift, rtol=1e-14, atol=1e-14)
        np.testing.assert_array_equal(layer.last[0], shift)
        np.testing.assert_array_equal(layer.last[1], scale)
    assert np.all((-0.8 <= shift) & (shift <= 0.8)) and np.all((1 <= scale) & (scale <= 2.5))


def test_noise_layer_in_eval_applies_its_mean_and_draws_nothing(rng):
    layer = S.ShiftScaleNoise(4, n_mu=1.0, n_sigma=2.0, seed=3)
    x = rng.standard_normal((6, 4)).astype(np.float32)
    layer.eval()
    y = layer(mg.tensor(x))
    assert y.dtype == mg.float32
    np.testing.assert_allclose(y.numpy(), 1.5 * x, rtol=1e-6)
    layer.train()
    reference = np.random.default_rng(3)
    shift, scale = reference.uniform(-1, 1, 4), reference.uniform(1, 2, 4)
    np.testing.assert_allclose(layer(mg.tensor(x)).numpy(), scale * x + shift, rtol=1e-6,
                               atol=1e-6)


def test_noise_layer_gradient_is_the_drawn_scale(rng):
    layer = S.ShiftScaleNoise(3, seed=0)
    x = mg.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    upstream = rng.standard_normal((4, 3))
    (layer(x) * mg.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), upstream * layer.last[1], rtol=1e-14)


def test_noisy_net_puts_noise_after_each_bn_only():
    net = S.mlp(True, "relu", noise=(1.0, 2.0, 5))
    kinds = [type(m).__name__ for m in net.children()]
    assert kinds == ["Flatten"] + ["Linear", "BatchNorm1d", "ShiftScaleNoise", "ReLU"] * 3 \
        + ["Linear"]
    seeds_differ = [m.rng.uniform() for m in net.modules() if isinstance(m, S.ShiftScaleNoise)]
    assert len(set(seeds_differ)) == 3
    with pytest.raises(ValueError, match="batch_norm=True"):
        S.mlp(False, noise=(1.0, 2.0, 0))
    with pytest.raises(ValueError, match="n_sigma >= 1"):
        S.ShiftScaleNoise(3, n_sigma=0.5)


def test_paired_nets_share_linear_weights():
    nets = S.paired_nets(("plain", "bn", "noisy"), "sigmoid", seed=4)
    weights = [[m.weight.detach().numpy() for m in S.linears(n)] for n in nets.values()]
    for other in weights[1:]:
        for a, b in zip(weights[0], other):
            np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- the eigen-solver

def _tiny_net(batch_norm=True, seed=0):
    mg.manual_seed(seed)
    layers = [nn.Linear(6, 5)]
    if batch_norm:
        layers.append(nn.BatchNorm1d(5))
    layers += [nn.Sigmoid(), nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3)]
    return nn.Sequential(*layers).double()


def _chunked_loss(net, values, x, y, size):
    """The mean over consecutive batches of ``size`` of the net's loss in training mode."""
    losses = [nn.functional.cross_entropy(
        mg.func.functional_call(net, values, (x[i:i + size],)), y[i:i + size])
        for i in range(0, x.shape[0], size)]
    return sum(losses) / len(losses)


def _exact_hessian(net, x, y, size):
    names = [n for n, _ in net.named_parameters()]
    params = tuple(p.detach() for p in net.parameters())

    def loss(*values):
        return _chunked_loss(net, dict(zip(names, values)), x, y, size)

    blocks = mg.autograd.functional.hessian(loss, params)
    sizes = [p.numel() for p in params]
    return np.block([[blocks[i][j].numpy().reshape(sizes[i], sizes[j])
                      for j in range(len(params))] for i in range(len(params))])


@pytest.mark.parametrize("batch_norm", [False, True])
def test_ghost_batch_loss_is_the_mean_of_the_batches_losses(rng, batch_norm):
    net = _tiny_net(batch_norm)
    _perturb_bn(net, rng)
    x, y = mg.tensor(rng.standard_normal((12, 6))), mg.tensor(rng.integers(0, 3, 12))
    values = dict(net.named_parameters())
    with S.probing(net):
        for size in (3, 4, 12):
            got = curvature.ghost_batch_loss(net, values, x, y, size).item()
            assert got == pytest.approx(_chunked_loss(net, values, x, y, size).item(),
                                        rel=1e-13)
    before = [b.numpy().copy() for b in net.buffers()]
    curvature.ghost_batch_loss(net, values, x, y, 4)
    for a, b in zip(before, net.buffers()):
        np.testing.assert_array_equal(a, b.numpy())
    with pytest.raises(ValueError, match="not batches of 5"):
        curvature.ghost_batch_loss(net, values, x, y, 5)


@pytest.mark.parametrize("batch_norm", [False, True])
def test_hessian_operator_and_lanczos_match_the_exact_hessian(rng, batch_norm):
    net = _tiny_net(batch_norm)
    _perturb_bn(net, rng)
    x, y = mg.tensor(rng.standard_normal((16, 6))), mg.tensor(rng.integers(0, 3, 16))
    with S.probing(net):
        hessian = _exact_hessian(net, x, y, size=4)
        np.testing.assert_allclose(hessian, hessian.T, atol=1e-12)
        matvec, n = curvature.hessian_operator(net, x, y, size=4)
        assert n == hessian.shape[0] == sum(p.numel() for p in net.parameters())
        v = rng.standard_normal(n)
        np.testing.assert_allclose(matvec(v), hessian @ v, rtol=1e-10, atol=1e-12)
        exact = np.linalg.eigvalsh(hessian)
        values, residuals = curvature.lanczos(matvec, n, n, seed=1)
    # a full Krylov space (or an invariant one, on a rank-deficient Hessian) gives the
    # spectrum: every Ritz value is an eigenvalue, and the top ones are all found
    assert values.max() == pytest.approx(exact.max(), rel=1e-9)
    assert np.all(np.min(np.abs(values[:, None] - exact[None, :]), axis=1) < 1e-8)
    top = np.sort(values)[::-1][:3]
    np.testing.assert_allclose(top, exact[::-1][:3], rtol=1e-8)


def test_spectrum_leaves_the_net_as_it_was(rng):
    net = _tiny_net(batch_norm=True)
    x, y = mg.tensor(rng.standard_normal((16, 6))), mg.tensor(rng.integers(0, 3, 16))
    before = [t.detach().numpy().copy() for t in [*net.parameters(), *net.buffers()]]
    s = curvature.spectrum(net, x, y, iterations=12, seed=0, size=8)
    after = [t.detach().numpy() for t in [*net.parameters(), *net.buffers()]]
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)
    assert len(s["top"]) == curvature.TOP and s["top"] == sorted(s["top"], reverse=True)


def test_lanczos_finds_outliers_above_a_bulk_in_few_iterations(rng):
    # a symmetric matrix with three outliers far above a bulk in [-1, 1]
    n = 300
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    eig = np.concatenate([[50.0, 20.0, 10.0], rng.uniform(-1, 1, n - 3)])
    a = (q * eig) @ q.T
    values, residuals = curvature.lanczos(lambda v: a @ v, n, 30, seed=0)
    order = np.argsort(values)[::-1]
    np.testing.assert_allclose(values[order][:3], [50.0, 20.0, 10.0], rtol=1e-10)
    assert np.all(residuals[order][:3] < 1e-6)
    # the bound holds: each Ritz value is within its residual bound of an eigenvalue
    gap = np.min(np.abs(values[:, None] - eig[None, :]), axis=1)
    assert np.all(gap <= residuals + 1e-9)


# ---------------------------------------------------------------- the probes, against torch

def _torch_copy(torch, net):
    layers = []
    for m in net.children():
        if isinstance(m, nn.Linear):
            t = torch.nn.Linear(m.in_features, m.out_features).double()
            t.weight.data = torch.tensor(m.weight.detach().numpy().copy())
            t.bias.data = torch.tensor(m.bias.detach().numpy().copy())
        elif isinstance(m, nn.BatchNorm1d):
            t = torch.nn.BatchNorm1d(m.num_features).double()
            t.weight.data = torch.tensor(m.weight.detach().numpy().copy())
            t.bias.data = torch.tensor(m.bias.detach().numpy().copy())
        else:
            t = {nn.Sigmoid: torch.nn.Sigmoid, nn.ReLU: torch.nn.ReLU}[type(m)]()
        layers.append(t)
    return torch.nn.Sequential(*layers)


def _perturb_bn(net, rng):
    with mg.no_grad():   # BN scales and shifts away from 1 and 0, so their gradients matter
        for m in net.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.weight.copy_(mg.tensor(rng.uniform(0.5, 1.5, m.num_features)))
                m.bias.copy_(mg.tensor(rng.uniform(-0.5, 0.5, m.num_features)))


@pytest.mark.parametrize("batch_norm", [False, True])
def test_ics_probe_matches_a_direct_computation_in_torch(torch, rng, batch_norm):
    net = _tiny_net(batch_norm, seed=2)
    _perturb_bn(net, rng)
    xn, yn = rng.standard_normal((12, 6)), rng.integers(0, 3, 12)
    before = [t.detach().numpy().copy() for t in [*net.parameters(), *net.buffers()]]
    got = ics.probe(net, mg.tensor(xn), mg.tensor(yn), lr=0.3)
    for a, b in zip(before, [t.detach().numpy() for t in [*net.parameters(), *net.buffers()]]):
        np.testing.assert_array_equal(a, b)

    ref = _torch_copy(torch, net)
    x, y = torch.tensor(xn), torch.tensor(yn)
    loss = torch.nn.functional.cross_entropy(ref(x), y)
    grads = torch.autograd.grad(loss, list(ref.parameters()))
    grad = {id(p): g for p, g in zip(ref.parameters(), grads)}
    mods = list(ref.children())
    linear = [i for i, m in enumerate(mods) if isinstance(m, torch.nn.Linear)]
    assert len(got) == len(linear) - 1
    for (l2, gnorm, cos), i in zip(got, linear[1:]):
        moved = _torch_copy(torch, net)
        with torch.no_grad():
            for m_new, m_old in zip(list(moved.children())[:i], mods[:i]):
                for p_new, p_old in zip(m_new.parameters(), m_old.parameters()):
                    p_new -= 0.3 * grad[id(p_old)]
        w = list(moved.children())[i].weight
        shifted = torch.autograd.grad(
            torch.nn.functional.cross_entropy(moved(x), y), [w])[0].numpy()
        g = grad[id(mods[i].weight)].numpy()
        assert gnorm == pytest.approx(np.linalg.norm(g), rel=1e-12)
        assert l2 == pytest.approx(np.linalg.norm(g - shifted), rel=1e-9)
        assert cos == pytest.approx(np.sum(g * shifted) / np.linalg.norm(g)
                                    / np.linalg.norm(shifted), rel=1e-12)
        assert l2 > 0 and cos < 1


def test_ics_probe_with_no_step_sees_no_shift(rng):
    net = _tiny_net(True, seed=3)
    out = ics.probe(net, mg.tensor(rng.standard_normal((12, 6))),
                    mg.tensor(rng.integers(0, 3, 12)), lr=0.0)
    for l2, gnorm, cos in out:
        assert l2 == 0 and gnorm > 0 and cos == pytest.approx(1, abs=1e-12)


@pytest.mark.parametrize("batch_norm", [False, True])
def test_landscape_probe_matches_a_direct_computation_in_torch(torch, rng, batch_norm):
    net = _tiny_net(batch_norm, seed=5)
    _perturb_bn(net, rng)
    xn, yn = rng.standard_normal((12, 6)), rng.integers(0, 3, 12)
    sizes = (0.5, 1.0, 3.0)
    got = landscape.probe(net, mg.tensor(xn), mg.tensor(yn), lr=0.2, sizes=sizes)

    ref = _torch_copy(torch, net)
    x, y = torch.tensor(xn), torch.tensor(yn)
    params = list(ref.parameters())
    loss0 = torch.nn.functional.cross_entropy(ref(x), y)
    g0 = torch.autograd.grad(loss0, params)
    theta = [p.detach().clone() for p in params]
    losses, changes, betas = [loss0.item()], [], []
    for c in sizes:
        with torch.no_grad():
            for p, t, g in zip(params, theta, g0):
                p.copy_(t - c * 0.2 * g)
        loss = torch.nn.functional.cross_entropy(ref(x), y)
        g = torch.autograd.grad(loss, params)
        change = torch.sqrt(sum(((a - b) ** 2).sum() for a, b in zip(g, g0))).item()
        step = torch.sqrt(sum(((p - t) ** 2).sum() for p, t in zip(params, theta))).item()
        losses.append(loss.item())
        changes.append(change)
        betas.append(change / step)
    assert got["loss"] == pytest.approx(losses[0], rel=1e-12)
    assert got["loss_range"] == pytest.approx(max(losses) - min(losses), rel=1e-9)
    assert got["grad_change"] == pytest.approx(max(changes), rel=1e-9)
    assert got["grad_change_min"] == pytest.approx(min(changes), rel=1e-9)
    assert got["beta"] == pytest.approx(max(betas), rel=1e-9)


# ---------------------------------------------------------------- verdict rules

def test_outcome_and_tally():
    assert S.outcome([1.0, 1.1, 0.9], [2.0, 2.2, 1.9]) == "favor"
    assert S.outcome([2.0, 2.2, 1.9], [1.0, 1.1, 0.9]) == "oppose"
    assert S.outcome([1.0, 2.0, 3.0], [2.0, 1.0, 3.1]) == "neutral"
    assert S.outcome([2.0, 2.2, 1.9], [1.0, 1.1, 0.9], lower_favors=False) == "favor"
    assert S.tally(["favor"] * 4) == "reproduced"
    assert S.tally(["favor", "favor", "neutral", "oppose"]) == "partly"
    assert S.tally(["favor", "oppose"]) == "not reproduced"
    assert S.tally(["neutral"] * 3) == "not reproduced"
    assert S.tally(["oppose"] * 3) == "reversed"


def _landscape_results(bn_factor):
    probes = 5
    runs = {}
    for act in S.ACTIVATIONS:
        runs[act] = {}
        for kind, f in (("plain", 1.0), ("bn", bn_factor)):
            runs[act][kind] = [{key: list(f * (1 + 0.01 * seed) * np.ones(probes))
                                for key in (*landscape.MEASURES, "grad_norm")}
                               for seed in range(3)]
    return {"runs": runs, "steps": 10}


def test_landscape_verdicts_follow_the_rule():
    for factor, verdict in ((0.1, "reproduced"), (10.0, "reversed"), (1.0, "not reproduced")):
        r = _landscape_results(factor)
        for act in S.ACTIVATIONS:
            for kind in ("plain", "bn"):
                for x in r["runs"][act][kind]:
                    x["test_accuracy"] = 0.9
        assert landscape.summarize(r)["verdict"] == verdict


def test_noisy_bn_verdict_needs_the_manipulation_to_work():
    steps, points = 3000, noisy_bn.eval_steps(3000)

    def results(noisy_loss, noisy_shift):
        runs = {}
        for act in S.ACTIVATIONS:
            runs[act] = {}
            for kind, loss, shift in (("plain", 1.0, 0.3), ("bn", 0.1, 0.0),
                                      ("noisy", noisy_loss, noisy_shift)):
                runs[act][kind] = [{"loss": [loss * (1 + 0.01 * s)] * len(points),
                                    "train_acc": [0.9] * len(points),
                                    "test_acc": [0.9] * len(points), "shift": shift,
                                    "trace": {"mean": [], "std": []}} for s in range(3)]
        return {"steps": steps, "eval_steps": points, "checkpoints": noisy_bn.checkpoints(steps),
                "runs": runs}

    assert noisy_bn.summarize(results(0.12, 0.6))["verdict"] == "reproduced"
    assert noisy_bn.summarize(results(0.5, 0.6))["verdict"] == "not reproduced"  # not halfway
    assert noisy_bn.summarize(results(3.0, 0.6))["verdict"] == "reversed"
    assert noisy_bn.summarize(results(0.12, 0.1))["verdict"] == "not reproduced"  # check fails


def test_ics_verdict_counts_only_clear_reductions():
    def results(bn_cos):
        runs = {}
        for act in S.ACTIVATIONS:
            runs[act] = {}
            for kind, cos, l2 in (("plain", 0.9, 1.0), ("bn", bn_cos, 1.0)):
                runs[act][kind] = [{"cos": [[cos + 0.001 * s] * 3] * 4, "l2": [[l2] * 3] * 4,
                                    "grad_norm": [[11.0 + 0.1 * s if kind == "bn" else 10.0]
                                                  * 3] * 4,
                                    "steps": [0, 1, 2, 3], "test_accuracy": 0.9}
                                   for s in range(3)]
        return {"runs": runs, "layers": [2, 3, 4], "steps": 4}

    assert ics.summarize(results(0.5))["verdict"] == "reproduced"   # BN: lower cosine
    # BN: higher cosine and (its gradients a little larger) a smaller relative ℓ2
    assert ics.summarize(results(0.99))["verdict"] == "reversed"
