"""The small-batch study of the BN claims report (``examples/claims/small_batch.py``): its
--quick run through ``examples/bn_claims.py`` on the real MNIST files (skipped without
them), and its verdict rule and nets without data."""
import json
import sys

import pytest

from test_examples import EXAMPLES, _check_png

sys.path.insert(0, str(EXAMPLES))
import claims  # noqa: E402
from claims import small_batch  # noqa: E402

import minigrad as mg  # noqa: E402
import minigrad.nn as nn  # noqa: E402


def test_small_batch_quick_run_writes_json_plot_and_report(bn_claims_quick):
    tmp_path, stdout = bn_claims_quick
    assert "small_batch:" in stdout
    _check_png(tmp_path / "claim_small_batch.png")
    r = json.loads((tmp_path / "claim_small_batch.json").read_text())
    assert r["name"] == "small_batch" and r["quick"] is True and r["seeds"] == [0, 1]
    sizes = r["config"]["sizes"]
    assert sizes == small_batch.QUICK["sizes"] and r["config"]["sgd_batch"] == 64
    # every (seed, net): BN and BatchRenorm at each b, GroupNorm and LayerNorm once
    expected = {(seed, net, norm, b) for seed in (0, 1) for net in small_batch.NETS
                for norm in small_batch.NORMS
                for b in (sizes if norm in small_batch.BATCH_STATISTICS else [None])}
    assert {(x["seed"], x["net"], x["norm"], x["b"]) for x in r["runs"]} == expected
    assert len(r["runs"]) == len(expected)
    for run in r["runs"]:
        assert run["steps"] == small_batch.QUICK["steps"][run["net"]] and not run["diverged"]
        hows = {"BatchNorm": {"ema", "precise", "batch_stats"},
                "BatchRenorm": {"ema", "batch_stats"}}.get(run["norm"], {"ema"})
        assert hows == {"ema", "precise", "batch_stats"} & set(run)
        assert all(0.0 <= run[h] <= 1.0 for h in hows)
        if run["norm"] in small_batch.BATCH_STATISTICS:
            b = run["b"]
            assert run["values_per_statistic"] == (
                [b] * 3 if run["net"] == "mlp" else [784 * b, 196 * b, 49 * b, 9 * b])
    # the table holds mean and SD over the two seeds of every cell
    bn = r["accuracy"]["mlp"]["BatchNorm"]
    cells = [x["ema"] for x in r["runs"] if (x["net"], x["norm"], x["b"]) ==
             ("mlp", "BatchNorm", sizes[0])]
    assert bn["ema"][str(sizes[0])][0] == pytest.approx(sum(cells) / 2)
    assert set(r["accuracy"]["conv"]["GroupNorm"]["ema"]) == {"any"}
    # Ghost BN at a large batch: three arms per seed, on the same images
    arms = [(g["sgd_batch"], g["virtual_batch_size"]) for g in r["ghost_runs"]]
    assert arms == [(64, 64), (1024, 1024), (1024, 32)] * 2
    for g in r["ghost_runs"]:
        assert g["steps"] == small_batch.QUICK["ghost_images"] // g["sgd_batch"]
        assert g["lr"] == pytest.approx(0.05 * g["sgd_batch"] / 32)
    assert set(r["ghost_accuracy"]) == {"64/64", "1024/1024", "1024/32"}
    report = (tmp_path / "bn_claims.md").read_text()
    assert "Small batches: few values per statistic" in report
    assert "(--quick: a smoke test, not a result)" in report
    assert any(f"**Verdict: {v}.**" in report for v in claims.VERDICTS)
    summary = small_batch.summarize(r)
    assert summary["verdict"] in claims.VERDICTS and "PreciseBN" in summary["numbers"]


def test_nets_normalize_groups_of_b():
    """BN through virtual_batch_size=b, BatchRenorm through groups of b, per-image
    normalizers untouched; the conv net's last BN sees 3x3 maps."""
    bns = [m for m in small_batch.build("mlp", "BatchNorm", 4).modules()
           if isinstance(m, nn.BatchNorm1d)]
    assert len(bns) == 3 and all(m.virtual_batch_size == 4 for m in bns)
    conv = small_batch.build("conv", "BatchNorm", 8)
    assert [m.virtual_batch_size for m in conv.modules() if isinstance(m, nn.BatchNorm2d)] \
        == [8] * 4
    renorm = small_batch.build("conv", "BatchRenorm", 2)
    workers = [m for m in renorm.modules() if type(m).__name__ == "Workers"]
    assert len(workers) == 4 and all(w.size == 2 for w in workers)
    seen = []
    for m in conv.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.register_forward_pre_hook(lambda module, args: seen.append(args[0].shape[2:]))
    conv(mg.randn(8, 1, 28, 28))
    assert [tuple(s) for s in seen] == [(28, 28), (14, 14), (7, 7), (3, 3)]


def _results(bn_small, bn_large, gn, ln, batch_small, sd=0.002):
    cell = lambda m: [m, sd]  # noqa: E731
    table = {"BatchNorm": {"ema": {"2": cell(bn_small), "64": cell(bn_large)},
                           "batch_stats": {"2": cell(batch_small), "64": cell(bn_large)}},
             "GroupNorm": {"ema": {"any": cell(gn)}}, "LayerNorm": {"ema": {"any": cell(ln)}}}
    return {"config": {"sizes": [2, 64]}, "accuracy": {"mlp": table}}


@pytest.mark.parametrize("numbers, verdict", [
    ((0.80, 0.97, 0.96, 0.96, 0.90), "reproduced"),
    ((0.80, 0.97, 0.96, 0.96, 0.80), "partly"),       # no train/test inconsistency
    ((0.95, 0.97, 0.955, 0.955, 0.97), "partly"),     # degrades, but not below GN and LN
    ((0.965, 0.97, 0.96, 0.96, 0.965), "not reproduced"),
    ((0.98, 0.96, 0.96, 0.96, 0.99), "reversed"),
])
def test_verdict_rule(numbers, verdict):
    assert small_batch.verdict(_results(*numbers))[0] == verdict


def test_a_difference_counts_only_beyond_a_point_and_twice_the_spread():
    assert small_batch._counts([0.97, 0.002], [0.955, 0.002])
    assert not small_batch._counts([0.97, 0.002], [0.962, 0.002])      # < 1 point
    assert not small_batch._counts([0.97, 0.010], [0.955, 0.002])      # < 2 SD
