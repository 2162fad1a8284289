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


def _elf_section_names(path):
    """The section names of a 64-bit little-endian ELF file (Linux x86-64 and aarch64)."""
    import struct
    with open(path, "rb") as f:
        data = f.read()
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, "not a 64-bit LE ELF"
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
    strtab = headers[shstrndx][4]   # sh_offset of the section-name table
    return {data[strtab + h[0]:data.index(b"\0", strtab + h[0])].decode() for h in headers}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads ELF files")
def test_release_kernels_carry_no_debug_information_or_symbol_table():
    from pathlib import Path
    import importlib.machinery
    import minigrad._kernels
    if os.environ.get("MINIGRAD_DEBUG_BUILD", "") not in ("", "0"):
        pytest.skip("MINIGRAD_DEBUG_BUILD keeps debug information")
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    modules = [p for p in Path(minigrad._kernels.__file__).parent.iterdir()
               if p.name.endswith(suffixes)]
    if not modules:
        pytest.skip("the kernels are not built (reference backend)")
    for module in modules:
        names = _elf_section_names(module)
        assert ".dynsym" in names, module.name          # (what loading needs stays)
        assert not {n for n in names if n.startswith(".debug")}, module.name
        assert ".symtab" not in names, module.name


@pytest.mark.slow
def test_the_wheel_ships_modules_and_sources_but_no_generated_c(tmp_path):
    """Builds a wheel from a copy of the checkout (about a minute: pip's isolated build)."""
    import shutil
    import zipfile
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    src = tmp_path / "src"
    shutil.copytree(root, src, ignore=shutil.ignore_patterns(
        ".git", "build", "results", "*.so", "*.c", "__pycache__", "*.egg-info", "docs"))
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                          str(tmp_path / "dist"), str(src)], capture_output=True, text=True,
                         timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    kernels = [n for n in names if n.startswith("minigrad/_kernels/")]
    assert not [n for n in kernels if n.endswith((".c", ".html"))]
    stems = {p.stem for p in (root / "minigrad" / "_kernels").glob("*.pyx")}
    assert {Path(n).stem for n in kernels if n.endswith(".pyx")} == stems
    assert {Path(n).name.split(".")[0] for n in kernels if n.endswith((".so", ".pyd"))} == stems
    assert wheel.stat().st_size < 2_000_000, wheel.stat().st_size
