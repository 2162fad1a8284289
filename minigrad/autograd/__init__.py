"""Tape-based reverse-mode autograd: ``grad``, ``Function``, grad mode, gradient checks."""
from minigrad.autograd.engine import backward, grad
from minigrad.autograd.anomaly_mode import (detect_anomaly, is_anomaly_check_nan_enabled,
                                            is_anomaly_enabled, set_detect_anomaly)
from minigrad.autograd import function
from minigrad.autograd.function import Function
from minigrad.autograd.grad_mode import (enable_grad, inference_mode, is_grad_enabled, no_grad,
                                         set_grad_enabled)
from minigrad.autograd.variable import Variable
from minigrad.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from minigrad.autograd import (forward_ad, functional, graph, profiler,  # noqa: E402
                               profiler_util)  # (torch's submodules)
