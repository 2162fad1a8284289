"""The backend contract: every name a backend module provides, and what it must do.

A backend is a module. Ops find it from the array they hold (``backend.of(array)``) and
call only these names, so a new array library (CuPy) or a new kernel set is one module
that provides all of them. ``reference`` implements each with the array namespace ``xp``
of its inputs: it is the oracle the compiled kernels are tested against, the fallback
when they are not built, and the base a GPU backend overrides piece by piece.

Shared rules: inputs are arrays of the backend's type; kernels may assume float32 or
float64 where they say "float" and raise ``TypeError`` naming the op and dtype otherwise,
``ValueError`` naming the op and shapes on shape mismatches, before any compiled code
runs. Outputs are fresh arrays of the input's dtype on the input's device unless ``out``
is given. Per-channel means "over every axis but 1 of an (N, C, ...) array".
"""

CONTRACT = {
    # -- the array namespace and policy
    "xp": "the array namespace (numpy, cupy, ...) that ops use for everything else",
    "name": "a short name for messages ('cpu', 'reference', 'cuda')",
    "view": "view(a, shape): a reshaped without copying, or ValueError naming view() when "
            "the strides do not allow it (PyTorch's view rule)",
    "is_channel_reduction": "is_channel_reduction(a, dims): True when sum/mean/var of a "
                            "over the sorted tuple dims should run on the channel kernels",
    # -- the device
    "device_type": "the device type its arrays live on ('cpu', 'cuda')",
    "device_index": "device_index(a): which device of that type holds a (None on the host)",
    "to_host": "to_host(a): a copied to a host NumPy array, synchronizing (the host's own "
               "arrays are returned as they are)",
    "from_host": "from_host(a, index): a (host, or this backend's type on another device) "
                 "copied onto device ``index``",
    "generator": "generator(seed, index): a random generator drawing on device ``index`` "
                 "(NumPy's Generator API)",
    "synchronize": "synchronize(): wait for the device's queued work",
    # -- linear algebra
    "matmul": "matmul(a, b, out=None, accumulate=False): NumPy's matmul for operands with "
              ">= 2 dims (batch dims broadcast); into out (or added to it when accumulate)",
    "erf": "erf(x): the error function, elementwise",
    "erfinv": "erfinv(x): the inverse error function, elementwise (+-inf at +-1, NaN outside)",
    "lgamma": "lgamma(x): log |Gamma(x)|, elementwise",
    # -- elementwise, threaded where it pays
    "relu": "relu(x): max(x, 0), NaN stays NaN",
    "relu_backward": "relu_backward(g, y): g where the ReLU output y > 0, else 0",
    "add": "add(a, b): a + b with NumPy's broadcasting (threaded for a per-channel b)",
    "add_inplace": "add_inplace(a, b): a += b for equal shapes; returns a",
    "sgd_step": "sgd_step(p, grad, buf, lr, momentum, dampening, nesterov, weight_decay, "
                "maximize): PyTorch's SGD update of p in place (optim.SGD's rule, each op "
                "rounded as NumPy rounds it: Python floats at the arrays' precision); returns "
                "the momentum buffer, buf updated in place or a new one when buf is None "
                "(None without momentum)",
    "dropout_mask": "dropout_mask(like, p, seed): an array of like's shape, dtype and device, "
                    "1 / (1 - p) where SplitMix64's draw from seed keeps the element "
                    "(numpy_ref's bit-exact rule), else 0; 0 < p < 1, seed in [0, 2**64)",
    # -- the LSTM cell's elementwise part (gates (..., 4H) in PyTorch's order i, f, g, o)
    "lstm_gates_forward": "lstm_gates_forward(gates, c_prev): (h, c, act, tc) with act = "
                          "(sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)) of gates' shape, "
                          "c = f c_prev + i g, tc = tanh(c), h = o tc",
    "lstm_gates_backward": "lstm_gates_backward(gh, gc, act, tc, c_prev): (dgates, dc_prev) "
                           "from the gradients of h and c (either may be None: zero)",
    "lstm_layer_forward": "lstm_layer_forward(gi, h0, c0, w_hh, reverse=False): (hs, h_T, "
                          "c_T, saved) of an LSTM layer over gi (T, B, 4H), the input "
                          "projection with both biases, from (h0, c0) (B, H) with W_hh "
                          "(4H, H), each step h W_hh^T + gi[t] and the cell, from the last "
                          "step when reverse; saved: what lstm_layer_backward reads",
    "lstm_layer_backward": "lstm_layer_backward(g_hs, g_h, g_c, h0, c0, w_hh, saved, "
                           "reverse=False): (dgates (T, B, 4H), dh0, dc0) from the "
                           "gradients of hs, h_T and c_T (any may be None: zero)",
    # -- per-channel primitives (BatchNorm and friends)
    "channel_moments": "channel_moments(x): per-channel (mean, biased variance), each (C,), "
                       "never as E[x^2] - E[x]^2",
    "channel_sum": "channel_sum(x): per-channel sum, shape (C,)",
    "channel_affine": "channel_affine(x, scale, shift, center=None, out=None): "
                      "(x - center[c]) * scale[c] + shift[c]; added into out when given",
    "channel_affine_backward": "channel_affine_backward(g, x, scale, center=None, want_dx=True): "
                               "(g * scale[c] or None, per-channel sum(g), per-channel "
                               "sum(g * (x - center[c])))",
    # -- convolution (NCHW, weights (K, C/groups, kh, kw))
    "conv2d_forward": "conv2d_forward(x, w, stride, padding, dilation, groups): y (N, K, Ho, Wo)",
    "conv2d_backward_input": "conv2d_backward_input(dy, w, x_shape, stride, padding, dilation, "
                             "groups): dx of x_shape",
    "conv2d_backward_weight": "conv2d_backward_weight(x, dy, w_shape, stride, padding, "
                              "dilation, groups): dw of w_shape",
    # -- pooling over the last two axes
    "max_pool2d": "max_pool2d(x, kernel, stride, padding, dilation, out_hw): (out, index) "
                  "with index the flat ih * W + iw each output took (int64)",
    "max_pool2d_backward": "max_pool2d_backward(g, index, x_shape, window): g scattered "
                           "(added) into the recorded positions; window = (kernel, stride, "
                           "padding, dilation) of the pool, for backends that gather instead",
    "avg_pool2d": "avg_pool2d(x, windows): window sums / divisors; windows = (hs, he, ws, "
                  "we, div) from the caller",
    "avg_pool2d_backward": "avg_pool2d_backward(g, windows, x_shape): the adjoint",
}


# the entries that say where a backend's arrays live (the rest are its kernels)
DEVICE_ENTRIES = ("device_type", "device_index", "to_host", "from_host", "generator",
                  "synchronize")


def missing(module):
    """The contract's names that ``module`` does not provide (empty when it conforms)."""
    return [name for name in CONTRACT if not hasattr(module, name)]
