# cython: language_level=3
"""Threaded elementwise passes over contiguous arrays of one float dtype.

NumPy's ufuncs run on one thread; for activation-sized arrays (>= 64k elements) these
loops split the work over the OpenMP threads. Smaller arrays stay with NumPy (the backend
decides), where a parallel region would cost more than it saves.
"""
from cython.parallel cimport prange
from minigrad._kernels._simd cimport mg_relu_backward_d, mg_relu_backward_f
from minigrad._kernels._threads cimport team, threads_for

ctypedef fused real:
    float
    double


def _check(str op, a, b):
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"{op}: arrays of {a.shape[0]} and {b.shape[0]} elements")


def relu(const real[::1] x, real[::1] y):
    """y = x where x >= 0 (NaN stays NaN, as in PyTorch), else 0."""
    cdef Py_ssize_t n = x.shape[0], i
    cdef real v
    _check("relu", x, y)
    with nogil:
        for i in prange(n, schedule="static", num_threads=team(threads_for(n))):
            v = x[i]
            y[i] = 0 if v < 0 else v


def relu_backward(const real[::1] g, const real[::1] y, real[::1] dx):
    """dx = g where the output y > 0, else 0 (also where g is NaN, as in PyTorch)."""
    cdef Py_ssize_t n = g.shape[0], b, lo, nb
    cdef int nt = threads_for(n)
    _check("relu_backward", g, y)
    _check("relu_backward", g, dx)
    if n == 0:
        return
    nb = 4 * nt   # a few contiguous blocks per thread, each one vectorized loop
    with nogil:
        for b in prange(nb, schedule="static", num_threads=team(nt)):
            lo = b * n // nb
            if real is float:
                mg_relu_backward_f(&g[lo], &y[lo], &dx[lo], (b + 1) * n // nb - lo)
            else:
                mg_relu_backward_d(&g[lo], &y[lo], &dx[lo], (b + 1) * n // nb - lo)


def add(const real[::1] a, const real[::1] b, real[::1] out):
    """out = a + b."""
    cdef Py_ssize_t n = a.shape[0], i
    _check("add", a, b)
    _check("add", a, out)
    with nogil:
        for i in prange(n, schedule="static", num_threads=team(threads_for(n))):
            out[i] = a[i] + b[i]


def add_inplace(real[::1] a, const real[::1] b):
    """a += b."""
    cdef Py_ssize_t n = a.shape[0], i
    _check("add_inplace", a, b)
    with nogil:
        for i in prange(n, schedule="static", num_threads=team(threads_for(n))):
            a[i] += b[i]


def sgd_step(real[::1] p, const real[::1] g, real[::1] buf, double lr, double momentum,
             double dampening, bint nesterov, double weight_decay, bint maximize, bint first):
    """optim.SGD's update of p in place, elementwise in the reference's order (numpy_ref's
    sgd_step), each scalar rounded to ``real`` first as NumPy does with a Python float:
    g' = -g if maximize; + wd * p; b = g' on the ``first`` step, else b * m + (1 - d) g'
    (g' itself when d = 0), stored in buf; g' + m * b if nesterov else b; p - lr * that.
    Without momentum ``buf`` is not touched (pass p)."""
    cdef Py_ssize_t n = p.shape[0], i
    cdef real lr_ = <real>lr, m = <real>momentum, d = <real>(1 - dampening)
    cdef real wd = <real>weight_decay, v, b
    cdef bint damp = dampening != 0, decay = weight_decay != 0, use_m = momentum != 0
    _check("sgd_step", p, g)
    _check("sgd_step", p, buf)
    with nogil:
        for i in prange(n, schedule="static", num_threads=team(threads_for(n))):
            v = -g[i] if maximize else g[i]
            if decay:
                v = v + wd * p[i]
            if use_m:
                if first:
                    b = v
                else:
                    b = buf[i] * m
                    b = b + (d * v if damp else v)
                buf[i] = b
                v = v + m * b if nesterov else b
            p[i] = p[i] - lr_ * v
