"""Build minigrad's Cython kernels.

Every ``.pyx`` under ``minigrad/_kernels`` becomes an extension module, compiled with
``-O3`` and OpenMP. Whether OpenMP works is probed by compiling and linking a tiny
program first; if it does not (or ``MINIGRAD_NO_OPENMP=1``), the kernels build serial
and a warning says so. ``prange`` loops then simply run on one thread.
"""
import os
import glob
import shutil
import sys
import tempfile

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

KERNEL_DIR = os.path.join("minigrad", "_kernels")

OPENMP_PROBE = r"""
#include <omp.h>
int main(void) {
    int n = 0;
    #pragma omp parallel reduction(+:n)
    n += 1;
    return n > 0 ? 0 : 1;
}
"""


def openmp_links(compiler):
    """True when ``compiler`` can compile and link an OpenMP program."""
    tmp = tempfile.mkdtemp(prefix="minigrad-omp-")
    try:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(OPENMP_PROBE)
        objs = compiler.compile([src], output_dir=tmp, extra_postargs=["-fopenmp"])
        compiler.link_executable(objs, os.path.join(tmp, "probe"), extra_postargs=["-fopenmp"])
        return True
    except Exception:  # any compile or link failure means "no OpenMP"
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class BuildKernels(build_ext):
    """build_ext that decides OpenMP once and compiles the extensions in parallel."""

    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1

    def build_extensions(self):
        if os.environ.get("MINIGRAD_NO_OPENMP", "") not in ("", "0"):
            use_openmp = False
            print("minigrad: MINIGRAD_NO_OPENMP is set; building serial kernels", file=sys.stderr)
        else:
            use_openmp = openmp_links(self.compiler)
            if not use_openmp:
                print("WARNING: minigrad: the C compiler cannot build OpenMP programs; "
                      "building serial kernels (set_num_threads will have no effect)",
                      file=sys.stderr)
        for ext in self.extensions:
            ext.extra_compile_args = ["-O3"] + (["-fopenmp"] if use_openmp else [])
            ext.extra_link_args = ["-fopenmp"] if use_openmp else []
        super().build_extensions()


def extensions():
    from Cython.Build import cythonize

    exts = []
    for pyx in sorted(glob.glob(os.path.join(KERNEL_DIR, "*.pyx"))):
        name = os.path.splitext(pyx)[0].replace(os.sep, ".")
        exts.append(Extension(name, [pyx], include_dirs=[KERNEL_DIR]))
    return cythonize(
        exts,
        nthreads=os.cpu_count() or 1,
        language_level=3,
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
            "nonecheck": False,
        },
    )


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildKernels})
