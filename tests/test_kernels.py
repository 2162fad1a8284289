"""Compiled kernels against the NumPy oracle: odd sizes, both dtypes, strided inputs,
1 and 2 threads, and the errors they raise before entering nogil code."""
import math
import os
import numpy as np
import pytest

import minigrad as mg
from minigrad.backend import cpu, numpy_ref
from minigrad._kernels import _channel, _conv, _gemm

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def threads(request):
    """The kernels on a team of exactly 1 and 2 threads: the team is pinned, so a busy
    machine (which shrinks the adaptive team) cannot quietly turn the 2-thread cases into
    1-thread ones."""
    from minigrad._kernels import _threads
    before, adaptive = mg.get_num_threads(), _threads.adaptive_state()["adaptive"]
    mg.set_num_threads(request.param)
    _threads._pin_team(request.param)
    assert _threads.team_size(1 << 30) == request.param
    yield request.param
    _threads.set_adaptive(adaptive)
    mg.set_num_threads(before)


def _rand(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


# ------------------------------------------------------------------ matmul

MATMUL_SHAPES = [
    ((1, 1), (1, 1)), ((7, 13), (13, 5)), ((33, 1), (1, 17)), ((1, 9), (9, 1)),
    ((65, 31), (31, 67)), ((3, 5, 7), (7, 2)), ((5, 7), (4, 7, 3)),
    ((2, 1, 5, 6), (3, 6, 4)), ((4, 3, 2), (4, 2, 5)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES)
def test_matmul_matches_numpy(rng, threads, dtype, sa, sb):
    a, b = _rand(rng, sa, dtype), _rand(rng, sb, dtype)
    got = cpu.matmul(a, b)
    assert got.dtype == dtype and got.shape == np.matmul(a, b).shape
    np.testing.assert_allclose(got, numpy_ref.matmul(a, b), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_takes_transposed_and_strided_views(rng, dtype):
    a = _rand(rng, (9, 7), dtype)
    b = _rand(rng, (11, 9), dtype)
    cases = [
        (a.T, b.T),                              # both column-major: no copy needed
        (a[::2], _rand(rng, (7, 3), dtype)),     # row stride 14: lda = 14
        (a[:, ::2], _rand(rng, (4, 5), dtype)),  # column stride 2: must be copied
        (a[::-1], _rand(rng, (7, 2), dtype)),    # negative stride: copied
        (np.swapaxes(_rand(rng, (3, 5, 4), dtype), 1, 2), _rand(rng, (3, 5, 2), dtype)),
        (np.broadcast_to(_rand(rng, (1, 4, 5), dtype), (3, 4, 5)), _rand(rng, (5, 2), dtype)),
    ]
    for x, y in cases:
        np.testing.assert_allclose(cpu.matmul(x, y), np.matmul(x, y), **TOL[dtype])


def test_matmul_empty_and_integer_operands():
    assert cpu.matmul(np.ones((0, 3)), np.ones((3, 4))).shape == (0, 4)
    np.testing.assert_array_equal(cpu.matmul(np.ones((2, 0)), np.ones((0, 3))), np.zeros((2, 3)))
    ints = np.arange(6).reshape(2, 3)
    np.testing.assert_array_equal(cpu.matmul(ints, ints.T), ints @ ints.T)


def test_matmul_kernel_validates_before_running():
    with pytest.raises(ValueError, match=r"matmul: shapes \(3, 4\) and \(5, 6\) are not aligned \(4 != 5\)"):
        cpu.matmul(np.ones((3, 4)), np.ones((5, 6)))
    with pytest.raises(ValueError, match="batch dimensions"):
        cpu.matmul(np.ones((2, 3, 4)), np.ones((3, 4, 5)))
    a = np.ones((1, 3, 4))
    b = np.ones((1, 4, 2))
    with pytest.raises(ValueError, match="inner dimensions"):
        _gemm.gemm(a, np.ones((1, 5, 2)), np.empty((1, 3, 2)), np.zeros(1, np.int64),
                   np.zeros(1, np.int64))
    with pytest.raises(IndexError, match="batch index out of range"):
        _gemm.gemm(a, b, np.empty((1, 3, 2)), np.array([1]), np.zeros(1, np.int64))
    with pytest.raises(ValueError, match="row- or column-major"):
        _gemm.gemm(a[:, :, ::2], np.ones((1, 2, 2)), np.empty((1, 3, 2)),
                   np.zeros(1, np.int64), np.zeros(1, np.int64))
    with pytest.raises(ValueError, match="dtype mismatch|Buffer dtype"):
        _gemm.gemm(a, b.astype(np.float32), np.empty((1, 3, 2)), np.zeros(1, np.int64),
                   np.zeros(1, np.int64))


# ------------------------------------------------------------------ channel kernels

# the last three are large enough (> 64k elements) to run on several threads
STAT_SHAPES = [(1, 1), (2, 1), (5, 3), (3, 1, 1), (7, 3, 5), (2, 5, 3, 3), (4, 3, 2, 3, 2),
               (1, 2, 4097), (9, 130), (3, 64, 7, 7), (257, 3), (40, 7, 25, 17), (3, 2, 50001),
               (70001, 3)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", STAT_SHAPES, ids=str)
def test_channel_kernels_match_numpy(rng, threads, dtype, shape):
    x = _rand(rng, shape, dtype) * 3 + 1
    g = _rand(rng, shape, dtype)
    C = shape[1]
    scale, shift, center = (_rand(rng, (C,), dtype) for _ in range(3))
    mean, var = cpu.channel_moments(x)
    ref_mean, ref_var = numpy_ref.channel_moments(x)
    np.testing.assert_allclose(mean, ref_mean, **TOL[dtype])
    np.testing.assert_allclose(var, ref_var, **TOL[dtype])
    assert mean.dtype == var.dtype == dtype
    np.testing.assert_allclose(cpu.channel_sum(x), numpy_ref.channel_sum(x), **TOL[dtype])
    y = cpu.channel_affine(x, scale, shift, center)
    np.testing.assert_allclose(y, numpy_ref.channel_affine(x, scale, shift, center), **TOL[dtype])
    out, ref_out = g.copy(), g.copy()
    assert cpu.channel_affine(x, scale, shift, center, out=out) is out   # added into out
    assert numpy_ref.channel_affine(x, scale, shift, center, out=ref_out) is ref_out
    np.testing.assert_allclose(out, ref_out, **TOL[dtype])
    np.testing.assert_allclose(out, g + y, **TOL[dtype])
    for want_dx in (True, False):
        got = cpu.channel_affine_backward(g, x, scale, center, want_dx)
        ref = numpy_ref.channel_affine_backward(g, x, scale, center, want_dx)
        assert (got[0] is None) == (not want_dx)
        for a, b in zip(got, ref):
            if b is not None:
                np.testing.assert_allclose(a, b, rtol=TOL[dtype]["rtol"] * 10,
                                           atol=TOL[dtype]["atol"] * 10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_channel_kernels_take_non_contiguous_inputs(rng, dtype):
    x = np.moveaxis(_rand(rng, (5, 6, 3, 4), dtype), 0, 3)  # (6, 3, 4, 5) strided view
    for got, ref in zip(cpu.channel_moments(x), numpy_ref.channel_moments(x)):
        np.testing.assert_allclose(got, ref, **TOL[dtype])
    s = _rand(rng, (3,), dtype)
    np.testing.assert_allclose(cpu.channel_affine(x, s, s), numpy_ref.channel_affine(x, s, s),
                               **TOL[dtype])


def test_channel_results_do_not_depend_on_thread_count(rng):
    x = _rand(rng, (64, 8, 19, 19), np.float32)
    results = []
    for n in (1, 2):
        mg.set_num_threads(n)
        results.append(cpu.channel_moments(x) + cpu.channel_affine_backward(x, x, x[0, :, 0, 0])[1:])
    mg.set_num_threads(2)
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-6)


@pytest.mark.parametrize("shape", [(256, 3, 8, 8), (4096, 5), (64, 4, 40, 40)])
def test_float32_variance_with_a_large_mean_is_accurate(rng, shape):
    # E[x^2] - E[x]^2 would lose every digit here (and can go negative)
    x = (rng.standard_normal(shape) + 1e4).astype(np.float32)
    ref = x.astype(np.float64).var(axis=(0,) + tuple(range(2, len(shape))))
    _, var = cpu.channel_moments(x)
    np.testing.assert_allclose(var, ref, rtol=1e-5)
    assert np.all(var > 0)


def test_channel_kernels_reject_bad_input():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        cpu.channel_moments(np.ones(5))
    with pytest.raises(ValueError, match="empty"):
        cpu.channel_moments(np.ones((0, 3)))
    with pytest.raises(TypeError, match="float32 or float64"):
        cpu.channel_moments(np.ones((2, 3), dtype=np.int64))
    with pytest.raises(ValueError, match=r"scale must have shape \(3,\)"):
        cpu.channel_affine(np.ones((2, 3)), np.ones(4), np.ones(3))
    with pytest.raises(ValueError, match="must match x"):
        cpu.channel_affine_backward(np.ones((2, 3), np.float32), np.ones((2, 3)), np.ones(3))
    with pytest.raises(ValueError, match="writable C-contiguous"):
        cpu.channel_affine(np.ones((2, 3)), np.ones(3), np.ones(3), out=np.ones((3, 2)).T)
    # the kernels defend themselves too, before entering nogil code
    with pytest.raises(ValueError, match="var has 2 entries"):
        _channel.channel_moments(np.ones((2, 3, 1)), np.empty(3), np.empty(2))
    with pytest.raises(ValueError, match="empty"):
        _channel.channel_moments(np.ones((2, 0, 1)), np.empty(0), np.empty(0))


def test_reductions_over_all_but_axis_1_use_the_channel_kernel(monkeypatch, rng):
    calls = []
    real = cpu.channel_moments
    monkeypatch.setattr(cpu, "channel_moments", lambda x: calls.append(x.shape) or real(x))
    x = mg.tensor(_rand(rng, (4, 3, 5, 5), np.float32))
    v = x.var((0, 2, 3), correction=1)
    assert calls == [(4, 3, 5, 5)]
    np.testing.assert_allclose(v.numpy(), x.numpy().var(axis=(0, 2, 3), ddof=1), rtol=1e-5)


def test_threads_can_be_set_and_read():
    before = mg.get_num_threads()
    mg.set_num_threads(1)
    assert mg.get_num_threads() == 1
    mg.set_num_threads(before)
    assert mg.get_num_threads() == before
    for bad in (0, -1, 100000):
        with pytest.raises(ValueError, match="between 1 and"):
            mg.set_num_threads(bad)
    with pytest.raises(TypeError, match="int"):
        mg.set_num_threads(2.5)


def test_thread_count_is_process_wide():
    """Set in one Python thread, read in another (OpenMP's own setting is per OS thread)."""
    import threading
    before = mg.get_num_threads()
    seen = []
    try:
        mg.set_num_threads(1)
        t = threading.Thread(target=lambda: seen.append(mg.get_num_threads()))
        t.start()
        t.join()
    finally:
        mg.set_num_threads(before)
    assert seen == [1]


def test_blas_is_single_threaded():
    """All parallelism is OpenMP's: the BLAS that the GEMM kernel calls runs one thread."""
    from threadpoolctl import threadpool_info
    import scipy
    mg.ones(2, 2) @ mg.ones(2, 2)
    scipy_dir = os.path.dirname(scipy.__file__)
    ours = [i for i in threadpool_info() if i["user_api"] == "blas"
            and os.path.dirname(i["filepath"]).startswith(scipy_dir)]
    assert ours, "SciPy's BLAS was not found"
    assert all(i["num_threads"] == 1 for i in ours)


@pytest.mark.parametrize("shape", [(1024, 64, 96), (60, 784, 100), (784, 60, 100), (100, 60, 784),
                                   (5, 7, 3), (3, 300, 200, 50)])
def test_matmul_tiles_over_threads_match_numpy(rng, threads, shape):
    """Large products are split into row or column tiles, one per thread."""
    *batch, M, K, N = shape if len(shape) == 4 else (None,) + shape
    lead = tuple(b for b in batch if b is not None)
    a = _rand(rng, lead + (M, K), np.float64)
    b = _rand(rng, lead + (K, N), np.float64)
    for bt in (b, np.ascontiguousarray(np.swapaxes(b, -1, -2)).swapaxes(-1, -2)):
        np.testing.assert_allclose(cpu.matmul(a, bt), np.matmul(a, b), rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ our float32 GEMM

OWN_SGEMM = _gemm.own_sgemm_state()   # (can run here, the kernels use it)
needs_own_sgemm = pytest.mark.skipif(not OWN_SGEMM[0], reason="no AVX-512F on this CPU (or not "
                                     "an x86-64 GCC/Clang build): float32 GEMM is BLAS's alone")
uses_own_sgemm = pytest.mark.skipif(not OWN_SGEMM[1], reason="the kernels do not use our float32 "
                                    "GEMM here (no AVX-512F, or MINIGRAD_SGEMM=blas)")


def _float32_product_error_ok(got, a, b, c=None):
    """|got - (c + a @ b)| within the float32 rounding bound of a sum of K products (and c),
    in any order and with or without FMA: |error| <= (K + 1) u (|c| + |a| @ |b|), u = 2^-24
    (Higham, Accuracy and Stability of Numerical Algorithms, 2002, section 3.5), with the
    exact result taken in float64."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    c64 = np.zeros(got.shape) if c is None else c.astype(np.float64)
    bound = (a.shape[-1] + 2) * 2.0**-24 * (np.abs(c64) + np.abs(a64) @ np.abs(b64)) + 1e-30
    err = np.abs(got - (c64 + a64 @ b64))
    assert np.all(err <= bound), f"max error / bound {np.max(err / bound):.2f}"


def _layouts(rng, M, K, N):
    """(a, b) in each storage: row-major, column-major (a transposed view), and strided."""
    for a_kind in ("row", "col", "strided"):
        for b_kind in ("row", "col"):
            a = {"row": lambda: _rand(rng, (M, K), np.float32),
                 "col": lambda: _rand(rng, (K, M), np.float32).T,
                 "strided": lambda: _rand(rng, (M, 2 * K), np.float32)[:, ::2]}[a_kind]()
            b = _rand(rng, (K, N), np.float32) if b_kind == "row" \
                else _rand(rng, (N, K), np.float32).T
            yield f"{a_kind}-{b_kind}", a, b


# every edge of the 12 x 32 tiles and of the 144-row, 256-deep and 1024-wide blocks
OWN_SGEMM_SHAPES = [(1, 1, 1), (12, 32, 16), (13, 33, 17), (11, 31, 5), (1, 100, 40),
                    (150, 20, 300), (37, 1100, 7), (24, 64, 600), (145, 47, 257)]


@needs_own_sgemm
@pytest.mark.parametrize("M,N,K", OWN_SGEMM_SHAPES)
def test_own_sgemm_matches_float64_in_every_layout(rng, M, N, K):
    for name, a, b in _layouts(rng, M, K, N):
        out = np.full((M, N), np.nan, np.float32)    # never read without accumulate
        assert _gemm.own_sgemm(a, b, out), name
        _float32_product_error_ok(out, a, b)
        before = _rand(rng, (M, N), np.float32)
        out = before.copy()
        assert _gemm.own_sgemm(a, b, out, accumulate=True), name
        _float32_product_error_ok(out, a, b, c=before)


@needs_own_sgemm
def test_own_sgemm_writes_only_its_block_of_a_wider_output(rng):
    a, b = _rand(rng, (20, 30), np.float32), _rand(rng, (30, 40), np.float32)
    wide = np.full((20, 50), 7.0, np.float32)
    assert _gemm.own_sgemm(a, b, wide[:, 5:45])
    assert np.all(wide[:, :5] == 7.0) and np.all(wide[:, 45:] == 7.0)
    _float32_product_error_ok(wide[:, 5:45], a, b)


@needs_own_sgemm
def test_own_sgemm_propagates_nan_and_inf(rng):
    a, b = _rand(rng, (40, 50), np.float32), _rand(rng, (50, 64), np.float32)
    a[3, 7], b[9, 20] = np.nan, np.inf
    out = np.empty((40, 64), np.float32)
    assert _gemm.own_sgemm(a, b, out)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(out), np.isinf(ref))


def test_own_sgemm_refuses_bad_operands():
    a, b = np.ones((3, 4), np.float32), np.ones((4, 5), np.float32)
    with pytest.raises(ValueError, match="do not fit"):
        _gemm.own_sgemm(a, b, np.empty((3, 6), np.float32))
    with pytest.raises(ValueError, match="between 1"):
        _gemm.own_sgemm(a[:, :0], b[:0], np.empty((3, 5), np.float32))
    with pytest.raises(ValueError, match="rows must be contiguous"):
        _gemm.own_sgemm(a, b, np.empty((3, 10), np.float32)[:, ::2])


@uses_own_sgemm
@pytest.mark.parametrize("M,K,N", [(64, 128, 512), (60, 784, 100), (100, 60, 784)])
def test_matmul_takes_our_sgemm_where_it_is_faster(rng, threads, M, K, N):
    """The LSTM's and the MLP's products go to our kernel (the same bits as calling it
    directly) at any thread count, whichever layout, within float32's rounding bound."""
    for name, a, b in _layouts(rng, M, K, N):
        if name.startswith("strided"):
            a = np.ascontiguousarray(a)
        ours = np.empty((M, N), np.float32)
        assert _gemm.own_sgemm(a, b, ours)
        got = cpu.matmul(a, b)
        np.testing.assert_array_equal(got, ours, err_msg=name)
        _float32_product_error_ok(got, a, b)


@uses_own_sgemm
@pytest.mark.parametrize("xs,ws", [
    ((4, 64, 16, 16), (64, 64, 3, 3)),  # shifted GEMMs: M = 64, K = 64 a tap, N = 288
    ((8, 128, 4, 4), (128, 128, 3, 3)),  # blocks of images, dx and dw on our GEMM at every
    ((8, 64, 4, 4), (64, 64, 3, 3)),     # size; dw as (Kg, R) at 128 channels, dw^T at 64
    ((8, 16, 7, 7), (32, 16, 3, 3)),     # blocks because the images are too small for the
])                                       # taps pass (small_batch's third conv, on AMD)
@pytest.mark.parametrize("own_block_gemm", [False, True])
def test_convolutions_on_our_sgemm_match_float64(monkeypatch, rng, threads, xs, ws,
                                                 own_block_gemm):
    """Convolutions whose products our kernel takes (the blocks' dx and dw at every size
    with _BLOCK_OWN_GEMM, as on AMD EPYC): each pass within float32's rounding bound of its
    sums, and y and dx the same bits at 1 and 2 threads."""
    monkeypatch.setattr(cpu, "_BLOCK_OWN_GEMM", own_block_gemm)
    monkeypatch.setattr(cpu, "_THIN_BLOCKS", True)
    monkeypatch.setattr(cpu, "_WINOGRAD", False)   # (these paths, not Winograd's)
    x, w = _rand(rng, xs, np.float32), _rand(rng, ws, np.float32)
    args = ((1, 1), (1, 1), (1, 1), 1)
    dy = _rand(rng, (xs[0], ws[0]) + xs[2:], np.float32)
    R, pixels = ws[1] * 9, xs[0] * xs[2] * xs[3]
    ax, aw, ady = (np.abs(v).astype(np.float64) for v in (x, w, dy))
    passes = [(cpu.conv2d_forward(x, w, *args),
               numpy_ref.conv2d_forward(x.astype(np.float64), w.astype(np.float64), *args),
               numpy_ref.conv2d_forward(ax, aw, *args), R),
              (cpu.conv2d_backward_input(dy, w, x.shape, *args),
               numpy_ref.conv2d_backward_input(dy.astype(np.float64), w.astype(np.float64),
                                               x.shape, *args),
               numpy_ref.conv2d_backward_input(ady, aw, x.shape, *args), ws[0] * 9),
              (cpu.conv2d_backward_weight(x, dy, w.shape, *args),
               numpy_ref.conv2d_backward_weight(x.astype(np.float64), dy.astype(np.float64),
                                                w.shape, *args),
               numpy_ref.conv2d_backward_weight(ax, ady, w.shape, *args), pixels)]
    for got, exact, scale, terms in passes:
        assert np.all(np.abs(got - exact) <= (terms + 2) * 2.0**-24 * scale + 1e-30)
    before = mg.get_num_threads()
    mg.set_num_threads(3 - mg.get_num_threads())
    try:
        np.testing.assert_array_equal(cpu.conv2d_forward(x, w, *args), passes[0][0])
        np.testing.assert_array_equal(cpu.conv2d_backward_input(dy, w, x.shape, *args),
                                      passes[1][0])
    finally:
        mg.set_num_threads(before)


def _openblas_skylakex():
    """Whether SciPy's BLAS is OpenBLAS with its SkylakeX kernels, on which a tap's product
    with N a multiple of 16 and at most 256 terms has our GEMM's bits (see _conv.pyx)."""
    from threadpoolctl import threadpool_info
    import scipy
    scipy_dir = os.path.dirname(scipy.__file__)
    return any(i["user_api"] == "blas" and i.get("internal_api") == "openblas"
               and i.get("architecture") == "SkylakeX"
               and os.path.dirname(i["filepath"]).startswith(scipy_dir)
               for i in threadpool_info())


# (x shape, w shape, padding, dilation, groups, where the per-tap GEMMs are ours: the fused
# pass then has their bits by construction; elsewhere they are OpenBLAS's)
TAPS_CASES = [
    ((2, 16, 32, 32), (16, 16, 3, 3), 1, 1, 1, False),   # ResNet-20's first stage
    ((2, 32, 16, 16), (32, 32, 3, 3), 1, 1, 1, False),
    ((3, 16, 14, 14), (32, 16, 3, 3), 1, 1, 1, False),   # cnn_mnist's second conv
    ((2, 64, 32, 32), (64, 64, 3, 3), 1, 1, 1, True),
    ((2, 128, 16, 16), (128, 128, 3, 3), 1, 1, 1, True),
    ((2, 64, 12, 12), (64, 64, 3, 3), 1, 1, 1, True),    # N = 168: ours, not a multiple of 16
    ((2, 300, 14, 14), (40, 300, 3, 3), 1, 1, 1, True),  # 300 terms per tap: two k blocks
    ((2, 16, 12, 12), (24, 16, 5, 5), 2, 1, 1, False),
    ((2, 16, 12, 12), (16, 16, 3, 3), 2, 2, 1, False),
    ((2, 32, 16, 14), (48, 16, 3, 3), 1, 1, 2, False),
    ((2, 24, 10, 14), (20, 24, 3, 3), 1, 1, 1, False),   # 20 rows: a part-empty 8-row tile
]


@uses_own_sgemm
@pytest.mark.parametrize("case", TAPS_CASES, ids=lambda c: f"{c[0]}-{c[1]}-p{c[2]}d{c[3]}g{c[4]}")
def test_conv_taps_in_one_pass_keep_the_bits_of_a_gemm_per_tap(monkeypatch, rng, threads, case):
    """Stride-1 float32 convs whose taps mg_sgemm_taps sums in one pass (forward, and dx by
    gathering from dy with zero margins) give exactly what a GEMM per tap gave, so turning
    it on changed no trained result; and the pass is taken for these shapes."""
    x_shape, w_shape, pad, dil, groups, ours = case
    monkeypatch.setattr(cpu, "_WINOGRAD", False)   # (these paths, not Winograd's)
    if not ours and not _openblas_skylakex():
        pytest.skip("the per-tap GEMMs here are BLAS's, and this BLAS is not OpenBLAS's "
                    "SkylakeX kernels, whose bits the rule was measured on")
    x, w = _rand(rng, x_shape, np.float32), _rand(rng, w_shape, np.float32)
    args = ((1, 1), (pad, pad), (dil, dil), groups)
    out_hw = tuple(n + 2 * pad - dil * (k - 1) for n, k in zip(x_shape[2:], w_shape[2:]))
    for for_dx in (False, True):   # (the plan shifts, whole images, and the pass is taken)
        _, block, _, _, shift = cpu._conv_plan(x_shape, w_shape, out_hw, *args, np.float32,
                                               by_group=for_dx)
        assert shift and block == 1
        assert _conv.packs_taps(x_shape, w_shape, pad, pad, dil, dil, groups, for_dx)
    y = cpu.conv2d_forward(x, w, *args)
    dy = _rand(rng, y.shape, np.float32)
    fused = (y, cpu.conv2d_backward_input(dy, w, x.shape, *args))
    before = _conv.taps_in_one_pass(False)
    try:
        per_tap = (cpu.conv2d_forward(x, w, *args),
                   cpu.conv2d_backward_input(dy, w, x.shape, *args))
    finally:
        _conv.taps_in_one_pass(before)
    for got, want in zip(fused, per_tap):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(fused[0], numpy_ref.conv2d_forward(
        x.astype(np.float64), w.astype(np.float64), *args), rtol=1e-4, atol=1e-4)


@uses_own_sgemm
def test_conv_taps_stay_per_tap_where_the_bits_would_change():
    """At 20 x 20 (N = 440, not a multiple of 16) with 16 output channels the per-tap
    GEMMs are BLAS's, whose small-M kernels sum differently from ours: no fused pass. Nor
    at 8 x 8 (N = 80), where it is slower."""
    assert not _conv.packs_taps((2, 64, 20, 20), (16, 64, 3, 3), 1, 1, 1, 1, 1, False)
    assert not _conv.packs_taps((2, 64, 8, 8), (64, 64, 3, 3), 1, 1, 1, 1, 1, False)
    assert _conv.packs_taps((2, 64, 16, 16), (64, 64, 3, 3), 1, 1, 1, 1, 1, False)


# ------------------------------------------------------------------ convolution and pooling

CONV_CASES = [
    ((2, 3, 7, 6), (4, 3, 3, 2), (1, 1), (0, 0), (1, 1), 1),
    ((3, 4, 9, 8), (6, 2, 3, 3), (2, 1), (1, 2), (1, 2), 2),
    ((1, 6, 5, 5), (6, 1, 3, 3), (1, 1), (1, 1), (1, 1), 6),   # depthwise
    ((2, 5, 4, 3), (7, 5, 1, 1), (1, 1), (0, 0), (1, 1), 1),   # pointwise: no im2col
    ((2, 4, 6, 6), (4, 2, 1, 1), (1, 1), (0, 0), (1, 1), 2),   # grouped pointwise
    ((2, 3, 11, 13), (5, 3, 5, 4), (3, 2), (2, 1), (2, 3), 1),
    ((2, 4, 7, 9), (6, 2, 3, 2), (1, 1), (2, 1), (2, 3), 2),   # stride 1: shifted GEMMs
    ((3, 2, 6, 5), (3, 2, 2, 3), (1, 1), (0, 2), (1, 1), 1),   # wide padding, junk columns
    ((2, 3, 8, 7), (4, 3, 3, 3), (1, 2), (1, 1), (1, 1), 1),   # stride 1 one way only: im2col
    ((2, 3, 5, 6), (70, 3, 3, 3), (1, 1), (1, 1), (1, 1), 1),  # dw as (Kg, R), not transposed
]


def _check_conv(rng, dtype, xs, ws, args):
    x, w = _rand(rng, xs, dtype), _rand(rng, ws, dtype)
    y = cpu.conv2d_forward(x, w, *args)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else TOL[dtype]
    np.testing.assert_allclose(y, numpy_ref.conv2d_forward(x, w, *args), **tol)
    dy = _rand(rng, y.shape, dtype)
    np.testing.assert_allclose(cpu.conv2d_backward_input(dy, w, xs, *args),
                               numpy_ref.conv2d_backward_input(dy, w, xs, *args), **tol)
    np.testing.assert_allclose(cpu.conv2d_backward_weight(x, dy, ws, *args),
                               numpy_ref.conv2d_backward_weight(x, dy, ws, *args), **tol)


@pytest.fixture
def parallel_convs(monkeypatch):
    """Even the tiny test convs run on every thread (they would stay serial otherwise)."""
    monkeypatch.setattr(cpu, "_SERIAL_BELOW", 0)


def _force_image_blocks(monkeypatch, items):
    """Every non-1x1 conv in blocks of whole images, ``items`` blocks per call (the last
    one short when they do not divide the batch)."""
    monkeypatch.setattr(cpu, "_BLOCK_MAX_PIXELS", 10**9)
    monkeypatch.setattr(cpu, "_BLOCK_WEIGHT_PER_PIXEL", 0)
    monkeypatch.setattr(cpu, "_BLOCK_COLUMNS", 10**9)
    monkeypatch.setattr(cpu, "_BLOCK_COLUMNS_DW", 10**9)
    monkeypatch.setattr(cpu, "_BLOCK_MIN_ITEMS", items)


@pytest.fixture(params=["shifted", "im2col", "images"])
def conv_path(request, monkeypatch):
    """Stride-1 convs through each kernel path, whatever their channel count and image size
    ("images": the whole batch in one block)."""
    if request.param == "images":
        _force_image_blocks(monkeypatch, 1)
    else:
        monkeypatch.setattr(cpu, "_BLOCK_MAX_PIXELS", 0)
        monkeypatch.setattr(cpu, "_SHIFT_MIN_CHANNELS",
                            1 if request.param == "shifted" else 10**9)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xs,ws,stride,padding,dilation,groups", CONV_CASES)
def test_conv_kernels_match_numpy(rng, threads, parallel_convs, conv_path, dtype, xs, ws, stride,
                                  padding, dilation, groups):
    _check_conv(rng, dtype, xs, ws, (stride, padding, dilation, groups))


@pytest.mark.parametrize("xs,ws,stride,padding,dilation,groups", CONV_CASES)
def test_conv_kernels_tile_output_rows(monkeypatch, rng, threads, parallel_convs, xs, ws, stride,
                                       padding, dilation, groups):
    monkeypatch.setattr(cpu, "_TILE_BYTES", 1)  # one output row per column tile
    monkeypatch.setattr(cpu, "_SHIFT_MIN_CHANNELS", 10**9)  # tiles are im2col's
    monkeypatch.setattr(cpu, "_BLOCK_MAX_PIXELS", 0)  # of one image each
    _check_conv(rng, np.float64, xs, ws, (stride, padding, dilation, groups))


def test_conv_with_fewer_images_than_threads(monkeypatch, rng, parallel_convs, conv_path):
    monkeypatch.setattr(cpu, "_TILE_BYTES", 1)  # one image's row tiles spread over threads
    before = mg.get_num_threads()
    mg.set_num_threads(4)
    try:
        _check_conv(rng, np.float64, (1, 4, 7, 5), (6, 2, 3, 3), ((1, 1), (1, 1), (1, 1), 2))
    finally:
        mg.set_num_threads(before)


BLOCK_CASES = [  # ..., images per block
    ((7, 6, 4, 4), (8, 6, 3, 3), (1, 1), (1, 1), (1, 1), 1, 3),   # 7 = 3 + 3 + 1
    ((5, 4, 8, 8), (6, 2, 3, 3), (2, 2), (1, 1), (1, 1), 2, 2),   # stride 2, groups
    ((6, 3, 2, 2), (4, 3, 3, 3), (1, 1), (1, 1), (1, 1), 1, 3),   # 2x2 images
    ((5, 4, 5, 7), (6, 4, 3, 2), (1, 2), (2, 1), (2, 1), 1, 2),   # dilation, odd sizes
    ((5, 6, 3, 3), (6, 1, 3, 3), (1, 1), (1, 1), (1, 1), 6, 2),   # depthwise
    ((5, 4, 4, 4), (6, 4, 1, 1), (2, 2), (0, 0), (1, 1), 1, 3),   # strided 1x1
    ((5, 2, 4, 4), (66, 2, 3, 3), (1, 1), (1, 1), (1, 1), 1, 2),  # dw as (Kg, R)
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xs,ws,stride,padding,dilation,groups,block", BLOCK_CASES)
def test_conv_kernels_on_blocks_of_images(monkeypatch, rng, threads, parallel_convs, dtype, xs,
                                          ws, stride, padding, dilation, groups, block):
    _force_image_blocks(monkeypatch, -(-xs[0] // block))
    out_hw = cpu._conv_geometry(xs, ws, stride, padding, dilation)
    for weight_grad in (False, True):
        plan = cpu._conv_plan(xs, ws, out_hw, stride, padding, dilation, groups, dtype,
                              weight_grad=weight_grad)
        assert plan[1] == block
    _check_conv(rng, dtype, xs, ws, (stride, padding, dilation, groups))


@pytest.mark.parametrize("thin_blocks", [False, True])
def test_small_images_go_in_blocks_where_measured_faster(monkeypatch, thin_blocks):
    monkeypatch.setattr(cpu, "_THIN_BLOCKS", thin_blocks)   # (True on AMD EPYC)

    def block(xs, ws, weight_grad=False):
        pad = (ws[2] // 2, ws[3] // 2)
        out_hw = cpu._conv_geometry(xs, ws, (1, 1), pad, (1, 1))
        return cpu._conv_plan(xs, ws, out_hw, (1, 1), pad, (1, 1), 1, np.float32,
                              weight_grad=weight_grad)[1]
    assert block((32, 512, 4, 4), (512, 512, 3, 3)) == 8        # 4 blocks of 128 columns
    assert block((32, 256, 8, 8), (256, 256, 3, 3)) == 4
    assert block((32, 256, 8, 8), (256, 256, 3, 3), weight_grad=True) == 8
    # with _THIN_BLOCKS, images whose padded rows give the taps pass under _TAPS_MIN_N
    # columns go in blocks whatever the channels (8 x 8: 80 columns; 11 x 11: 143, the
    # taps pass); without, only with enough weight per pixel
    assert block((32, 16, 8, 8), (16, 16, 3, 3)) == (4 if thin_blocks else 1)
    assert block((32, 64, 8, 8), (64, 64, 3, 3)) == (4 if thin_blocks else 1)
    assert block((32, 16, 7, 7), (32, 16, 3, 3)) == (6 if thin_blocks else 1)
    assert block((32, 64, 11, 11), (64, 64, 3, 3)) == 1
    assert block((32, 16, 8, 8), (16, 16, 3, 3), weight_grad=True) == 8
    assert block((32, 64, 16, 16), (64, 64, 3, 3), weight_grad=True) == 1  # wide enough
    assert block((32, 512, 4, 4), (512, 512, 1, 1), weight_grad=True) == 1  # no im2col


@uses_own_sgemm
def test_conv_blocks_of_images_are_our_gemm_on_their_columns(monkeypatch, rng, threads):
    """A block of images' forward is one product of our GEMM, W (Kg, R) @ their im2col
    columns side by side: its bits, whatever the block."""
    monkeypatch.setattr(cpu, "_WINOGRAD", False)   # (64 -> 64 @4x4 is Winograd's on AMD)
    x, w = _rand(rng, (8, 64, 4, 4), np.float32), _rand(rng, (64, 64, 3, 3), np.float32)
    args = ((1, 1), (1, 1), (1, 1), 1)
    out_hw = cpu._conv_geometry(x.shape, w.shape, *args[:3])
    assert cpu._conv_plan(x.shape, w.shape, out_hw, *args, np.float32)[1] > 1
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    col = np.stack([xp[:, :, i:i + 4, j:j + 4] for i in range(3) for j in range(3)], 2)
    col = np.ascontiguousarray(col.transpose(1, 2, 0, 3, 4).reshape(64 * 9, 8 * 16))
    expected = cpu.matmul(np.ascontiguousarray(w.reshape(64, -1)), col)  # (our GEMM's size)
    expected = expected.reshape(64, 8, 4, 4).transpose(1, 0, 2, 3)
    np.testing.assert_array_equal(cpu.conv2d_forward(x, w, *args), expected)


def test_conv_on_blocks_of_images_is_deterministic(monkeypatch, rng, parallel_convs):
    """Blocks are fixed by the batch, not the thread count: y and dx agree exactly across
    thread counts, dw (summed per block of blocks) exactly across runs."""
    _force_image_blocks(monkeypatch, 4)  # 10 images: blocks of 3, 3, 3, 1
    x, w = _rand(rng, (10, 16, 4, 4), np.float32), _rand(rng, (24, 16, 3, 3), np.float32)
    dy = _rand(rng, (10, 24, 4, 4), np.float32)
    args = ((1, 1), (1, 1), (1, 1), 1)
    before = mg.get_num_threads()
    outs = []
    try:
        for n in (1, 2, 3):
            mg.set_num_threads(n)
            outs.append((cpu.conv2d_forward(x, w, *args),
                         cpu.conv2d_backward_input(dy, w, x.shape, *args)))
        dws = [cpu.conv2d_backward_weight(x, dy, w.shape, *args) for _ in range(5)]
    finally:
        mg.set_num_threads(before)
    for y, dx in outs[1:]:
        np.testing.assert_array_equal(y, outs[0][0])
        np.testing.assert_array_equal(dx, outs[0][1])
    for dw in dws[1:]:
        np.testing.assert_array_equal(dw, dws[0])
    np.testing.assert_allclose(dws[0], numpy_ref.conv2d_backward_weight(x, dy, w.shape, *args),
                               rtol=1e-4, atol=1e-4)


def test_conv_results_do_not_depend_on_thread_count(rng, parallel_convs, conv_path):
    """y and dx are computed per image whichever thread takes it; dw's summation order is
    fixed by its block count (set from the thread count), so it agrees to rounding across
    thread counts and exactly across runs."""
    x, w = _rand(rng, (5, 6, 9, 9), np.float32), _rand(rng, (8, 6, 3, 3), np.float32)
    args = ((1, 1), (1, 1), (1, 1), 1)
    dy = _rand(rng, (5, 8, 9, 9), np.float32)
    before = mg.get_num_threads()
    outs = []
    for n in (1, 2, 3):
        mg.set_num_threads(n)
        outs.append((cpu.conv2d_forward(x, w, *args),
                     cpu.conv2d_backward_input(dy, w, x.shape, *args),
                     cpu.conv2d_backward_weight(x, dy, w.shape, *args)))
    mg.set_num_threads(before)
    for y, dx, dw in outs[1:]:
        np.testing.assert_array_equal(y, outs[0][0])
        np.testing.assert_array_equal(dx, outs[0][1])
        np.testing.assert_allclose(dw, outs[0][2], rtol=1e-5, atol=1e-5)
    again = cpu.conv2d_backward_weight(x, dy, w.shape, *args)
    np.testing.assert_array_equal(again, cpu.conv2d_backward_weight(x, dy, w.shape, *args))


@uses_own_sgemm
@pytest.mark.parametrize("wide", [None, (16384, 256)])
def test_weight_gradient_kernel_takes_more_channels_where_measured_faster(monkeypatch, rng,
                                                                          threads, wide):
    """Where _DW_SHIFT_WIDE is set (AMD EPYC), dw of 64 -> 64 channels at 16 x 16 reads the
    padded image (within float32's rounding bound), and 32 -> 64 at 14 x 14 (196 pixels)
    stays on im2col; elsewhere both do."""
    monkeypatch.setattr(cpu, "_DW_SHIFT_WIDE", wide)
    monkeypatch.setattr(cpu, "_WINOGRAD", False)   # (the kernel's dw, not Winograd's)
    args = ((1, 1), (1, 1), (1, 1), 1)

    def shift(xs, ws):
        out_hw = cpu._conv_geometry(xs, ws, *args[:3])
        return cpu._conv_plan(xs, ws, out_hw, *args, np.float32, weight_grad=True)[4]
    assert shift((2, 64, 16, 16), (64, 64, 3, 3)) == (wide is not None)
    assert not shift((2, 32, 14, 14), (64, 32, 3, 3))
    assert not shift((2, 128, 16, 16), (256, 128, 3, 3))   # 32768 pairs
    xs, ws = (2, 64, 16, 16), (64, 64, 3, 3)
    x, dy = _rand(rng, xs, np.float32), _rand(rng, (2, 64, 16, 16), np.float32)
    dw = cpu.conv2d_backward_weight(x, dy, ws, *args)
    x64, dy64 = x.astype(np.float64), dy.astype(np.float64)
    exact = numpy_ref.conv2d_backward_weight(x64, dy64, ws, *args)
    scale = numpy_ref.conv2d_backward_weight(np.abs(x64), np.abs(dy64), ws, *args)
    assert np.all(np.abs(dw - exact) <= (2 * 256 + 2) * 2.0**-24 * scale + 1e-30)


@uses_own_sgemm
@pytest.mark.parametrize("xs,ws,padding,dilation,groups", [
    ((3, 16, 12, 13), (16, 16, 3, 3), (1, 1), (1, 1), 1),   # 3 output channels per pass
    ((2, 3, 9, 10), (64, 3, 3, 3), (1, 1), (1, 1), 1),      # dw^T partial sums (Kg <= 64)
    ((2, 8, 7, 9), (70, 8, 3, 3), (1, 2), (1, 1), 1),       # dw partial sums (Kg > 64)
    ((2, 8, 11, 9), (8, 8, 3, 3), (2, 1), (2, 1), 1),       # dilated
    ((2, 16, 6, 33), (32, 8, 3, 3), (0, 1), (1, 1), 2),     # groups; rows not 16 wide
])
def test_weight_gradient_from_the_padded_image(rng, threads, xs, ws, padding, dilation,
                                               groups):
    """3 x 3 stride-1 float32 dw without im2col (_conv_dw.h): taken where the plan says,
    within float32's rounding bound of the float64 result, and the same bits across runs."""
    args = ((1, 1), padding, dilation, groups)
    out_hw = cpu._conv_geometry(xs, ws, *args[:3])
    assert cpu._conv_plan(xs, ws, out_hw, *args, np.float32, weight_grad=True)[4]
    x, dy = _rand(rng, xs, np.float32), _rand(rng, (xs[0], ws[0]) + out_hw, np.float32)
    dw = cpu.conv2d_backward_weight(x, dy, ws, *args)
    x64, dy64 = x.astype(np.float64), dy.astype(np.float64)
    exact = numpy_ref.conv2d_backward_weight(x64, dy64, ws, *args)
    scale = numpy_ref.conv2d_backward_weight(np.abs(x64), np.abs(dy64), ws, *args)
    terms = xs[0] * math.prod(out_hw) + 2
    assert np.all(np.abs(dw - exact) <= terms * 2.0**-24 * scale + 1e-30)
    np.testing.assert_array_equal(cpu.conv2d_backward_weight(x, dy, ws, *args), dw)


def test_shifted_weight_gradient_is_refused_where_it_cannot_run():
    x, dy = np.ones((1, 2, 5, 5)), np.ones((1, 2, 5, 5))
    with pytest.raises(ValueError, match="3 x 3 float32"):
        _conv.conv2d_backward_weight(x, dy, np.empty((2, 2, 3, 3)), 1, 1, 1, 1, 1, 1, 1, 5,
                                     np.empty((1, 1000)), np.empty((1, 36)), 1, True)


@pytest.mark.parametrize("dtype", [np.float16, np.int64])
def test_conv_rejects_other_dtypes_by_name(dtype):
    x, w = np.ones((1, 2, 4, 4), dtype), np.ones((3, 2, 3, 3), dtype)
    args = ((1, 1), (0, 0), (1, 1), 1)
    with pytest.raises(TypeError, match=f"conv2d: .*{np.dtype(dtype)}"):
        cpu.conv2d_forward(x, w, *args)
    with pytest.raises(TypeError, match=f"conv2d backward \\(input\\).*{np.dtype(dtype)}"):
        cpu.conv2d_backward_input(np.ones((1, 3, 2, 2), dtype), w, x.shape, *args)
    with pytest.raises(TypeError, match=f"conv2d backward \\(weight\\).*{np.dtype(dtype)}"):
        cpu.conv2d_backward_weight(x, np.ones((1, 3, 2, 2), dtype), w.shape, *args)


def test_conv_takes_non_contiguous_operands_and_empty_batches(rng):
    x = _rand(rng, (3, 4, 6, 10), np.float64)[:, :, :, ::2]
    w = _rand(rng, (4, 5, 3, 3), np.float64).transpose(1, 0, 2, 3)
    args = ((1, 1), (1, 1), (1, 1), 1)
    np.testing.assert_allclose(cpu.conv2d_forward(x, w, *args),
                               numpy_ref.conv2d_forward(x, w, *args), **TOL[np.float64])
    empty = np.zeros((0, 4, 6, 5))
    assert cpu.conv2d_forward(empty, w, *args).shape == (0, 5, 6, 5)
    dw = cpu.conv2d_backward_weight(empty, np.zeros((0, 5, 6, 5)), w.shape, *args)
    np.testing.assert_array_equal(dw, np.zeros(w.shape))


POOL_CASES = [((2, 3, 6, 7), (2, 2), (2, 2), (0, 0), (1, 1)),
              ((1, 2, 7, 9), (3, 3), (2, 2), (1, 1), (1, 1)),
              ((2, 1, 8, 8), (3, 2), (1, 2), (1, 1), (2, 1)),
              ((3, 5, 5), (2, 2), (1, 1), (0, 0), (1, 1))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xs,k,s,p,d", POOL_CASES)
def test_max_pool_kernels_match_numpy(rng, threads, dtype, xs, k, s, p, d):
    from minigrad._shapes import window_out_size as _out_size
    x = _rand(rng, xs, dtype)
    out_hw = tuple(_out_size(n, *a, False) for n, a in zip(xs[-2:], zip(k, s, p, d)))
    y, idx = cpu.max_pool2d(x, k, s, p, d, out_hw)
    y_ref, idx_ref = numpy_ref.max_pool2d(x, k, s, p, d, out_hw)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(idx, idx_ref)
    g = _rand(rng, y.shape, dtype)
    np.testing.assert_allclose(cpu.max_pool2d_backward(g, idx, xs),
                               numpy_ref.max_pool2d_backward(g, idx, xs), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_avg_pool_kernels_match_numpy(rng, threads, dtype):
    x = _rand(rng, (2, 3, 7, 9), dtype)
    windows = (np.array([0, 1, 4]), np.array([2, 5, 7]), np.array([0, 3, 3, 8]),
               np.array([3, 6, 9, 9]), np.arange(1, 13, dtype=np.float64).reshape(3, 4))
    y = cpu.avg_pool2d(x, windows)
    np.testing.assert_allclose(y, numpy_ref.avg_pool2d(x, windows), **TOL[dtype])
    np.testing.assert_allclose(cpu.avg_pool2d_backward(y, windows, x.shape),
                               numpy_ref.avg_pool2d_backward(y, windows, x.shape), **TOL[dtype])


def test_conv_and_pool_kernels_validate_before_running():
    from minigrad._kernels import _conv, _pool
    x, w = np.ones((2, 3, 4, 4)), np.ones((5, 3, 3, 3))
    # shifted GEMMs' scratch: Cg padded planes of 4 * 4 + 2, then Kg rows of dy with dx's
    # zero margins, 2 * 4 + 2 + 4 rows * 4
    y, work = np.empty((2, 5, 2, 2)), np.empty((1, 3 * 18 + 5 * 26))
    taps = w.transpose(2, 3, 0, 1).copy()
    with pytest.raises(ValueError, match="output has shape"):
        _conv.conv2d_forward(x, w, taps, np.empty((2, 5, 3, 3)), 1, 1, 0, 0, 1, 1, 1, 2, True,
                             work)
    with pytest.raises(ValueError, match="groups=2 does not fit"):
        _conv.conv2d_forward(x, w, taps, y, 1, 1, 0, 0, 1, 1, 2, 2, True, work)
    with pytest.raises(ValueError, match="work buffer"):
        _conv.conv2d_backward_input(y, w, taps, x, 1, 1, 0, 0, 1, 1, 1, 2, True,
                                    np.empty((1, 3 * 18 + 5 * 26 - 1)))
    with pytest.raises(ValueError, match="taps have shape"):
        _conv.conv2d_forward(x, w, w, y, 1, 1, 0, 0, 1, 1, 1, 2, True, work)
    with pytest.raises(ValueError, match="need stride 1"):
        _conv.conv2d_forward(x, w, taps, np.empty((2, 5, 1, 2)), 2, 1, 0, 0, 1, 1, 1, 1, True,
                             work)
    with pytest.raises(ValueError, match="must be positive"):
        _conv.conv2d_forward(x, w, taps, y, 1, 0, 0, 0, 1, 1, 1, 2, True, work)
    with pytest.raises(ValueError, match="tile of 3 output rows"):
        _conv.conv2d_forward(x, w, taps, y, 1, 1, 0, 0, 1, 1, 1, 3, False, work)
    with pytest.raises(ValueError, match="block of 3 images"):
        _conv.conv2d_forward(x, w, taps, y, 1, 1, 0, 0, 1, 1, 1, 2, False, work, 3)
    with pytest.raises(ValueError, match="block of 0 images"):
        _conv.conv2d_backward_weight(x, y, w, 1, 1, 0, 0, 1, 1, 1, 2, work,
                                     np.zeros((1, 135)), 0)
    with pytest.raises(ValueError, match="block of images is im2col"):
        _conv.conv2d_backward_input(y, w, taps, x, 1, 1, 0, 0, 1, 1, 1, 2, True, work, 2)
    with pytest.raises(ValueError, match="block of images is im2col"):
        _conv.conv2d_forward(x, w, taps, y, 1, 1, 0, 0, 1, 1, 1, 1, False, work, 2)
    with pytest.raises(ValueError, match="work buffer"):  # (27 + 5) * 2 * 4 for a block
        _conv.conv2d_forward(x, w, taps, y, 1, 1, 0, 0, 1, 1, 1, 2, False,
                             np.empty((1, 255)), 2)
    with pytest.raises(ValueError, match="partial sums"):
        _conv.conv2d_backward_weight(x, y, w, 1, 1, 0, 0, 1, 1, 1, 2, np.empty((1, 27 * 4)),
                                     np.zeros((9, 135)))
    planes = np.ones((2, 4, 4))
    with pytest.raises(IndexError, match="outside a plane"):
        _pool.max_pool_backward(np.ones((2, 1, 1)), np.full((2, 1, 1), 99, np.int64), planes)
    with pytest.raises(IndexError, match="index -2 outside a plane"):
        _pool.max_pool_backward(np.ones((2, 1, 1)), np.full((2, 1, 1), -2, np.int64), planes)
    assert np.all(planes == 1)   # (checked before anything is written)
    _pool.max_pool_backward(np.ones((2, 1, 1)), np.full((2, 1, 1), -1, np.int64), planes)
    assert np.all(planes == 0)   # -1 (a window of padding only) scatters nothing
    with pytest.raises(ValueError, match="window"):
        _pool.avg_pool(planes, np.array([0]), np.array([9]), np.array([0]), np.array([1]),
                       np.ones((1, 1)), np.empty((2, 1, 1)))


# ------------------------------------------------------------------ Winograd F(4 x 4, 3 x 3)

# (x shape, w shape, padding): ragged tiles (13 x 10, 7 x 7), no padding and padding 2,
# channel counts of 32 to 256, groups of 2 images (16 x 16) and of all (4 x 4), one image
# in bands of 3, 3, 3 and 1 tile rows (40 x 36, on 2 threads)
WINO_CASES = [
    ((3, 32, 14, 14), (48, 32, 3, 3), 1), ((1, 32, 40, 36), (32, 32, 3, 3), 1),
    ((3, 64, 8, 8), (64, 64, 3, 3), 1), ((2, 64, 13, 10), (128, 64, 3, 3), 1),
    ((2, 128, 6, 9), (64, 128, 3, 3), 0), ((2, 64, 7, 7), (64, 64, 3, 3), 2),
    ((5, 256, 4, 4), (256, 256, 3, 3), 1), ((2, 64, 16, 16), (64, 64, 3, 3), 1),
]


# F(4 x 4, 3 x 3)'s matrices (Lavin & Gray 2016): y = A^T [(G g G^T) (.) (B^T d B)] A
_WINO_BT = np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                     [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], float)
_WINO_G = np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
                    [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]])
_WINO_AT = np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0],
                     [0, 1, -1, 8, -8, 1]], float)


def _wino_tiles(a, pad, th, tw, size):
    """|a| (N, C, H, W), zero-padded by ``pad``, as its (N, C, th, tw, size, size) tiles
    4 apart."""
    N, C, H, W = a.shape
    z = np.zeros((N, C, 4 * th + size - 4 + H, 4 * tw + size - 4 + W))
    z[:, :, pad[0]:pad[0] + H, pad[1]:pad[1] + W] = np.abs(a)
    win = np.lib.stride_tricks.sliding_window_view(z, (size, size), axis=(2, 3))
    return win[:, :, :4 * th:4, :4 * tw:4]


def _wino_forward_scale(x, w, pad):
    """The forward error bound's scale: the algorithm run on absolute values, |A^T| [sum
    over c of (|G| |g| |G^T|) (.) (|B^T| |d| |B|)] |A| per tile, cut to the output."""
    K, (N, C, H, W) = w.shape[0], x.shape
    Ho, Wo = H + 2 * pad[0] - 2, W + 2 * pad[1] - 2
    th, tw = -(-Ho // 4), -(-Wo // 4)
    BT, G, AT = np.abs(_WINO_BT), np.abs(_WINO_G), np.abs(_WINO_AT)
    V = np.einsum("ir,ncturq,jq->nctuij", BT, _wino_tiles(x, pad, th, tw, 6), BT)
    U = np.einsum("ip,kcpq,jq->kcij", G, np.abs(w).astype(float), G)
    Y = np.einsum("ai,nktuij,bj->nktuab", AT, np.einsum("kcij,nctuij->nktuij", U, V), AT)
    return Y.transpose(0, 1, 2, 4, 3, 5).reshape(N, K, 4 * th, 4 * tw)[:, :, :Ho, :Wo]


def _wino_dw_scale(x, dy, pad):
    """dw's: |G^T| [sum over tiles of (|A| |dY| |A^T|) (.) (|B^T| |d| |B|)] |G|."""
    th, tw = -(-dy.shape[2] // 4), -(-dy.shape[3] // 4)
    BT, G, AT = np.abs(_WINO_BT), np.abs(_WINO_G), np.abs(_WINO_AT)
    V = np.einsum("ir,ncturq,jq->nctuij", BT, _wino_tiles(x, pad, th, tw, 6), BT)
    P = np.einsum("ai,nktuab,bj->nktuij", AT, _wino_tiles(dy, (0, 0), th, tw, 4), AT)
    return np.einsum("ip,kcij,jq->kcpq", G, np.einsum("nktuij,nctuij->kcij", P, V), G)


@uses_own_sgemm
@pytest.mark.parametrize("case", WINO_CASES, ids=lambda c: f"{c[0]}-{c[1]}-p{c[2]}")
def test_conv_winograd_is_within_its_error_bound(monkeypatch, rng, threads, case):
    """Forward, dx and dw by Winograd F(4 x 4, 3 x 3) against float64, each output within
    the first-order bound of the algorithm as it runs in float32: (n + 32) u times the
    algorithm run on absolute values (transforms and products of |.|), n the length of the
    sum (C for y, K for dx, the tiles plus the groups for dw), 32 for the transforms'
    roundings (at most 6 in V or P, 8 in the output's, 1 in U), u = 2^-24. Winograd's
    transforms scale values by up to 100, so that scale is larger than a direct sum's
    |x| * |w|: measured, the error is at most 90 u (|x| * |w|) and the RMS error relative
    to the output's 0.6e-6 to 3.7e-6, about ten times a direct sum's; the price of a
    quarter of the multiplications."""
    monkeypatch.setattr(cpu, "_WINOGRAD", True)
    x_shape, w_shape, pad = case
    x, w = _rand(rng, x_shape, np.float32), _rand(rng, w_shape, np.float32)
    args = ((1, 1), (pad, pad), (1, 1), 1)
    out_hw = cpu._conv_geometry(x_shape, w_shape, *args[:3])
    assert cpu._winograd_fits(x_shape, w_shape, out_hw, *args, np.float32)
    y = cpu.conv2d_forward(x, w, *args)
    dy = _rand(rng, y.shape, np.float32)
    dx = cpu.conv2d_backward_input(dy, w, x_shape, *args)
    dw = cpu.conv2d_backward_weight(x, dy, w_shape, *args)
    x64, w64, dy64 = (a.astype(np.float64) for a in (x, w, dy))
    turned = np.ascontiguousarray(w64[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
    tiles = x_shape[0] * -(-out_hw[0] // 4) * -(-out_hw[1] // 4)
    for got, exact, scale, n in (
            (y, numpy_ref.conv2d_forward(x64, w64, *args), _wino_forward_scale(x, w, (pad,) * 2),
             x_shape[1]),
            (dx, numpy_ref.conv2d_backward_input(dy64, w64, x_shape, *args),
             _wino_forward_scale(dy, turned, (2 - pad,) * 2), w_shape[0]),
            (dw, numpy_ref.conv2d_backward_weight(x64, dy64, w_shape, *args),
             _wino_dw_scale(x, dy, (pad,) * 2), tiles + x_shape[0])):
        assert got.dtype == np.float32
        assert np.all(np.abs(got - exact) <= (n + 32) * 2.0**-24 * scale)
        assert np.sqrt(np.mean((got - exact) ** 2) / np.mean(exact ** 2)) < 1e-5


@uses_own_sgemm
def test_conv_winograd_bits_do_not_depend_on_threads_or_groups(monkeypatch, rng):
    """A tile is computed alone and the products' order is fixed by C: y and dx agree
    exactly across thread counts and group sizes. dw sums the tiles group by group, so its
    bits follow the group size (fixed by the shapes), never the thread count."""
    monkeypatch.setattr(cpu, "_WINOGRAD", True)
    x, w = _rand(rng, (7, 64, 9, 9), np.float32), _rand(rng, (80, 64, 3, 3), np.float32)
    dy = _rand(rng, (7, 80, 9, 9), np.float32)
    args = ((1, 1), (1, 1), (1, 1), 1)
    before = mg.get_num_threads()
    outs = []
    try:
        for n, tiles in ((1, 256), (2, 256), (3, 256), (2, 18), (3, 20)):  # groups of 7, 2, 2
            mg.set_num_threads(n)
            monkeypatch.setattr(cpu, "_WINO_TILES", tiles)
            outs.append((cpu.conv2d_forward(x, w, *args),
                         cpu.conv2d_backward_input(dy, w, x.shape, *args),
                         cpu.conv2d_backward_weight(x, dy, w.shape, *args)))
    finally:
        mg.set_num_threads(before)
    for k, (y, dx, dw) in enumerate(outs[1:], 1):
        np.testing.assert_array_equal(y, outs[0][0])
        np.testing.assert_array_equal(dx, outs[0][1])
        if k < 3:    # (the same groups as the first)
            np.testing.assert_array_equal(dw, outs[0][2])
    np.testing.assert_array_equal(outs[3][2], outs[4][2])   # groups of 2, on 2 and 3 threads


def test_conv_winograd_is_chosen_by_shape(monkeypatch):
    """Where it is on (AMD EPYC): 3 x 3 stride-1 float32 convs with at least 32 channels a
    side (multiples of 16), at most 2^17 channel pairs (2^18 for dw) and 1024 tiles an
    image; never float64, groups, strides, dilation, 5 x 5 or padding over 2."""
    monkeypatch.setattr(cpu, "_WINOGRAD", True)
    monkeypatch.setattr(cpu._gemm, "own_sgemm_state", lambda: (True, True))

    def fits(x_shape, w_shape, stride=1, pad=1, dil=1, groups=1, dtype=np.float32, dw=False):
        args = ((stride, stride), (pad, pad), (dil, dil))
        return cpu._winograd_fits(x_shape, w_shape, cpu._conv_geometry(x_shape, w_shape, *args),
                                  *args, groups, dtype, weight_grad=dw)
    assert fits((32, 64, 8, 8), (64, 64, 3, 3))             # ResNet-20's last stage
    assert fits((32, 64, 32, 32), (64, 64, 3, 3))
    assert fits((32, 256, 8, 8), (512, 256, 3, 3))          # 2^17 channel pairs
    assert fits((64, 32, 14, 14), (64, 32, 3, 3))           # cnn_mnist's second conv
    assert not fits((32, 512, 4, 4), (512, 512, 3, 3))      # 2^18 channel pairs: dw only
    assert fits((32, 512, 4, 4), (512, 512, 3, 3), dw=True)
    assert not fits((32, 512, 4, 4), (1024, 512, 3, 3), dw=True)
    assert not fits((32, 16, 32, 32), (16, 16, 3, 3))       # ResNet-20's first stage
    assert not fits((32, 72, 8, 8), (64, 72, 3, 3))         # 72 is no multiple of 16
    assert fits((2, 32, 128, 128), (32, 32, 3, 3))          # 1024 tiles an image
    assert not fits((2, 32, 129, 128), (32, 32, 3, 3))      # more: the GEMM path's scratch
    assert not fits((32, 64, 8, 8), (64, 64, 3, 3), dtype=np.float64)
    assert not fits((32, 64, 8, 8), (64, 32, 3, 3), groups=2)
    assert not fits((32, 64, 16, 16), (64, 64, 3, 3), stride=2)
    assert not fits((32, 64, 8, 8), (64, 64, 3, 3), dil=2, pad=2)
    assert not fits((32, 64, 8, 8), (64, 64, 5, 5), pad=2)
    assert not fits((32, 64, 8, 8), (64, 64, 3, 3), pad=3)
    monkeypatch.setattr(cpu, "_WINOGRAD", False)            # (Intel: not measured there)
    assert not fits((32, 64, 8, 8), (64, 64, 3, 3))


@uses_own_sgemm
def test_conv_winograd_kernel_refuses_bad_operands():
    x, y = np.zeros((2, 16, 6, 6), np.float32), np.zeros((2, 16, 6, 6), np.float32)
    U = np.zeros((36, 16, 16), np.float32)
    shared, per_thread = _conv.winograd_scratch(2, 1, 16, 16, 6, 6)
    work, sh = np.zeros((1, per_thread), np.float32), np.zeros(shared, np.float32)
    _conv.conv2d_winograd(x, U, y, 1, 1, 2, 1, sh, work)          # (fits: no error)
    with pytest.raises(ValueError, match="does not fit input"):
        _conv.conv2d_winograd(x, U, y, 0, 1, 2, 1, sh, work)
    with pytest.raises(ValueError, match="multiples of 16"):
        _conv.conv2d_winograd(np.zeros((2, 8, 6, 6), np.float32), U, y, 1, 1, 2, 1, sh, work)
    with pytest.raises(ValueError, match="too small"):
        _conv.conv2d_winograd(x, U, y, 1, 1, 2, 1, sh[:-1], work)
    with pytest.raises(ValueError, match="too small"):            # bands of 2 need more
        _conv.conv2d_winograd(x, U, y, 1, 1, 2, 2, sh, work)
    with pytest.raises(ValueError, match="dy .* does not fit input"):
        _conv.conv2d_winograd_dw(x, y, np.zeros((16, 16, 3, 3), np.float32), 0, 1, 2, 1, sh,
                                 work, np.zeros((36, 16, 16), np.float32))
    with pytest.raises(ValueError, match="expected a 3 x 3 weight"):
        _conv.winograd_filter(np.zeros((16, 16, 5, 5), np.float32), U, False)
    with pytest.raises(ValueError, match="expected \\(36, 32, 16\\)"):
        _conv.winograd_filter(np.zeros((16, 32, 3, 3), np.float32), U, False)


# ------------------------------------------------------------------ elementwise kernels

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 7, 65535, 65536, 200003])  # the last ones run threaded
def test_elementwise_kernels_match_numpy(rng, threads, dtype, n):
    x = _rand(rng, (n,), dtype)
    g = _rand(rng, (n,), dtype)
    x[::7] = 0
    x[1::11] = np.nan
    g[2::13] = np.nan
    y = cpu.relu(x)
    np.testing.assert_array_equal(y, numpy_ref.relu(x))          # NaN stays NaN
    np.testing.assert_array_equal(cpu.relu_backward(g, y), numpy_ref.relu_backward(g, y))
    a, b = g.copy(), g.copy()
    np.testing.assert_array_equal(cpu.add_inplace(a, x), numpy_ref.add_inplace(b, x))
    np.testing.assert_array_equal(cpu.add(g, x), numpy_ref.add(g, x))
    np.testing.assert_array_equal(cpu.add(g.reshape(-1, 1)[::1], x.reshape(-1, 1)),
                                  g.reshape(-1, 1) + x.reshape(-1, 1))


SGD_RULES = [dict(momentum=m, dampening=d, nesterov=nv, weight_decay=wd, maximize=mx)
             for m, d, nv in ((0.0, 0.0, False), (0.9, 0.0, False), (0.9, 0.0, True),
                              (0.7, 0.3, False))
             for wd in (0.0, 1e-3) for mx in (False, True)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [7, 200003])   # (the second runs threaded)
@pytest.mark.parametrize("rule", SGD_RULES, ids=lambda r: "-".join(
    k for k, v in r.items() if v))
def test_sgd_step_kernel_matches_the_reference_bit_for_bit(rng, threads, dtype, n, rule):
    """optim.SGD's update as one pass has the bits of the reference's NumPy ops, on the
    first step (the buffer made from the gradient) and the next ones, for every rule."""
    p = _rand(rng, (n,), dtype)
    p_ref, buf, buf_ref = p.copy(), None, None
    for _ in range(3):
        g = _rand(rng, (n,), dtype)
        g_before = g.copy()
        buf = cpu.sgd_step(p, g, buf, 0.05, **rule)
        buf_ref = numpy_ref.sgd_step(p_ref, g, buf_ref, 0.05, **rule)
        np.testing.assert_array_equal(p, p_ref)
        np.testing.assert_array_equal(g, g_before)           # (the gradient is only read)
        if rule["momentum"]:
            np.testing.assert_array_equal(buf, buf_ref)
        else:
            assert buf is None and buf_ref is None
    # a layout the kernel does not take goes to the reference
    q_ref = p[::2].copy()
    strided = np.repeat(q_ref, 2)[::2]      # (the same values, every other element)
    cpu.sgd_step(strided, g[::2], None, 0.05, **rule)
    numpy_ref.sgd_step(q_ref, g[::2], None, 0.05, **rule)
    np.testing.assert_array_equal(strided, q_ref)


def test_relu_gradient_is_zero_where_blocked_even_for_nan_upstream():
    """PyTorch's threshold_backward: a blocked position gets 0, whatever arrives."""
    x = mg.tensor(np.array([-1.0, 2.0, -3.0] * 30000), requires_grad=True)
    up = np.array([np.nan, 1.0, np.inf] * 30000)
    mg.relu(x).backward(mg.tensor(up))
    np.testing.assert_array_equal(x.grad.numpy()[:3], [0.0, 1.0, 0.0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("width", [10, 70])
def test_max_pool_ties_and_nans_match_the_reference(rng, dtype, width):
    """The branch-free fast path (windows inside the image) keeps the rules: the first
    maximum wins a tie (+0 and -0 tie), and a NaN wins its window (the last NaN, as
    PyTorch's CPU kernel), with its own bits. MaxPool2d(2) in float32 runs 16 windows at a
    time: width 70 gives two whole blocks and a masked one per row (10, one masked)."""
    x = rng.integers(0, 3, (6, 4, 8, width)).astype(dtype)   # many ties
    x[0, 0, 0, 1] = x[1, 2, 3, 3] = x[1, 2, 2, 2] = np.nan
    x[2, 1, 5, 4:6] = np.nan
    x[3, 0, 2:4, 6:8] = [[-0.0, 0.0], [np.nan, -np.nan]]
    x[4, 3] = np.where(rng.random((8, width)) < 0.1, -0.0, x[4, 3])
    x[5, 1, ::3] = -np.inf
    for k, s in [((2, 2), (2, 2)), ((3, 2), (1, 2)), ((2, 3), (2, 1))]:
        out_hw = ((8 - k[0]) // s[0] + 1, (width - k[1]) // s[1] + 1)
        y, idx = cpu.max_pool2d(x, k, s, (0, 0), (1, 1), out_hw)
        y_ref, idx_ref = numpy_ref.max_pool2d(x, k, s, (0, 0), (1, 1), out_hw)
        np.testing.assert_array_equal(idx, idx_ref)
        np.testing.assert_array_equal(y.view(np.uint8), y_ref.view(np.uint8))   # (bits)


@pytest.mark.parametrize("dtype", DTYPES)
def test_per_channel_add_matches_numpy(rng, threads, dtype):
    """A bias of shape (1, C, 1, 1) added to a large activation runs the threaded channel
    kernel; any other broadcast stays NumPy's; the result is the same either way."""
    a = _rand(rng, (16, 9, 30, 31), dtype)
    for b in (_rand(rng, (1, 9, 1, 1), dtype), _rand(rng, (9, 1, 1), dtype),
              _rand(rng, (1, 1, 30, 31), dtype), _rand(rng, (16, 9, 30, 31), dtype)):
        np.testing.assert_array_equal(cpu.add(a, b), a + b)
        np.testing.assert_array_equal(cpu.add(b, a), b + a)


_FORK_PROBE = """
import os
import minigrad as mg
import minigrad.nn as nn
mg.manual_seed(0)
net = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                    nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 16 * 16, 10))
x, y = mg.randn(32, 8, 32, 32), mg.randint(0, 10, (32,))

def step():
    loss = nn.functional.cross_entropy(net(x), y)
    loss.backward()
    return loss.item()

before = step()                   # the parent has run every threaded kernel
pid = os.fork()
if pid == 0:
    ok = abs(step() - before) < 1e-4 and mg.get_num_threads() == 1
    os._exit(0 if ok else 3)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status))
"""


def test_kernels_work_in_a_forked_child():
    """GNU libgomp's pool does not survive fork: a child that opened a parallel region
    would hang forever. Forked children run the kernels serially instead (as PyTorch)."""
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-c", _FORK_PROBE], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0"], r.stdout


# ---------------------------------------------------------------- the adaptive team

from minigrad._kernels import _threads  # noqa: E402


@pytest.fixture
def four_threads():
    before, adaptive = mg.get_num_threads(), _threads.adaptive_state()["adaptive"]
    mg.set_num_threads(4)
    yield
    mg.set_num_threads(before)
    _threads.set_adaptive(adaptive)


def test_the_team_halves_on_contention_and_grows_back_after_a_backoff(four_threads):
    """Window ends (time s, involuntary switches so far), 0.1 s apart. A window is contended
    at 40 switches/s per running thread (16 in a window for a team of 4, 8 for 2, 4 for
    1); two contended windows in a row halve the team, and so does one right after it
    grew; the back-off before growing starts at 0.2 s and doubles each halving; a clean
    window at full strength resets it."""
    ends = [(0.0, 0),       # (the first window opens)                 4
            (0.1, 2),       # clean                                    4
            (0.2, 22),      # contended once                           4
            (0.3, 42),      # twice: halve; no growing before 0.5      2
            (0.4, 52),      # contended once (8 for a team of 2)       2
            (0.5, 62),      # twice: halve; none before 0.5 + 0.4      1
            (0.6, 63),      # clean, within the back-off               1
            (1.0, 64),      # clean, past it: grow                     2
            (1.1, 74),      # contended right after growing: halve;    1
                            #   none before 1.1 + 0.8
            (1.5, 75),      # clean, within the back-off               1
            (2.0, 76),      # clean, past it: grow                     2
            (2.1, 77),      # clean: grow                              4
            (2.2, 78),      # clean at full strength: back-off back to 0.2  4
            (2.3, 98),      # contended once                           4
            (2.4, 99),      # clean: no halving                        4
            (2.5, 119),     # contended once                           4
            (2.6, 139)]     # twice: halve, none before 2.6 + 0.2      2
    assert _threads._simulate(ends) == [4, 4, 4, 2, 2, 1, 1, 2, 1, 1, 2, 4, 4, 4, 4, 4, 2]
    # a long quiet stretch between two kernel calls is one window with a low rate
    assert _threads._simulate([(0.0, 0), (10.0, 100)]) == [4, 4]


def test_results_do_not_depend_on_how_many_threads_run_the_split(rng, four_threads):
    """The adaptive team only changes how many threads work through a fixed split: every
    kernel gives bit-identical results with the whole team or with one thread."""
    x = _rand(rng, (64, 6, 20, 20), np.float32)
    x2 = _rand(rng, (4096, 40), np.float32)
    w = _rand(rng, (8, 6, 3, 3), np.float32)
    a, b = _rand(rng, (300, 200), np.float32), _rand(rng, (200, 250), np.float32)
    conv = ((1, 1), (1, 1), (1, 1), 1)

    def run():
        y = cpu.conv2d_forward(x, w, *conv)
        return [*cpu.channel_moments(x), *cpu.channel_moments(x2),
                *cpu.channel_affine_backward(x, x, x[0, :, 0, 0]), y,
                cpu.conv2d_backward_input(y, w, x.shape, *conv),
                cpu.conv2d_backward_weight(x, y, w.shape, *conv), cpu.matmul(a, b),
                cpu.max_pool2d(x, (2, 2), (2, 2), (0, 0), (1, 1), (10, 10))[0]]

    _threads._pin_team(mg.get_num_threads())   # the whole team, even on a busy machine
    full = run()
    _threads._pin_team(1)
    alone = run()
    for got, want in zip(alone, full):
        np.testing.assert_array_equal(got, want)


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) > 8,
                    reason="needs Linux and at most 8 cores to fill with busy processes")
def test_a_busy_machine_shrinks_the_team(tmp_path):
    """With every core kept busy by other processes, a training loop's parallel regions
    see our threads preempted, and the team shrinks to one thread."""
    import subprocess
    import sys
    cores = len(os.sched_getaffinity(0))
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(cores)]
    try:
        code = ("import time, minigrad as mg\n"
                "from minigrad._kernels import _threads\n"
                "mg.set_num_threads(2)\n"
                "x = mg.randn(64, 32, 32, 32)\n"
                "bn = mg.nn.BatchNorm2d(32)\n"
                "end = time.perf_counter() + 3\n"
                "while time.perf_counter() < end and _threads.adaptive_state()['shrinks'] == 0:\n"
                "    bn(x).sum()\n"
                "print(_threads.adaptive_state())\n")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=120)
    finally:
        for s in spinners:
            s.kill()
            s.wait()
    assert out.returncode == 0, out.stderr
    state = eval(out.stdout)
    assert state["shrinks"] >= 1 and state["contended"] >= 1, state


# ------------------------------------------------------------------ the LSTM cell

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lead,H", [((1,), 1), ((3,), 5), ((2, 3), 7), ((200,), 37)])
@pytest.mark.parametrize("grads", ["both", "h", "c"])
def test_lstm_gates_kernels_match_numpy(rng, threads, dtype, lead, H, grads):
    """Both passes against the reference, with pre-activations far into the saturated
    tails (the polynomial exp's clamps), +-inf and NaN among them; (200, 37) runs threaded."""
    gates = (_rand(rng, lead + (4 * H,), dtype) * 8)
    flat = gates.reshape(-1)
    flat[::17] *= 30
    flat[5::41] = np.inf
    flat[7::43] = -np.inf
    flat[11::97] = np.nan
    c_prev = _rand(rng, lead + (H,), dtype)
    with np.errstate(invalid="ignore"):
        got = cpu.lstm_gates_forward(gates, c_prev)
        want = numpy_ref.lstm_gates_forward(gates, c_prev)
        for a, b in zip(got, want):
            assert a.dtype == dtype and a.shape == b.shape
            np.testing.assert_allclose(a, b, **TOL[dtype])
        gh = _rand(rng, lead + (H,), dtype) if grads != "c" else None
        gc = _rand(rng, lead + (H,), dtype) if grads != "h" else None
        act, tc = want[2:]
        for a, b in zip(cpu.lstm_gates_backward(gh, gc, act, tc, c_prev),
                        numpy_ref.lstm_gates_backward(gh, gc, act, tc, c_prev)):
            assert a.dtype == dtype and a.shape == b.shape
            np.testing.assert_allclose(a, b, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_lstm_gates_transcendentals_are_accurate(dtype):
    """The kernel's sigmoid and tanh over a dense grid (the tails and zero included),
    against NumPy's in float64: within 4 ulp."""
    x = np.concatenate([np.linspace(-120, 120, 48001), np.linspace(-1, 1, 48001),
                        np.geomspace(1e-30, 1e-2, 2000)]).astype(dtype)
    n = x.size
    big = np.full(n, 1e4, dtype)
    gates = np.stack([x, -big, x, big], 1).reshape(n, 4)   # (i, f, g, o) with H = 1
    act = cpu.lstm_gates_forward(gates, np.zeros((n, 1), dtype))[2]
    x64 = x.astype(np.float64)
    tol = dict(rtol=4 * np.finfo(dtype).eps, atol=np.finfo(dtype).tiny)   # (subnormals: absolute)
    np.testing.assert_allclose(act[:, 0], 1 / (1 + np.exp(-x64)), **tol)
    np.testing.assert_allclose(act[:, 2], np.tanh(x64), **tol)


def test_lstm_gates_kernels_refuse_bad_input():
    """A clear error naming the op, the shapes or the dtypes; never a crash."""
    g32, c32 = np.zeros((2, 8), np.float32), np.zeros((2, 2), np.float32)
    for backend in (cpu, numpy_ref):
        with pytest.raises(ValueError, match=r"lstm_gates_forward.*\(2, 7\).*\(2, 2\)"):
            backend.lstm_gates_forward(np.zeros((2, 7), np.float32), c32)
        with pytest.raises(ValueError, match=r"lstm_gates_forward.*\(3, 8\)"):
            backend.lstm_gates_forward(np.zeros((3, 8), np.float32), c32)
        with pytest.raises(ValueError, match="lstm_gates_forward"):
            backend.lstm_gates_forward(np.zeros((), np.float32), np.zeros((), np.float32))
        with pytest.raises(TypeError, match=r"lstm_gates_forward.*float64"):
            backend.lstm_gates_forward(g32.astype(np.float64), c32)
        with pytest.raises(TypeError, match=r"lstm_gates_forward.*int64"):
            backend.lstm_gates_forward(np.zeros((2, 8), np.int64), np.zeros((2, 2), np.int64))
        with pytest.raises(ValueError, match=r"lstm_gates_backward.*gh \(2, 3\)"):
            backend.lstm_gates_backward(np.zeros((2, 3), np.float32), None, g32, c32, c32)
        with pytest.raises(TypeError, match=r"lstm_gates_backward.*gc float64"):
            backend.lstm_gates_backward(None, c32.astype(np.float64), g32, c32, c32)
        with pytest.raises(ValueError, match=r"lstm_gates_backward.*tc \(2, 8\)"):
            backend.lstm_gates_backward(c32, None, g32, g32, c32)


# ------------------------------------------------------------------ a whole LSTM layer

def _lstm_layer_case(rng, T, B, H, dtype):
    gi = _rand(rng, (T, B, 4 * H), dtype)
    h0, c0 = _rand(rng, (B, H), dtype), _rand(rng, (B, H), dtype)
    w = _rand(rng, (4 * H, H), dtype) * 0.2
    return gi, h0, c0, w


def _lstm_layer_grads(rng, T, B, H, dtype, which):
    """The gradients of (hs, h_T, c_T), those not named in ``which`` None."""
    shapes = {"hs": (T, B, H), "h": (B, H), "c": (B, H)}
    return [_rand(rng, shapes[k], dtype) if k in which else None for k in ("hs", "h", "c")]


@uses_own_sgemm
@pytest.mark.parametrize("T,B,H", [(1, 64, 64), (6, 64, 128), (3, 33, 96), (4, 40, 256)])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
def test_lstm_layer_kernel_is_the_step_loop_bit_for_bit(rng, threads, T, B, H, reverse):
    """The fused float32 layer (each thread a block of rows through every step) gives the
    bits of the step loop on the same backend (one matmul and one cell kernel per step),
    forward and backward, for every combination of arriving gradients; B = 33 splits
    unevenly, H = 256 reads W_hh in place in the backward."""
    from minigrad._kernels import _recurrent
    assert _recurrent.layer_fits(B, H)
    gi, h0, c0, w = _lstm_layer_case(rng, T, B, H, np.float32)
    got = cpu.lstm_layer_forward(gi, h0, c0, w, reverse)
    want = numpy_ref.lstm_layer_forward(gi, h0, c0, w, reverse, be=cpu)
    for a, b in zip(got[:3] + got[3], want[:3] + want[3]):
        assert a.dtype == np.float32 and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    for which in ("hs", "h", "c", "hs h c", "hs c", ""):
        grads = _lstm_layer_grads(rng, T, B, H, np.float32, which.split())
        for a, b in zip(cpu.lstm_layer_backward(*grads, h0, c0, w, got[3], reverse),
                        numpy_ref.lstm_layer_backward(*grads, h0, c0, w, want[3], reverse,
                                                      be=cpu)):
            assert a.dtype == np.float32 and a.shape == b.shape
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype,B", [(np.float64, 64), (np.float32, 4)],
                         ids=["float64", "small-batch"])
def test_lstm_layer_outside_the_fused_kernel_matches_the_reference(rng, dtype, B):
    """float64 and batches our GEMM does not take run the step loop on the CPU kernels:
    against the reference backend's own loop."""
    from minigrad._kernels import _recurrent
    T, H = 5, 64
    assert dtype == np.float64 or not _recurrent.layer_fits(B, H)
    gi, h0, c0, w = _lstm_layer_case(rng, T, B, H, dtype)
    got = cpu.lstm_layer_forward(gi, h0, c0, w, True)
    want = numpy_ref.lstm_layer_forward(gi, h0, c0, w, True)
    for a, b in zip(got[:3] + got[3], want[:3] + want[3]):
        np.testing.assert_allclose(a, b, **TOL[dtype])
    grads = _lstm_layer_grads(rng, T, B, H, dtype, ["hs", "c"])
    for a, b in zip(cpu.lstm_layer_backward(*grads, h0, c0, w, got[3], True),
                    numpy_ref.lstm_layer_backward(*grads, h0, c0, w, want[3], True)):
        np.testing.assert_allclose(a, b, **TOL[dtype])


def test_lstm_layer_kernels_refuse_bad_input():
    """The compiled entries name the op and the operand whose shape is wrong."""
    from minigrad._kernels import _recurrent
    T, B, H = 2, 3, 4
    z = lambda *shape: np.zeros(shape, np.float32)   # noqa: E731
    good = [z(T, B, 4 * H), z(B, H), z(B, H), z(H, 4 * H), z(B, 4 * H), z(T, B, H), z(T, B, H),
            z(T, B, 4 * H), z(T, B, H)]
    bad = list(good)
    bad[3] = z(4 * H, H)
    with pytest.raises(ValueError, match=r"lstm_layer_forward: wt has shape \(16, 4\), "
                                         r"expected \(4, 16\)"):
        _recurrent.layer_forward(*bad, False)
    with pytest.raises(ValueError, match="lstm_layer_forward: empty"):
        _recurrent.layer_forward(z(0, B, 4 * H), *good[1:5], z(0, B, H), z(0, B, H),
                                 z(0, B, 4 * H), z(0, B, H), False)
    back = [z(T, B, H), None, None, z(T, B, 4 * H), z(T, B, H), z(T, B, H), z(B, H),
            z(4 * H, H), z(T, B, 4 * H), z(B, H), z(B, H), z(B, H)]
    back[0] = z(T + 1, B, H)
    with pytest.raises(ValueError, match=r"lstm_layer_backward: g_hs has shape \(3, 3, 4\)"):
        _recurrent.layer_backward(*back, False)
    with pytest.raises(ValueError, match="dtype mismatch|float"):
        _recurrent.layer_forward(good[0].astype(np.float64), *good[1:], False)


# ---------------------------------------------------------------- dropout's mask

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1,), (2,), (7,), (3, 5), (64, 28, 65), (300001,)])
def test_dropout_mask_is_the_references_bit_for_bit(threads, dtype, shape):
    like = np.empty(shape, dtype)
    for p, seed in ((0.1, 0), (0.5, 12345), (0.9, 2 ** 64 - 1)):
        got = cpu.dropout_mask(like, p, seed)
        want = numpy_ref.dropout_mask(like, p, seed)
        assert got.shape == shape and got.dtype == dtype
        np.testing.assert_array_equal(got, want)
        assert set(np.unique(got)) <= {0, dtype(1 / (1 - p))}


def test_dropout_mask_keeps_one_minus_p_and_seeds_differ():
    like = np.empty(1_000_000, np.float32)
    for p in (0.1, 0.5, 0.8):
        keep = cpu.dropout_mask(like, p, 7) > 0
        # binomial standard deviation at n = 1e6 is at most 5e-4: 6 of them
        assert abs(keep.mean() - (1 - p)) < 3e-3, (p, keep.mean())
        # neighbours (one draw's two halves) and runs are not correlated
        assert abs(np.corrcoef(keep[:-1], keep[1:])[0, 1]) < 5e-3
    a, b = (cpu.dropout_mask(like, 0.5, s) > 0 for s in (1, 2))
    assert abs((a == b).mean() - 0.5) < 3e-3


@pytest.mark.parametrize("module", [cpu, numpy_ref], ids=["cpu", "reference"])
def test_dropout_mask_bad_input(module):
    with pytest.raises(TypeError,
                       match=r"dropout_mask: expected a float32 or float64 array, got int64"):
        module.dropout_mask(np.empty(4, np.int64), 0.5, 1)
    for p in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"dropout_mask: p must be in \(0, 1\)"):
            module.dropout_mask(np.empty(4, np.float32), p, 1)
    for seed in (-1, 2 ** 64):
        with pytest.raises(ValueError, match=r"dropout_mask: seed must be in \[0, 2\*\*64\)"):
            module.dropout_mask(np.empty(4, np.float32), 0.5, seed)
