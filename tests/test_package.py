"""The installed package: configuration report, threads, imports from anywhere."""
import os
import subprocess
import sys

import pytest

import minigrad as mg


def test_show_config_reports_version_openmp_threads_and_blas(capsys):
    mg.show_config()
    out = capsys.readouterr().out
    assert mg.__version__ in out
    for field in ("OpenMP:", "threads:", "BLAS:", "numpy:"):
        assert field in out


def test_import_works_from_another_directory(tmp_path):
    code = "import minigrad as mg; print(mg.get_num_threads() >= 1, (mg.ones(2) @ mg.ones(2)).item())"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "2.0"]


def test_omp_num_threads_is_honoured(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", "import minigrad as mg; print(mg.get_num_threads())"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_malloc_tuning_is_on_by_default_and_can_be_turned_off():
    code = "import minigrad._malloc as m, minigrad; print(m.tuned)"
    on = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    env = dict(os.environ, MINIGRAD_MALLOC_TUNING="0")
    off = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env)
    assert on.stdout.strip() == "True" and off.stdout.strip() == "False"
