"""Build minigrad's Cython kernels.

Every ``.pyx`` under ``minigrad/_kernels`` becomes an extension module, compiled with
``-O3`` and OpenMP. Whether OpenMP works is probed by compiling and linking a tiny
program first; if it does not (or ``MINIGRAD_NO_OPENMP=1``), the kernels build serial
and a warning says so. ``prange`` loops then simply run on one thread.

Release builds carry no debug information and are stripped (``MINIGRAD_DEBUG_BUILD=1``
keeps both, for gdb or perf). A second install does not compile again: the generated C
is reused while it is newer than its sources (pip's isolated build environment gives
Cython's own headers new dates every time, so Cython's check alone would always
regenerate it), and each compiled module is kept in ``build/kernel-cache/`` under a hash
of everything that goes into it (its C, the headers, the flags, the compiler, the Python
ABI), so the same inputs are never compiled twice.
"""
import glob
import hashlib
import os
import shutil
import sys
import sysconfig
import tempfile

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

KERNEL_DIR = os.path.join("minigrad", "_kernels")
CACHE_DIR = os.path.join("build", "kernel-cache")
DEBUG_BUILD = os.environ.get("MINIGRAD_DEBUG_BUILD", "") not in ("", "0")

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
        debug = [] if DEBUG_BUILD else ["-g0"]
        strip = [] if DEBUG_BUILD else ["-s"]
        for ext in self.extensions:
            ext.extra_compile_args = ["-O3"] + debug + (["-fopenmp"] if use_openmp else [])
            ext.extra_link_args = strip + (["-fopenmp"] if use_openmp else [])
        super().build_extensions()

    def build_extension(self, ext):
        """Compile ``ext``, or copy the module an earlier build made from the same inputs."""
        target = self.get_ext_fullpath(ext.name)
        cached = os.path.join(CACHE_DIR, f"{ext.name}-{self._inputs_hash(ext)}"
                                         f"{os.path.splitext(target)[1]}")
        os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
        if os.path.exists(cached):
            print(f"minigrad: {ext.name}: reusing {cached} (same sources and flags)")
            _copy_atomically(cached, target)
            os.utime(cached)                 # (recently used: kept by the pruning below)
            return
        super().build_extension(ext)
        os.makedirs(CACHE_DIR, exist_ok=True)
        _copy_atomically(target, cached)
        _prune(ext.name)

    def _inputs_hash(self, ext):
        h = hashlib.sha256()
        for path in sorted(ext.sources) + sorted(glob.glob(os.path.join(KERNEL_DIR, "*.h"))):
            with open(path, "rb") as f:
                h.update(path.encode() + b"\0" + f.read())
        facts = [self.compiler.compiler_so, self.compiler.linker_so, ext.extra_compile_args,
                 ext.extra_link_args, ext.include_dirs, sysconfig.get_config_var("EXT_SUFFIX"),
                 sys.version]
        h.update(repr(facts).encode())
        return h.hexdigest()[:16]


def _copy_atomically(source, target):
    """Copy through a temporary file and a rename: a crashed build never leaves half a
    file, and a module that a running process has loaded is replaced, not overwritten."""
    partial = f"{target}.{os.getpid()}.tmp"
    shutil.copyfile(source, partial)
    os.replace(partial, target)


CACHE_KEEP = 3   # compiled versions kept per module (the most recently used)


def _prune(module):
    """Keep the cache small: each module's ``CACHE_KEEP`` most recently used builds."""
    builds = sorted(glob.glob(os.path.join(glob.escape(CACHE_DIR), f"{module}-*")),
                    key=os.path.getmtime, reverse=True)
    for old in builds[CACHE_KEEP:]:
        os.remove(old)


def _generated_c_is_current(pyx, cython_version):
    """True when ``pyx``'s C file was generated by this Cython after every file it depends
    on here (the .pyx, the .pxd and .h files beside it, and this script) last changed."""
    c_file = os.path.splitext(pyx)[0] + ".c"
    if not os.path.exists(c_file):
        return False
    ours = [pyx, __file__] + glob.glob(os.path.join(KERNEL_DIR, "*.pxd")) \
        + glob.glob(os.path.join(KERNEL_DIR, "*.h"))
    if os.path.getmtime(c_file) < max(os.path.getmtime(p) for p in ours):
        return False
    with open(c_file) as f:
        return f"Cython {cython_version} " in f.readline()    # "/* Generated by Cython X */"


def extensions():
    import Cython
    from Cython.Build import cythonize

    exts, current = [], []
    for pyx in sorted(glob.glob(os.path.join(KERNEL_DIR, "*.pyx"))):
        name = os.path.splitext(pyx)[0].replace(os.sep, ".")
        if _generated_c_is_current(pyx, Cython.__version__):
            c_file = os.path.splitext(pyx)[0] + ".c"
            current.append(Extension(name, [c_file], include_dirs=[KERNEL_DIR]))
        else:
            exts.append(Extension(name, [pyx], include_dirs=[KERNEL_DIR]))
    if not exts:
        return current
    return current + cythonize(
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
