"""Every registered op's first and second derivatives against float64 finite differences,
and the gradient checker itself: it must accept right gradients and reject wrong ones."""
import subprocess
import sys

import numpy as np
import pytest

import minigrad as mg
from minigrad import gradcheck as registry
from minigrad.autograd import GradcheckError, gradcheck, gradgradcheck

registry._load_registries()
CASES = [pytest.param(c, id=f"{c.name}[{c.shape_text}]") for c in registry.CASES]


@pytest.mark.parametrize("case", CASES)
def test_first_derivative(case):
    abs_err, rel_err, ok = registry.check_case(case, order=1)
    assert ok, f"{case.name}: max abs error {abs_err:.2e}, rel {rel_err:.2e}"


@pytest.mark.parametrize("case", [c for c in CASES if c.values[0].second_order])
def test_second_derivative(case):
    abs_err, rel_err, ok = registry.check_case(case, order=2)
    assert ok, f"{case.name}: max abs error {abs_err:.2e}, rel {rel_err:.2e}"


class _WrongSquare(mg.autograd.Function):
    """x**2 with a deliberately wrong gradient (x instead of 2x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x


class _RightSquare(_WrongSquare):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x * 2


def _x():
    return mg.tensor(np.linspace(0.5, 1.5, 6).reshape(2, 3), requires_grad=True)


def test_gradcheck_accepts_a_right_gradient():
    assert gradcheck(_RightSquare.apply, [_x()])
    assert gradgradcheck(_RightSquare.apply, [_x()])


def test_gradcheck_rejects_a_wrong_gradient_and_says_where():
    with pytest.raises(GradcheckError) as err:
        gradcheck(_WrongSquare.apply, [_x()])
    msg = str(err.value)
    assert "input 0" in msg and "index (0, 0)" in msg
    assert "analytic" in msg and "numeric" in msg
    assert gradcheck(_WrongSquare.apply, [_x()], raise_exception=False) is False


def test_gradgradcheck_rejects_a_wrong_second_derivative():
    class FirstRightSecondWrong(mg.autograd.Function):
        # d/dx x^3 = 3x^2 is right, but computed from a detached x: no second derivative
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x.detach() ** 2

    assert gradcheck(FirstRightSecondWrong.apply, [_x()])
    with pytest.raises(GradcheckError, match="gradgradcheck: mismatch"):
        gradgradcheck(FirstRightSecondWrong.apply, [_x()])


def test_gradcheck_uses_a_random_upstream_gradient():
    # with a plain sum() upstream, x - mean(x) has a zero gradient whatever the rule says;
    # the random upstream gradient must expose a rule that forgets the mean term
    class CenterWrong(mg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x - x.mean()

        @staticmethod
        def backward(ctx, g):
            return g * 0

    with pytest.raises(GradcheckError):
        gradcheck(CenterWrong.apply, [_x()])


def test_the_upstream_gradient_is_not_the_input():
    """Drawn from the inputs' seed, the upstream would equal the first input, and for a
    scale-invariant f with a symmetric Jacobian (standardizing, BatchNorm without affine)
    <x, f(x)> has a zero gradient: a rule returning zeros would pass. It must not."""
    class StandardizeWrong(mg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return (x - x.mean()) / x.std(correction=0)

        @staticmethod
        def backward(ctx, g):
            return g * 0

    case = registry.Case("standardize, zero rule", StandardizeWrong.apply, [(3, 4)])
    results = registry.compare(case.fn, case.make_inputs(0), seed=0)
    (_, analytic, numeric), = results
    assert np.abs(numeric).max() > 1e-3   # the check sees a non-zero true gradient
    with pytest.raises(GradcheckError):
        gradcheck(StandardizeWrong.apply, [mg.tensor(np.random.default_rng(0).standard_normal(
            (3, 4)), requires_grad=True)], seed=0)


def test_gradcheck_requires_float64():
    with pytest.raises(TypeError, match="float64"):
        gradcheck(lambda a: a * 2, [mg.randn(3, requires_grad=True)])


def test_cli_runs_the_cases_it_is_asked_for_and_passes():
    """The command line (every case's derivatives are the tests above): a filter selects
    cases by name, and a clean run exits 0 with the table."""
    out = subprocess.run([sys.executable, "-m", "minigrad.gradcheck", "-k", "matmul"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "max abs err" in out.stdout
    n = sum("matmul" in c.name for c in registry.CASES)
    checks = n + sum("matmul" in c.name and c.second_order for c in registry.CASES)
    assert n >= 3 and f"{checks} passed, 0 failed" in out.stdout


def test_cli_fails_on_a_wrong_gradient(monkeypatch, capsys):
    monkeypatch.setattr(registry, "CASES", [])
    registry.register("wrong square", _WrongSquare.apply, (2, 3), domain="positive")
    assert registry.main(["--first-only"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "0 passed, 1 failed" in out
