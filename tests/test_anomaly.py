"""Anomaly detection (``autograd.detect_anomaly``) against PyTorch: the node named when a
backward rule returns NaN, the forward stack that is printed, the mode's switches, and
that with the mode off nothing is kept or checked."""
import inspect
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import anomaly_mode

torch = pytest.importorskip("torch")


def _line(marker):
    """The source line of this file that holds ``marker`` (the op a case's node came from)."""
    src = inspect.getsource(inspect.getmodule(_line)).splitlines()
    return next(s.strip() for s in src if marker in s and "_line(" not in s)


def _anomaly(lib, case):
    """(the RuntimeError's text or None, the 'Error detected' warning or None) from running
    ``case(lib)`` under ``lib.autograd.detect_anomaly()``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        error = None
        try:
            with lib.autograd.detect_anomaly():
                case(lib)
        except RuntimeError as e:
            error = str(e)
    found = [str(w.message) for w in caught if "Error detected" in str(w.message)]
    return error, (found[0] if found else None)


def sqrt_at_zero(lib):
    x = lib.tensor([0.], requires_grad=True)
    (x.sqrt() * 0).sum().backward()                       # sqrt-case


def log_at_zero(lib):
    x = lib.tensor([0., 2.], requires_grad=True)
    (x.log() * 0).sum().backward()                        # log-case


def rsqrt_of_negative(lib):
    x = lib.tensor([-1.], requires_grad=True)
    (x.rsqrt() * 0).sum().backward()                      # rsqrt-case


def div_by_zero(lib):
    x = lib.tensor([0.], requires_grad=True)
    (x / x).sum().backward()                              # div-case


def sqrt_create_graph(lib):
    x = lib.tensor([0.], requires_grad=True)
    y = (x.sqrt() * 0).sum()                              # create-graph-case
    lib.autograd.grad(y, x, create_graph=True)


@pytest.mark.parametrize("case, node, marker", [
    (sqrt_at_zero, "SqrtBackward0", "sqrt-case"),
    (log_at_zero, "LogBackward0", "log-case"),
    (rsqrt_of_negative, "RsqrtBackward0", "rsqrt-case"),
    (div_by_zero, "DivBackward0", "div-case"),
    (sqrt_create_graph, "SqrtBackward0", "create-graph-case"),
])
def test_the_error_and_the_stack_are_torchs(case, node, marker):
    error, stack = _anomaly(mg, case)
    t_error, t_stack = _anomaly(torch, case)
    assert error == t_error
    assert node in error
    assert stack.startswith(f"Error detected in {node}. Traceback of forward call that "
                            f"caused the error:\n")
    # the last frame printed is the user's line that made the op, as in torch
    assert stack.rstrip().splitlines()[-1].strip() == _line(marker)
    assert _line(marker) in t_stack


def test_nan_in_batch_norm_eval_with_a_negative_running_variance():
    """BatchNorm is a composite here (torch's fused node is NativeBatchNormBackward0): the
    node named is the composite's affine primitive, and the stack runs through batch_norm
    to the user's line."""
    def case(lib):
        x = lib.tensor(np.ones((4, 2)), requires_grad=True)
        rm, rv = lib.tensor(np.zeros(2)), lib.tensor(np.array([-1., 1.]))
        w = lib.tensor(np.ones(2), requires_grad=True)
        y = lib.nn.functional.batch_norm(x, rm, rv, w, None, training=False)  # bn-case
        (y * 0).sum().backward()
    error, stack = _anomaly(mg, case)
    assert error == "Function 'ChannelAffineBackward0' returned nan values in its 0th output."
    assert "returned nan values in its 0th output" in _anomaly(torch, case)[0]
    assert _line("bn-case") in stack
    assert "normalization.py" in stack.rstrip().splitlines()[-2]


def test_nan_inside_a_composite_layer_norm():
    def case(lib):
        x = lib.zeros(4, 3, requires_grad=True)
        lib.nn.functional.layer_norm(x, (3,), eps=0.).sum().backward()  # ln-case
    error, stack = _anomaly(mg, case)
    assert error == "Function 'RsqrtBackward0' returned nan values in its 0th output."
    assert "returned nan values in its 0th output" in _anomaly(torch, case)[0]
    assert _line("ln-case") in stack
    assert "in layer_norm" in stack


def test_a_function_node_is_named_as_torch_names_it():
    def case(lib):
        class Bad(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 1

            @staticmethod
            def backward(ctx, g):
                return g * float("nan")
        Bad.apply(lib.ones(2, requires_grad=True)).sum().backward()  # fn-case
    error, stack = _anomaly(mg, case)
    assert error == _anomaly(torch, case)[0] == \
        "Function 'BadBackward' returned nan values in its 0th output."
    assert _line("fn-case") in stack


@pytest.mark.filterwarnings("ignore:Anomaly Detection has been enabled")
def test_an_error_in_a_rule_warns_with_the_forward_stack():
    class Broken(mg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            raise RuntimeError("broken rule")
    with pytest.warns(UserWarning, match="Error detected in BrokenBackward"), \
            pytest.raises(RuntimeError, match="broken rule"), \
            mg.autograd.detect_anomaly():
        Broken.apply(mg.ones(2, requires_grad=True)).sum().backward()


def test_off_nan_gradients_just_flow_as_in_torch():
    for lib in (mg, torch):
        x = lib.tensor([0., 4.], requires_grad=True)
        with np.errstate(all="ignore"):
            (x.sqrt() * 0).sum().backward()
        assert np.isnan(np.asarray(x.grad.detach())).tolist() == [True, False]


def test_check_nan_false_does_not_raise():
    x = mg.tensor([0.], requires_grad=True)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        with mg.autograd.detect_anomaly(check_nan=False):
            assert mg.autograd.is_anomaly_enabled()
            assert not mg.autograd.is_anomaly_check_nan_enabled()
            (x.sqrt() * 0).sum().backward()
    assert np.isnan(x.grad.numpy()).all()


def test_a_node_made_with_the_mode_off_has_no_forward_information():
    x = mg.tensor([0.], requires_grad=True)
    y = (x.sqrt() * 0).sum()
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        with pytest.raises(RuntimeError, match="SqrtBackward0"), mg.autograd.detect_anomaly():
            y.backward()
    assert any("No forward pass information available" in str(w.message) for w in caught)


def test_off_by_default_and_nodes_carry_nothing():
    assert not mg.autograd.is_anomaly_enabled() and not mg.is_anomaly_enabled()
    assert mg.autograd.is_anomaly_check_nan_enabled()
    assert torch.is_anomaly_enabled() is False
    x = mg.ones(3, requires_grad=True)
    y = (x.exp() * 2).sum()
    node = y.grad_fn
    while node is not None:
        assert "forward_stack" not in node.__dict__
        node = node.next[0] if type(node.next[0]) is mg.autograd.graph.Node else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with mg.autograd.detect_anomaly():
            assert "forward_stack" in (x * 2).grad_fn.__dict__


def test_the_modes_nest_and_restore_as_torchs():
    for lib, is_on, is_check in ((mg, mg.autograd.is_anomaly_enabled,
                                  mg.autograd.is_anomaly_check_nan_enabled),
                                 (torch, torch.is_anomaly_enabled,
                                  torch.is_anomaly_check_nan_enabled)):
        seen = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with lib.autograd.detect_anomaly(check_nan=False):
                seen.append((is_on(), is_check()))
                with lib.autograd.set_detect_anomaly(False):
                    seen.append((is_on(), is_check()))
                    with lib.autograd.detect_anomaly():
                        seen.append((is_on(), is_check()))
                    seen.append((is_on(), is_check()))
                seen.append((is_on(), is_check()))
            seen.append((is_on(), is_check()))
            lib.autograd.set_detect_anomaly(True, check_nan=False)   # as a function
            seen.append((is_on(), is_check()))
            lib.autograd.set_detect_anomaly(False)
            seen.append((is_on(), is_check()))
        assert seen == [(True, False), (False, True), (True, True), (False, True),
                        (True, False), (False, True), (True, False), (False, True)], lib


def test_detect_anomaly_warns_that_it_is_on_and_restores_after_an_error():
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        with pytest.raises(ValueError), mg.autograd.detect_anomaly():
            raise ValueError
    assert not mg.autograd.is_anomaly_enabled()


@pytest.mark.filterwarnings("ignore:Anomaly Detection has been enabled")
def test_detect_anomaly_as_a_decorator():
    @mg.autograd.detect_anomaly()
    def step():
        return mg.autograd.is_anomaly_enabled()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert step() and not mg.autograd.is_anomaly_enabled()


def test_the_gradients_are_unchanged_under_the_mode():
    """Anomaly mode offers no buffer to add into (each result is checked on its own):
    the gradients are the same as without it."""
    def grads():
        mg.manual_seed(0)
        lin = mg.nn.Linear(5, 4)
        x = mg.randn(3, 5, requires_grad=True)
        (lin(x).tanh() * lin(x).sigmoid()).sum().backward()
        return [x.grad.numpy()] + [p.grad.numpy() for p in lin.parameters()]
    plain = grads()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with mg.autograd.detect_anomaly():
            checked = grads()
    for a, b in zip(plain, checked):
        np.testing.assert_array_equal(a, b)
    assert anomaly_mode._state.enabled is False
