"""The depth, init_scale, regularization and steps_to_accuracy studies of
``examples/bn_claims.py``: their quick runs through the report, and the helpers and verdict
rules they rest on."""
import json
import sys

import numpy as np
import pytest
from test_bn_claims import quick_study
from test_examples import EXAMPLES

import minigrad as mg

sys.path.insert(0, str(EXAMPLES))
from claims import _mlp, depth, init_scale, regularization, steps_to_accuracy  # noqa: E402

STUDIES = ("depth", "init_scale", "regularization", "steps_to_accuracy")


def test_quick_runs_write_results_and_the_report(bn_claims_quick):
    tmp_path, _ = bn_claims_quick
    report = (tmp_path / "bn_claims.md").read_text()
    for name in STUDIES:
        quick_study(tmp_path, report, name)
    assert "(--quick: a smoke test, not a result)" in report

    r = json.loads((tmp_path / "claim_depth.json").read_text())
    assert r["depths"] == [2, 5, 20] and {"steps", "lr", "batch_size", "width"} <= set(r)
    for key in ("bn", "plain"):
        for d in r["depths"]:
            runs = r["runs"][key][str(d)]
            assert [x["seed"] for x in runs] == [0, 1]
            assert all(len(x["grad_norms"]) == d and 0 <= x["accuracy"] <= 1 for x in runs)
    # the shallow nets learn something in 30 steps
    assert min(x["accuracy"] for x in r["runs"]["bn"]["2"]) > 0.5

    r = json.loads((tmp_path / "claim_init_scale.json").read_text())
    assert r["scales"] == [0.01, 1.0, 100.0] and set(r["runs"]) == {"bn", "plain"}
    assert all(len(r["runs"][k][str(s)]) == 2 for k in r["runs"] for s in r["scales"])

    r = json.loads((tmp_path / "claim_regularization.json").read_text())
    assert set(r["runs"]) == set(regularization.VARIANTS)
    for runs in r["runs"].values():
        for x in runs:
            assert x["gap"] == pytest.approx(x["train_accuracy"] - x["test_accuracy"])
            assert x["curve"]["steps"] == list(range(0, r["steps"] + 1, r["curve_every"]))

    r = json.loads((tmp_path / "claim_steps_to_accuracy.json").read_text())
    assert set(r["runs"]) == set(steps_to_accuracy.VARIANTS)
    assert [r["runs"][k][0]["lr"] for k in ("plain", "bn", "bn_x5", "bn_x30")] == \
        [r["base_lr"] * f for f in (1, 1, 5, 30)]
    for plain in r["runs"]["plain"]:
        # the plain net reaches its own final accuracy by the last step at the latest
        assert plain["target"] == plain["curve"]["values"][-1]
        assert plain["steps_to_target"] is not None and plain["steps_to_target"] <= r["steps"]


# ---------------------------------------------------------------- helpers

def test_steps_to_target():
    steps, acc = [0, 50, 100, 150], [0.1, 0.8, 0.95, 0.9]
    assert _mlp.steps_to_target(steps, acc, 0.8) == 50      # reaching it counts
    assert _mlp.steps_to_target(steps, acc, 0.9) == 100     # the first crossing, not the last
    assert _mlp.steps_to_target(steps, acc, 0.96) is None
    assert _mlp.steps_to_target(steps, acc, 0.05) == 0
    assert _mlp.steps_to_target([], [], 0.5) is None


@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_layer_grad_norms_match_torch(torch, rng, batch_norm, activation):
    mg.manual_seed(3)
    net = _mlp.mlp(6, 16, activation, batch_norm=batch_norm)
    _mlp.scale_weights(net, 1.7)        # a non-default state, so a mixed-up layer shows
    ref = _mlp.mlp(6, 16, activation, batch_norm=batch_norm, layers=torch.nn)
    with torch.no_grad():
        for a, b in zip(_mlp.linears(net), [m for m in ref.modules()
                                            if isinstance(m, torch.nn.Linear)]):
            b.weight.copy_(torch.from_numpy(a.weight.detach().numpy()))
            b.bias.copy_(torch.from_numpy(a.bias.detach().numpy()))
    x = rng.standard_normal((32, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 32)
    got = _mlp.layer_grad_norms(net, x, y)
    torch.nn.functional.cross_entropy(ref(torch.from_numpy(x)), torch.from_numpy(y)).backward()
    want = [float(m.weight.grad.norm()) for m in ref.modules()
            if isinstance(m, torch.nn.Linear)]
    assert len(got) == 6
    np.testing.assert_allclose(got, want, rtol=2e-5)
    assert all(p.grad is None or not p.grad.numpy().any() for p in net.parameters())


def test_mlp_layout_and_shared_init():
    mg.manual_seed(0)
    plain = _mlp.mlp(4, 8)
    mg.manual_seed(0)
    both = _mlp.mlp(4, 8, "sigmoid", batch_norm=True, dropout=0.5)
    names = [type(m).__name__ for m in both]
    assert names == ["Flatten"] + ["Linear", "BatchNorm1d", "Sigmoid", "Dropout"] * 3 + ["Linear"]
    assert [tuple(m.weight.shape) for m in _mlp.linears(plain)] == \
        [(8, 784), (8, 8), (8, 8), (10, 8)]
    # BN and dropout layers draw nothing at construction: the studies rely on it
    for a, b in zip(_mlp.linears(plain), _mlp.linears(both)):
        np.testing.assert_array_equal(a.weight.detach().numpy(), b.weight.detach().numpy())
    with pytest.raises(ValueError):
        _mlp.mlp(0, 8)


def test_scale_weights_scales_weights_not_biases():
    mg.manual_seed(0)
    net = _mlp.mlp(3, 8)
    before = [(m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy())
              for m in _mlp.linears(net)]
    assert _mlp.scale_weights(net, 100.0) is net
    for (w, b), m in zip(before, _mlp.linears(net)):
        np.testing.assert_allclose(m.weight.detach().numpy(), 100 * w, rtol=1e-6)
        np.testing.assert_array_equal(m.bias.detach().numpy(), b)


def test_train_evaluates_on_schedule_and_stops_at_divergence(rng):
    x = rng.standard_normal((200, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 200)
    calls = []

    def evaluate(model):
        calls.append(1)
        return float(len(calls))

    mg.manual_seed(0)
    r = _mlp.train(_mlp.mlp(2, 8), (x, y), 25, 20, 0.01, seed=0, evaluate=evaluate, every=10)
    assert not r["diverged"] and np.isfinite(r["final_loss"])
    assert r["curve"] == {"steps": [0, 10, 20, 25], "values": [1.0, 2.0, 3.0, 4.0]}

    calls.clear()
    mg.manual_seed(0)
    net = _mlp.scale_weights(_mlp.mlp(2, 8), 1e3)
    with np.errstate(all="ignore"):
        r = _mlp.train(net, (x, y), 25, 20, 1e12, seed=0, evaluate=evaluate, every=10)
    assert r["diverged"]
    # every due evaluation is there; those after the failure repeat one evaluation of it
    assert r["curve"]["steps"] == [0, 10, 20, 25]
    assert len(calls) < 4 and r["curve"]["values"][-1] == r["curve"]["values"][-2]


def test_mean_std_and_fmt():
    assert _mlp.mean_std([1.0, 2.0, 3.0]) == (2.0, 1.0)
    assert _mlp.mean_std([0.5]) == (0.5, 0.0)
    assert _mlp.mean_std([None, 1.0, float("nan"), 3.0]) == (2.0, pytest.approx(2 ** 0.5))
    assert all(np.isnan(_mlp.mean_std([None])))
    assert _mlp.fmt([0.9, 0.92]) == "0.910 ± 0.014"


# ---------------------------------------------------------------- verdict rules

def test_depth_verdict_rule():
    assert depth.verdict(0.95, 0.11) == "reproduced"
    assert depth.verdict(0.95, 0.93) == "partly"          # the plain net trains too
    assert depth.verdict(0.7, 0.11) == "partly"           # BN gets far, not to 0.9
    assert depth.verdict(0.3, 0.11) == "not reproduced"
    assert depth.verdict(0.11, 0.11) == "not reproduced"
    assert depth.verdict(0.11, 0.5) == "reversed"


def _scale_results(means):
    scales = list(means["bn"])
    run = {"diverged": False, "final_loss": 0.1}
    return {"scales": scales, "seeds": [0, 1], "steps": 10,
            "runs": {k: {str(s): [{"accuracy": a, **run}, {"accuracy": a, **run}]
                         for s, a in v.items()} for k, v in means.items()}}


def test_init_scale_verdict_rule():
    r = _scale_results({"bn": {0.1: 0.95, 1.0: 0.96, 10.0: 0.945},
                        "plain": {0.1: 0.5, 1.0: 0.95, 10.0: 0.2}})
    assert init_scale.working(r, "bn") == [0.1, 1.0, 10.0]
    assert init_scale.working(r, "plain") == [1.0]
    assert init_scale.verdict(3, 1, 3) == "reproduced"
    assert init_scale.verdict(2, 1, 3) == "partly"
    assert init_scale.verdict(3, 3, 3) == "partly"
    assert init_scale.verdict(1, 1, 3) == "not reproduced"
    assert init_scale.verdict(1, 2, 3) == "reversed"
    assert init_scale.summarize(r)["verdict"] == "reproduced"


def _regularization_results(means, std=0.002):
    return {"runs": {k: [{"test_accuracy": m - std}, {"test_accuracy": m + std}]
                     for k, m in means.items()}}


def test_regularization_verdict_rule():
    def v(none, dropout, bn):
        return regularization.verdict(_regularization_results(
            {"none": none, "dropout": dropout, "bn": bn, "bn+dropout": bn}))
    # the std of each pair is 0.0028, so "clearly above" needs a difference > 0.0057
    assert v(0.90, 0.93, 0.93) == "reproduced"
    assert v(0.90, 0.93, 0.926) == "reproduced"   # dropout not clearly above BN
    assert v(0.90, 0.95, 0.93) == "partly"
    assert v(0.90, 0.95, 0.903) == "not reproduced"
    assert v(0.93, 0.95, 0.90) == "reversed"


def test_steps_to_accuracy_speedups_and_verdict():
    def results(plain, **others):
        runs = {"plain": [{"steps_to_target": s} for s in plain]}
        for k in ("bn", "bn_x5", "bn_x30"):
            runs[k] = [{"steps_to_target": s} for s in others.get(k, [None] * len(plain))]
        return {"runs": runs}

    r = results([9000, 10000], bn=[3000, 5000], bn_x5=[900, 1000], bn_x30=[500, None])
    assert steps_to_accuracy.speedups(r, "bn") == [3.0, 2.0]
    assert steps_to_accuracy.speedups(r, "bn_x30") == [18.0, None]
    # bn_x30 misses a seed, so bn_x5 is the best variant that reaches the target in all
    assert steps_to_accuracy.best_speedup(r) == ("bn_x5", 10.0)
    assert steps_to_accuracy.verdict(r) == "reproduced"
    assert steps_to_accuracy.verdict(results([1000, 1000], bn=[400, 250])) == "partly"
    assert steps_to_accuracy.verdict(results([1000, 1000], bn=[800, 1000])) == \
        "not reproduced"
    assert steps_to_accuracy.verdict(results([1000, 1000], bn=[2000, 3000])) == "reversed"
    assert steps_to_accuracy.verdict(results([1000, 1000], bn=[100, None])) == "reversed"
