"""Every example script runs with --quick on the real MNIST files and writes a PNG and a
JSON whose numbers make sense. Skipped when MNIST is not available locally."""
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def _mnist_available():
    root = os.environ.get("MINIGRAD_DATA")
    return bool(root) and any((Path(root) / sub / "t10k-labels-idx1-ubyte.gz").exists()
                              for sub in ("", "mnist"))


pytestmark = pytest.mark.skipif(not _mnist_available(),
                                reason="real MNIST not available (set MINIGRAD_DATA)")


def run_example(name, out, *extra, prelude="", quick=True):
    script = str(EXAMPLES / f"{name}.py")
    flags = ["--quick"] if quick else []
    code = (f"{prelude}import runpy, sys; sys.path.insert(0, {str(EXAMPLES)!r}); "
            f"sys.argv = [{script!r}, *{flags!r}, '--out', {str(out)!r}, *{list(extra)!r}]; "
            f"runpy.run_path({script!r}, run_name='__main__')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120 if quick else 900, cwd=out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout, json.loads((out / f"{name}.json").read_text())


def _check_png(path):
    blob = path.read_bytes()
    assert blob[:8] == b"\x89PNG\r\n\x1a\n" and len(blob) > 10_000


def test_bn_mnist(tmp_path):
    stdout, r = run_example("bn_mnist", tmp_path)
    _check_png(tmp_path / "bn_mnist.png")
    assert "test accuracy after 300 steps" in stdout and r["quick"] is True
    assert 0.85 < r["final_accuracy"]["bn"] <= 1.0
    assert 0.0 <= r["final_accuracy"]["plain"] < r["final_accuracy"]["bn"]
    curve = r["curve"]
    assert curve["steps"][0] == 0 and curve["steps"][-1] == 300
    assert len(curve["acc_bn"]) == len(curve["steps"])
    for rec in r["percentiles"].values():  # recorded in training, dense early
        assert rec["steps"][:8] == list(range(8)) and rec["steps"][-1] <= 300
        assert len(rec["unit"]) == len(rec["pooled"]) == len(rec["steps"])
        for q15, q50, q85 in rec["unit"] + rec["pooled"]:
            assert q15 <= q50 <= q85


def test_lr_sweep(tmp_path):
    _, r = run_example("lr_sweep", tmp_path)
    _check_png(tmp_path / "lr_sweep.png")
    assert r["lr_span"] >= 100
    assert [run["lr"] for run in r["runs"]["bn"]] == [0.05, 0.5, 5.0]
    assert all(run["accuracy"] > 0.7 for run in r["runs"]["bn"])
    assert r["best"]["bn"]["accuracy"] > r["best"]["plain"]["accuracy"]


def test_batch_size_study(tmp_path):
    stdout, r = run_example("batch_size_study", tmp_path)
    _check_png(tmp_path / "batch_size_study.png")
    per_image = {"GroupNorm", "LayerNorm", "InstanceNorm"}
    batch_statistics = {"BatchNorm", "BatchRenorm", "BatchLayerNorm"}
    assert set(r["runs"]) == set(r["test_error"]) == per_image | batch_statistics
    assert set(r["train_mode_test_error"]) == batch_statistics and r["seeds"] == [0, 1]
    assert "test error % (eval mode" in stdout and "± " in stdout
    for norm, runs in r["runs"].items():
        assert [(run["seed"], run["batch_size"]) for run in runs] == \
            [(s, b) for s in (0, 1) for b in (2, 8, 32)]
        # the protocol: every batch size gets the same images, updates and learning rate,
        # and its layers really normalize groups of that many images
        assert {(run["images"], run["steps"], run["lr"]) for run in runs} == \
            {(r["epochs"] * r["epoch_images"], r["epochs"] * r["epoch_images"] // 64, 0.1)}
        assert all(run["normalized_batch"] == [run["batch_size"]] for run in runs)
        assert not any(run["diverged"] for run in runs)
        assert all(run["test_error"] < 0.5 for run in runs)   # 24 updates learn something
        for run in runs:   # a whole number of the test images
            wrong = run["test_error"] * r["test_images"]
            assert wrong == pytest.approx(round(wrong), abs=1e-6)
        for b in (2, 8, 32):
            errors = [run["test_error"] for run in runs if run["batch_size"] == b]
            assert r["test_error"][norm][str(b)] == pytest.approx(
                [statistics.mean(errors), statistics.stdev(errors)], rel=1e-12, abs=1e-15)
        for seed in (0, 1):
            losses = [run["final_train_loss"] for run in runs if run["seed"] == seed]
            spread = max(losses) / min(losses) - 1
            if norm in per_image:
                # the grouping changes only the order of summing the parameters' gradients:
                # measured <= 1.6e-4 after 24 updates (and <= 1 test image of 2,000)
                assert spread < 1e-3
                errors = [run["test_error"] for run in runs if run["seed"] == seed]
                assert (max(errors) - min(errors)) * r["test_images"] <= 5
            else:
                # batch statistics: the group size changes the training (measured >= 6 %)
                assert spread > 1e-2
        if norm in batch_statistics:
            assert set(r["train_mode_test_error"][norm]) == {"2", "8", "32"}


def test_sequence_norm_study(tmp_path):
    stdout, r = run_example("sequence_norm_study", tmp_path)
    _check_png(tmp_path / "sequence_norm_study.png")
    assert r["quick"] is True and r["protocol"]["steps"] == 8
    assert sorted(r["recurrent"]) == sorted(f"{form}/{norm}" for form in ("rows", "patches")
                                            for norm in ("none", "layer", "batch", "batch-layer"))
    assert sorted(r["variable_lengths"]) == sorted(["batch (padded stats)", "batch (masked)",
                                                   "layer"])
    assert sorted(r["transformer"]) == sorted(["post-LN", "pre-LN", "BN"])
    for part in ("recurrent", "variable_lengths", "transformer"):
        for variant in r[part].values():
            for run in variant["runs"]:
                assert [c["step"] for c in run["curve"]] == [4, 8]
                assert all(np.isfinite(c["loss"]) for c in run["curve"])
                # accuracies are whole numbers of the 200 test images
                for acc in run["final"].values():
                    assert abs(acc * 200 - round(acc * 200)) < 1e-9
    # the two BN variants differ only in which positions their statistics see: with the
    # mask honoured, their training losses cannot agree to the last bit
    padded, masked = (r["variable_lengths"][v]["runs"][0]["curve"]
                      for v in ("batch (padded stats)", "batch (masked)"))
    assert [c["loss"] for c in padded] != [c["loss"] for c in masked]
    assert set(r["variable_lengths"]["layer"]["runs"][0]["final"]) == {"in range",
                                                                        "all 28 rows"}


def test_cnn_mnist_folding(tmp_path):
    stdout, r = run_example("cnn_mnist", tmp_path)
    _check_png(tmp_path / "cnn_mnist.png")
    fold = r["fold"]
    assert fold["identical_predictions"] is True and fold["max_logit_difference"] < 1e-3
    assert fold["elementwise_max_logit_difference"] < 1e-4 and fold["test_images"] == 1000
    # the timings are reported, not judged here (speed belongs in benchmarks/)
    assert set(fold["seconds_per_batch"]) == set(fold["speedup"]) == {"1", "256"}
    for t in fold["seconds_per_batch"].values():
        assert set(t) == {"bn", "elementwise_bn", "folded"}
    assert "folding vs BatchNorm2d / vs elementwise BN" in stdout
    assert r["final_accuracy"] > 0.7 and r["steps"] == 40


def test_finetune_frozen_bn(tmp_path):
    _, r = run_example("finetune_frozen_bn", tmp_path)
    _check_png(tmp_path / "finetune_frozen_bn.png")
    acc = r["accuracy"]
    assert list(acc) == ["pretrained", "frozen", "trainable", "reset"]
    assert acc["pretrained"]["digits 0-4"] > 0.9
    assert acc["pretrained"]["digits 5-9"] == 0.0   # the first head never saw 5-9
    for condition in ("frozen", "trainable", "reset"):
        assert acc[condition]["digits 5-9"] > 0.5


def test_train_eval_pitfall(tmp_path):
    _, r = run_example("train_eval_pitfall", tmp_path)
    _check_png(tmp_path / "train_eval_pitfall.png")
    rows = {row["batch_size"]: row for row in r["rows"]}
    assert sorted(rows) == [1, 4, 64]
    evals = [row["eval_mode"] for row in rows.values()]
    assert max(evals) - min(evals) <= 1 / r["eval_images"]  # eval mode ignores the batch
    assert rows[1]["train_mode"] < rows[1]["eval_mode"]
    assert "Expected more than 1 value per channel" in r["bn1d_single_sample_error"]


def test_ddp_mnist_in_a_world_of_one(tmp_path):
    """No launcher: one rank. Writes its plot, its numbers, and weights mg.load reads."""
    import minigrad as mg
    stdout, r = run_example("ddp_mnist", tmp_path)
    _check_png(tmp_path / "ddp_mnist.png")
    assert r["world_size"] == 1 and r["global_batch"] == 32 and r["steps_per_epoch"] == 40
    assert len(r["loss"]) == 40 and r["loss"][-1] < r["loss"][0]
    assert 0.8 < r["test_accuracy"][-1] <= 1.0 and "images_per_second" in r
    weights = mg.load(str(tmp_path / r["checkpoint"]))
    assert "0.weight" in weights and "1.running_mean" in weights
    assert not list(tmp_path.glob("*.pt"))


def test_examples_without_matplotlib_still_write_json(tmp_path):
    stdout, r = run_example("lr_sweep", tmp_path,
                            prelude="import sys; sys.modules['matplotlib'] = None; ")
    assert "pip install matplotlib" in stdout
    assert not (tmp_path / "lr_sweep.png").exists() and r["runs"]["bn"]


# ---------------------------------------------------------------- full runs (slow)
# docs/studies.md reports these runs (the README's table quotes them); each test checks
# the claim its section makes, with margins for thread-count-dependent rounding (the runs
# are seeded).

@pytest.mark.slow
def test_bn_mnist_full_run_shows_figure_1(tmp_path):            # ~35 s
    _, r = run_example("bn_mnist", tmp_path, quick=False)
    at = r["accuracy_at"]
    assert r["final_accuracy"]["bn"] > 0.97
    assert at["500"]["bn"] > at["500"]["plain"] + 0.05    # BN learns faster early on
    assert r["final_accuracy"]["bn"] > r["final_accuracy"]["plain"]


@pytest.mark.slow
def test_train_eval_pitfall_full_run(tmp_path):                  # ~25 s
    _, r = run_example("train_eval_pitfall", tmp_path, quick=False)
    rows = {row["batch_size"]: row for row in r["rows"]}
    evals = [row["eval_mode"] for row in rows.values()]
    assert max(evals) - min(evals) <= 1 / r["eval_images"]
    assert rows[1]["train_mode"] < rows[1]["eval_mode"] - 0.05   # one-sample "batches" hurt
    assert abs(rows[1000]["train_mode"] - rows[1000]["eval_mode"]) < 0.02


@pytest.mark.slow
def test_finetune_frozen_bn_full_run(tmp_path):                  # ~25 s
    _, r = run_example("finetune_frozen_bn", tmp_path, quick=False)
    acc = r["accuracy"]
    assert acc["pretrained"]["digits 0-4"] > 0.99
    for condition in ("frozen", "trainable", "reset"):
        assert acc[condition]["digits 5-9"] > 0.95
        assert acc[condition]["digits 0-4"] > 0.98   # the original head is not forgotten


@pytest.mark.slow
def test_cnn_mnist_full_run_reaches_99_and_folds_exactly(tmp_path):   # ~90 s
    _, r = run_example("cnn_mnist", tmp_path, quick=False)
    assert r["final_accuracy"] >= 0.99
    assert r["fold"]["identical_predictions"] is True
    assert r["fold"]["max_logit_difference"] < 1e-4


_SLOW_ON_THE_FAKE_DEVICE = pytest.mark.slow   # (its reference convolution is a Python loop)


@pytest.mark.parametrize("name", [
    "bn_mnist", "lr_sweep",
    pytest.param("train_eval_pitfall", marks=_SLOW_ON_THE_FAKE_DEVICE),           # ~30 s
    pytest.param("finetune_frozen_bn", marks=_SLOW_ON_THE_FAKE_DEVICE),           # ~60 s
    pytest.param("cnn_mnist", marks=_SLOW_ON_THE_FAKE_DEVICE),                    # ~60 s
])
def test_examples_run_on_a_device(tmp_path, name):
    """``--device`` moves the whole run: on the fake GPU (tests/fake_device.py), which
    refuses any implicit host copy, each example runs to the end and writes its results."""
    pytest.importorskip("array_api_strict", reason="array-api-strict is not installed")
    prelude = (f"import sys; sys.path.insert(0, {str(ROOT / 'tests')!r}); import fake_device; "
               f"fake_device.register(fake_device.reference_backend()); ")
    _, r = run_example(name, tmp_path, "--device", "fake", prelude=prelude)
    assert r["device"] == "fake"
    _check_png(tmp_path / f"{name}.png")
