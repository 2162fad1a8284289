"""The CUDA backend on a GPU: CuPy arrays, GEMM through cuBLAS (``cupy.matmul``) and
minigrad's own kernels for what CuPy 14 no longer provides (it dropped cuDNN): convolution
as im2col + GEMM with col2im in gather form, pooling, and BatchNorm's per-channel
statistics and affine map (``kernels/*.cu``).

The kernels are compiled once per process by NVRTC through ``cupy.RawModule`` (CuPy
caches the binaries on disk), on first use. Importing this module needs CuPy; running
anything needs a GPU: ``minigrad.backend.for_device("cuda")`` checks both and says which
is missing.
"""
import functools
from pathlib import Path

import cupy
import numpy as np

from minigrad.backend.cuda._glue import KernelBackend
from minigrad.backend.numpy_ref import erf, erfinv, lgamma  # noqa: F401  (through cupyx)

KERNELS = Path(__file__).with_name("kernels")
SOURCES = ("conv", "pool", "channel")
THREADS = 256          # per block; the per-channel kernels assume MG_BLOCK == 256
_MAX_BLOCKS = 65535    # a grid-stride loop covers any size with this many blocks
_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}


@functools.cache
def _module(source):
    code = (KERNELS / f"{source}.cu").read_text()
    return cupy.RawModule(code=code, options=("-std=c++17", f"-I{KERNELS}"))


def _run(source, kernel, dtype, work, *args):
    fn = _module(source).get_function(f"{kernel}_{_SUFFIX[np.dtype(dtype)]}")
    if isinstance(work, tuple):          # ("blocks", n): one block per channel
        blocks = work[1]
    else:
        blocks = min(max(1, -(-work // THREADS)), _MAX_BLOCKS)
    if blocks:
        fn((blocks,), (THREADS,), args)


_impl = KernelBackend(cupy, _run, "cuda")

xp = cupy
name = "cuda"
view = _impl.view
is_channel_reduction = _impl.is_channel_reduction
matmul = _impl.matmul
relu = _impl.relu
relu_backward = _impl.relu_backward
add = _impl.add
add_inplace = _impl.add_inplace
sgd_step = _impl.sgd_step
lstm_gates_forward = _impl.lstm_gates_forward
lstm_gates_backward = _impl.lstm_gates_backward
lstm_layer_forward = _impl.lstm_layer_forward
lstm_layer_backward = _impl.lstm_layer_backward
channel_moments = _impl.channel_moments
channel_sum = _impl.channel_sum
channel_affine = _impl.channel_affine
channel_affine_backward = _impl.channel_affine_backward
conv2d_forward = _impl.conv2d_forward
conv2d_backward_input = _impl.conv2d_backward_input
conv2d_backward_weight = _impl.conv2d_backward_weight
max_pool2d = _impl.max_pool2d
max_pool2d_backward = _impl.max_pool2d_backward
avg_pool2d = _impl.avg_pool2d
avg_pool2d_backward = _impl.avg_pool2d_backward



device_type = "cuda"


def device_index(a):
    return a.device.id


def to_host(a):
    return a.get()                      # device to host, synchronizing


def from_host(a, index):
    with cupy.cuda.Device(index):
        return cupy.asarray(a)          # host (or another GPU) to this GPU


def generator(seed, index):
    with cupy.cuda.Device(index):
        return cupy.random.default_rng(seed)


def synchronize():
    cupy.cuda.Device().synchronize()
