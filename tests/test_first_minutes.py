"""What a new user meets in their first minutes: the warning when a source checkout without
built kernels shadows an installed minigrad, the data loader's errors, the examples' --help,
the gradcheck table, and the errors of common construction mistakes."""
import importlib.machinery
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad import backend

ROOT = Path(__file__).resolve().parent.parent
KERNEL_NAME = "_channel" + importlib.machinery.EXTENSION_SUFFIXES[0]


# ---------------------------------------------------------------- a shadowed install

def _source_copy(dest):
    """A copy of the minigrad package as a fresh checkout has it: no compiled kernels."""
    skip = shutil.ignore_patterns("__pycache__", *(f"*{s}" for s in
                                                   importlib.machinery.EXTENSION_SUFFIXES))
    shutil.copytree(ROOT / "minigrad", dest / "minigrad", ignore=skip)
    assert not backend._has_kernels(dest / "minigrad")
    return dest / "minigrad"


def _fake_install(site, editable_project=None):
    """A minigrad distribution in ``site``: a regular install whose RECORD lists its files
    (package with a kernel file beside it), or an editable one pointing at a project dir."""
    info = site / "minigrad-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: minigrad\nVersion: 0.1.0\n")
    if editable_project is None:
        kernels = site / "minigrad" / "_kernels"
        kernels.mkdir(parents=True)
        (site / "minigrad" / "__init__.py").write_text("")
        (kernels / KERNEL_NAME).write_bytes(b"")
        (info / "RECORD").write_text(f"minigrad/__init__.py,,\nminigrad/_kernels/{KERNEL_NAME},,\n")
    else:
        (info / "RECORD").write_text("")
        (info / "direct_url.json").write_text(json.dumps(
            {"url": Path(editable_project).resolve().as_uri(), "dir_info": {"editable": True}}))
    return info


def _import_warnings(cwd, pythonpath, prelude=""):
    code = (f"{prelude}import warnings\nwarnings.simplefilter('always')\n"
            "with warnings.catch_warnings(record=True) as caught:\n"
            "    import minigrad\n"
            "print(minigrad.__file__)\n"
            "print('\\n'.join(str(w.message) for w in caught))\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, pythonpath))}
    r = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    imported, _, messages = r.stdout.partition("\n")
    return Path(imported), messages


def test_a_checkout_without_kernels_shadowing_an_install_says_so(tmp_path):
    checkout = tmp_path / "checkout"
    pkg = _source_copy(checkout)
    site = tmp_path / "site"
    _fake_install(site)
    # python -c from the repository root: the checkout comes first on sys.path
    imported, messages = _import_warnings(checkout, [site])
    assert imported.parent == pkg
    assert f"imported the source checkout {pkg}" in messages
    assert f"instead of the installed minigrad in {site.resolve() / 'minigrad'}" in messages
    assert "pip install -e ." in messages and "run from another directory" in messages
    assert "pip install ." not in messages.replace("pip install -e .", "")


def test_a_checkout_without_kernels_and_nothing_installed_says_build_it(tmp_path):
    checkout = tmp_path / "checkout"
    _source_copy(checkout)
    no_dists = "import importlib.metadata as m\nm.distributions = lambda **k: iter(())\n"
    _, messages = _import_warnings(checkout, [], prelude=no_dists)
    assert "the compiled kernels are not built" in messages
    assert "pip install -e ." in messages and "shadows" not in messages


def _dists(monkeypatch, *infos):
    monkeypatch.setattr(importlib.metadata, "distributions",
                        lambda **k: iter([importlib.metadata.PathDistribution(i) for i in infos]))


def test_shadowing_is_found_through_regular_and_editable_installs(tmp_path, monkeypatch):
    here = _source_copy(tmp_path / "checkout")
    _dists(monkeypatch, _fake_install(tmp_path / "site"))
    assert backend._installed_elsewhere(here) == (tmp_path / "site" / "minigrad").resolve()

    built = tmp_path / "built"                  # an editable install of another, built checkout
    (built / "minigrad" / "_kernels").mkdir(parents=True)
    (built / "minigrad" / "_kernels" / KERNEL_NAME).write_bytes(b"")
    _dists(monkeypatch, _fake_install(tmp_path / "site2", editable_project=built))
    assert backend._installed_elsewhere(here) == (built / "minigrad").resolve()


def test_no_shadowing_reported_for_the_same_copy_or_an_unbuilt_install(tmp_path, monkeypatch):
    here = _source_copy(tmp_path / "checkout")
    # an editable install of this very checkout, never built
    _dists(monkeypatch, _fake_install(tmp_path / "site", editable_project=here.parent))
    assert backend._installed_elsewhere(here) is None
    # another copy installed elsewhere, but without kernels either
    other = _source_copy(tmp_path / "other")
    _dists(monkeypatch, _fake_install(tmp_path / "site2", editable_project=other.parent))
    assert backend._installed_elsewhere(here) is None
    # kernels here that failed to load for another reason: not a shadowing problem
    (here / "_kernels" / KERNEL_NAME).write_bytes(b"")
    _dists(monkeypatch, _fake_install(tmp_path / "site3"))
    assert backend._installed_elsewhere(here) is None


# ---------------------------------------------------------------- data errors

class _Offline(mg.data.MNIST):
    """MNIST whose mirrors cannot be reached, so nothing is downloaded."""
    name = "offline"
    mirrors = ("http://127.0.0.1:9/nothing-here/",)


def test_a_mistyped_minigrad_data_is_named_and_nothing_is_downloaded(tmp_path, monkeypatch):
    typo = tmp_path / "mnsit"
    monkeypatch.setenv("MINIGRAD_DATA", str(typo))
    monkeypatch.setattr("urllib.request.urlopen", lambda *a, **k: pytest.fail("downloaded"))
    with pytest.raises(mg.data.DatasetError) as info:
        _Offline(train=False)
    message = str(info.value)
    assert f"MINIGRAD_DATA is set to {typo}, but this directory does not exist" in message
    assert not typo.exists()
    typo.write_text("")                                   # a file, not a directory
    with pytest.raises(mg.data.DatasetError, match="that is a file, not a directory"):
        _Offline(train=False)


def test_missing_files_name_root_minigrad_data_and_the_examples_data_root(tmp_path):
    with pytest.raises(mg.data.DatasetError) as info:
        _Offline(root=tmp_path, train=False, download=False)
    message = str(info.value)
    assert "root=DIR" in message and "MINIGRAD_DATA=DIR" in message
    assert "--data-root DIR" in message


# ---------------------------------------------------------------- the example scripts

EXAMPLES = ROOT / "examples"
SCRIPTS = sorted(p.stem for p in EXAMPLES.glob("[!_]*.py"))


def _help(name, monkeypatch, capsys):
    import runpy
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.setenv("COLUMNS", "200")                 # one line per option
    monkeypatch.setattr(sys, "argv", [f"{name}.py", "--help"])
    with pytest.raises(SystemExit) as info:
        runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name="__main__")
    assert info.value.code == 0
    return capsys.readouterr().out


def _options(help_text):
    """{option: its help entry in one line}."""
    entries = re.split(r"\n(?=  -)", help_text.split("options:", 1)[1])
    return {e.split()[0].rstrip(","): " ".join(e.split()) for e in entries if e.strip()}


@pytest.mark.parametrize("name", SCRIPTS)
def test_example_help_shows_every_default_once(name, monkeypatch, capsys):
    text = _help(name, monkeypatch, capsys)
    options = {k: v for k, v in _options(text).items() if k.startswith("--")}
    assert len(options) >= 7
    for option, entry in options.items():
        assert entry.count("(default:") <= 1, entry
        if option in ("--data-root", "--quick", "--gather"):
            assert "(default:" not in entry, entry     # nothing to show: None, an off flag
        else:
            assert "(default:" in entry, entry
    assert "$MINIGRAD_DATA" in options["--data-root"]


def test_example_help_names_the_defaults_users_change(monkeypatch, capsys):
    options = _options(_help("bn_mnist", monkeypatch, capsys))
    for option, default in (("--steps", "10000"), ("--lr", "0.5"), ("--batch-size", "60")):
        assert options[option].endswith(f"(default: {default})")
    assert _options(_help("cnn_mnist", monkeypatch, capsys))["--epochs"].endswith("(default: 2)")


def test_training_bar_leaves_evaluations_out_and_shows_the_numbers(monkeypatch):
    import io
    import time
    monkeypatch.syspath_prepend(str(EXAMPLES))
    import _common
    monkeypatch.setattr(_common, "progress", lambda it, desc, total=None: _common.tqdm(
        it, desc=desc, total=total, file=io.StringIO(), mininterval=0, leave=True))
    bar = _common.Training(4, "t")
    for step in range(4):
        bar.step(loss=1.0)
        if step == 1:
            with bar.paused():
                time.sleep(0.3)
                bar.show(test_acc=0.5)
    assert bar.seconds < 0.25                            # the evaluation is not training time
    assert bar.bar.format_dict["elapsed"] < 0.25         # nor in the bar's rate
    bar.close()
    assert bar.bar.postfix == "loss=1.000, test_acc=0.5000" and bar.bar.leave


def test_folding_speed_is_worded_by_its_direction(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    import cnn_mnist
    assert cnn_mnist.faster_or_slower(1.0907) == "1.09x faster"
    assert cnn_mnist.faster_or_slower(0.56) == "1.79x slower"


# ---------------------------------------------------------------- python -m minigrad.gradcheck

def test_gradcheck_table_states_the_criterion_and_fits_long_names(monkeypatch, capsys):
    from minigrad import gradcheck as registry
    registry._load_registries()                 # now, so that main() adds no cases
    monkeypatch.setattr(registry, "CASES", [])
    long_name = "a rather long case name that is wider than any column"
    registry.register(long_name, lambda a: a * a, (2, 3), label="2x3 with a long label too")
    registry.register("mul", lambda a, b: a * b, (2,), (2,))
    assert registry.main([]) == 0
    out = capsys.readouterr().out
    assert "|err| <= atol + rtol * |ref|" in out.split("op ")[0]      # before the table
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("op "))
    rows = [line for line in lines[header + 2:] if line.endswith("pass")]
    assert len(rows) == 4
    # every column starts where its header does
    for title in ("order", "max abs err", "max rel err"):      # right-aligned
        end = lines[header].index(title) + len(title)
        for row in rows:
            assert row[end - 1] != " " and row[end:end + 2] == "  ", (title, row)
    result = lines[header].index("result")
    assert all(row[result - 2:] == "  pass" for row in rows)
    assert {row.split("  ")[0].rstrip() for row in rows} == {long_name, "mul"}


# ---------------------------------------------------------------- common construction mistakes

def test_conv_on_a_wrong_rank_names_both_accepted_ranks():
    with pytest.raises(ValueError, match=r"conv2d: expected a 3-D \(C, H, W\) or 4-D "
                                         r"\(N, C, H, W\) input, got shape \(5, 5\)"):
        nn.Conv2d(3, 4, 3)(mg.randn(5, 5))
    with pytest.raises(ValueError, match=r"conv1d: expected a 2-D \(C, L\) or 3-D \(N, C, L\) "
                                         r"input, got shape \(2, 3, 5, 5\)"):
        nn.Conv1d(3, 4, 3)(mg.randn(2, 3, 5, 5))
    assert nn.Conv2d(3, 4, 3)(mg.randn(3, 5, 5)).shape == (4, 3, 3)   # unbatched works


def test_tensor_of_a_list_of_tensors_points_to_stack():
    with pytest.raises(ValueError, match=r"tensor of shape \(2,\).*mg\.stack"):
        mg.tensor([mg.ones(2), mg.ones(2)])
    with pytest.raises(ValueError, match=r"tensor of shape \(1, 2\).*mg\.stack"):
        mg.tensor([[0.0, 1.0], [mg.ones(1, 2), 2.0]])


@pytest.mark.parametrize("data", [[[1, 2], [3]], [[1, 2], [3, 4, 5]], [[[1], [2]], [[3], [4, 5]]],
                                  [[1, 2], [3, [4]]], [[1], 2], [[], [1]]])
def test_ragged_lists_are_a_clear_value_error(data):
    with pytest.raises(ValueError, match="tensor\\(\\): ragged nested sequence: (expected a "
                                         "sequence of length \\d+ at dim \\d+ \\(got \\d+\\)|"
                                         "found both numbers and sequences at dim \\d+)"):
        mg.tensor(data)


def test_ragged_message_names_the_lengths():
    with pytest.raises(ValueError, match=r"expected a sequence of length 2 at dim 1 \(got 1\)"):
        mg.tensor([[1, 2], [3]])


def test_lists_torch_accepts_still_build_the_same_tensors():
    torch = pytest.importorskip("torch")
    cases = [[[1.0, 2.0], [3.0, 4.0]], [[], []], [], (1, 2.5), [[True], [False]],
             [[1, 2], (3, 4)]]
    for data in cases:
        ours, theirs = mg.tensor(data), torch.tensor(data)
        assert ours.shape == tuple(theirs.shape), data
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1], data
        assert (ours.numpy() == theirs.numpy()).all()
    # one-element tensors in a list are numbers to PyTorch, whatever their shape
    ours = mg.tensor([mg.ones(1), mg.tensor(2.0), mg.ones(1, 1)])
    theirs = torch.tensor([torch.ones(1), torch.tensor(2.0), torch.ones(1, 1)])
    assert ours.shape == tuple(theirs.shape) == (3,)
    assert ours.numpy().tolist() == theirs.tolist()
    for bad in ([[1, 2], [3]], [torch.ones(2), torch.ones(2)]):
        with pytest.raises(ValueError):
            torch.tensor(bad)


def test_a_list_holding_tensors_takes_their_dtypes_as_torch_does():
    """One-element tensors in a list bring their dtype; Python numbers bring the default
    ones; a float dtype wins over any integer one."""
    torch = pytest.importorskip("torch")
    cases = [
        lambda L: [L.tensor(1.5, dtype=L.float64), 2.0],
        lambda L: [L.tensor(1, dtype=L.int32), 2],
        lambda L: [L.tensor(1, dtype=L.int32), 2.5],
        lambda L: [L.tensor(1, dtype=L.float16), 2],
        lambda L: [L.tensor(1, dtype=L.int8), L.tensor(3, dtype=L.int64)],
        lambda L: [L.tensor(True), 1],
        lambda L: [[L.tensor(1.0), 2.0], (3, L.tensor([4.0], dtype=L.float64))],
        lambda L: [[L.tensor(1, dtype=L.int16)], [L.tensor(1, dtype=L.float16)]],
    ]
    for i, build in enumerate(cases):
        ours, theirs = mg.tensor(build(mg)), torch.tensor(build(torch))
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1], i
        assert ours.numpy().tolist() == theirs.tolist(), i


# ---------------------------------------------------------------- random generators

def test_randint_takes_both_of_torchs_forms():
    for lib in (mg, pytest.importorskip("torch")):
        for t in (lib.randint(10, (3,)), lib.randint(10, size=(3,)), lib.randint(2, 10, (3,))):
            assert tuple(t.shape) == (3,) and t.dtype == lib.int64, lib.__name__
        r = lib.randint(2, 10, (200,))
        assert (r >= 2).all() and (r < 10).all() and (r == 2).any() and (r == 9).any()
        with pytest.raises(RuntimeError):
            lib.randint(5, 5, (2,))
    assert mg.randint(3, (4, 2), dtype=mg.int32).dtype == mg.int32


def test_a_generator_of_ones_own_gives_its_own_reproducible_stream():
    g = mg.Generator().manual_seed(42)
    assert isinstance(g, mg.Generator) and g.initial_seed() == 42 and str(g.device) == "cpu"
    a = mg.randn(5, generator=g)
    b = mg.randn(5, generator=mg.Generator().manual_seed(42))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    mg.manual_seed(0)
    c = mg.randn(5)
    mg.manual_seed(0)
    mg.rand(3, generator=g)                    # does not touch the global generator
    np.testing.assert_array_equal(mg.randn(5).numpy(), c.numpy())
    state = g.get_state()
    x = mg.randint(0, 100, (10,), generator=g)
    g.set_state(state)
    np.testing.assert_array_equal(mg.randint(0, 100, (10,), generator=g).numpy(), x.numpy())
    assert mg.Generator().initial_seed() == pytest.importorskip("torch").Generator().initial_seed()
    with pytest.raises(TypeError, match="minigrad.Generator"):
        mg.randn(2, generator=np.random.default_rng(0))
    with pytest.raises(RuntimeError, match="set_state"):
        g.set_state(mg.tensor([1.0, 2.0]))


def test_the_global_generator_is_torchs_default_generator():
    torch = pytest.importorskip("torch")
    for lib in (mg, torch):
        assert lib.manual_seed(3) is lib.default_generator and lib.initial_seed() == 3
        assert lib.manual_seed(-1).initial_seed() == 2 ** 64 - 1      # modulo 2**64
        for bad in (2 ** 64, -2 ** 63 - 1):
            with pytest.raises(ValueError):
                lib.manual_seed(bad)
        state = lib.get_rng_state()
        assert state.dtype == lib.uint8 and state.ndim == 1
        a = lib.rand(4)
        lib.set_rng_state(state)
        assert lib.equal(lib.rand(4), a)
        with lib.random.fork_rng():
            lib.rand(10)
        b = lib.rand(4)
        lib.set_rng_state(state)
        lib.rand(4)
        assert lib.equal(lib.rand(4), b)             # the fork left the stream untouched
        s = lib.seed()
        assert lib.initial_seed() == s and 0 <= s < 2 ** 64
    # a process starts from a seed of its own, as torch does, not from a fixed one
    import subprocess, sys
    seeds = {subprocess.run([sys.executable, "-c", "import minigrad; print(minigrad.initial_seed())"],
                            capture_output=True, text=True, check=True).stdout for _ in range(2)}
    assert len(seeds) == 2


def test_numpy_scalars_keep_their_dtype_alone_and_in_lists_like_torch():
    torch = pytest.importorskip("torch")
    cases = [np.float64(1.5), np.float32(1.5), np.int32(3), np.uint8(7),
             [np.float32(1.5), 2.0], [np.float64(1.5), 2.0], [np.int32(1), 2],
             [np.int32(1), 2.0], [np.float16(1), 2], [[np.float64(1)], [2.0]],
             [np.int64(3), np.float32(2)], [np.uint8(3), 2]]
    for data in cases:
        ours, theirs = mg.tensor(data), torch.tensor(data)
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1], data
        assert ours.tolist() == theirs.tolist(), data
