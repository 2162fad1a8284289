"""The gradient-check registry, and ``python -m minigrad.gradcheck`` to run it.

Every primitive registers one or more cases here (later, layers too); the CLI checks
first and second derivatives of each against float64 central differences and prints a
table, exiting non-zero on any failure. The test suite runs the same registry.
"""
import argparse
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from minigrad.autograd.gradcheck import compare, first_derivative_fn
from minigrad.tensor import Tensor

ATOL, RTOL = 1e-5, 1e-3


@dataclass
class Case:
    """One function of some float64 inputs to check.

    ``domain`` per input: "real" (standard normal), "positive" (in [0.5, 2]), "nonzero"
    (|x| in [0.2, 2], away from kinks at 0), or "unit" (in [-0.8, 0.8]). ``noncontig`` builds inputs as strided views.
    """
    name: str
    fn: callable
    shapes: tuple
    domain: tuple = ()
    noncontig: bool = False
    second_order: bool = True
    label: str = field(default="")

    def make_inputs(self, seed=0):
        rng = np.random.default_rng(seed)
        inputs = []
        for k, shape in enumerate(self.shapes):
            dom = self.domain[k] if k < len(self.domain) else "real"
            n = int(np.prod(shape))
            if dom == "positive":
                flat = rng.uniform(0.5, 2.0, n)
            elif dom == "unit":   # inside (-1, 1), away from its ends (asin, acos)
                flat = rng.uniform(-0.8, 0.8, n)
            elif dom == "nonzero":
                flat = rng.uniform(0.2, 2.0, n) * rng.choice([-1.0, 1.0], n)
            else:
                flat = rng.standard_normal(n)
            inputs.append(Tensor(_layout(flat, shape, self.noncontig), requires_grad=True))
        return inputs

    @property
    def shape_text(self):
        return self.label or " ".join("x".join(map(str, s)) if s else "scalar" for s in self.shapes)


def _layout(flat, shape, noncontig):
    if not noncontig or len(shape) == 0:
        return flat.reshape(shape).copy()
    if len(shape) == 1:  # every other element of a longer buffer
        buf = np.zeros(2 * shape[0])
        buf[::2] = flat
        return buf[::2]
    # a transposed view: same values, reversed strides
    return np.ascontiguousarray(flat.reshape(shape).T).T


CASES = []


def register(name, fn, *shapes, domain=(), noncontig=False, second_order=True, label=""):
    """Add a case; ``fn`` takes one tensor per shape and returns a tensor or tuple."""
    if isinstance(domain, str):
        domain = (domain,) * len(shapes)
    CASES.append(Case(name, fn, tuple(tuple(s) for s in shapes), tuple(domain), noncontig,
                      second_order, label))


def check_case(case, order=1, seed=0):
    """(max abs error, max relative error, passed) of one case's 1st or 2nd derivative."""
    inputs = case.make_inputs(seed)
    if order == 1:
        results = compare(case.fn, inputs, seed=seed)
    else:
        first, args = first_derivative_fn(case.fn, inputs, seed)
        results = compare(first, args, seed=seed + 2)
    abs_err, rel_err, ok = 0.0, 0.0, True
    for _, a, n in results:
        err = np.abs(a - n)
        abs_err = max(abs_err, float(err.max(initial=0)))
        rel_err = max(rel_err, float(err.max(initial=0) / max(np.abs(n).max(initial=0), 1e-12)))
        ok &= bool(np.all(err <= ATOL + RTOL * np.abs(n)))
    return abs_err, rel_err, ok


def _load_registries():
    import minigrad.nn._checks  # noqa: F401  (registers the layers)
    import minigrad.ops._checks  # noqa: F401  (registers the primitives)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m minigrad.gradcheck",
        description="Check every registered op's gradients against float64 finite differences.")
    parser.add_argument("-k", "--filter", default="", help="only cases whose name contains this")
    parser.add_argument("--first-only", action="store_true", help="skip second derivatives")
    args = parser.parse_args(argv)
    _load_registries()

    cases = [c for c in CASES if args.filter in c.name]
    if not cases:
        print(f"no registered case matches {args.filter!r}", file=sys.stderr)
        return 2
    orders = [(case, order) for case in cases
              for order in ((1,) if args.first_only or not case.second_order else (1, 2))]
    # columns as wide as their longest entry, so long names never shift a row
    name_w = max(len("op"), *(len(c.name) for c in cases))
    shape_w = max(len("shapes"), *(len(c.shape_text) for c in cases))
    print(f"pass: every entry has |err| <= atol + rtol * |ref| (atol {ATOL:g}, rtol {RTOL:g}),\n"
          f"where ref is the finite-difference derivative and err = analytic - ref; so a max abs "
          f"err\nabove atol passes where the derivative is large.\n")
    header = (f"{'op':<{name_w}}  {'shapes':<{shape_w}}  {'order':>5}  {'max abs err':>11}  "
              f"{'max rel err':>11}  result")
    print(header)
    print("-" * len(header))
    failures, start = 0, time.perf_counter()
    for case, order in orders:
        try:
            abs_err, rel_err, ok = check_case(case, order)
            row = f"{abs_err:>11.2e}  {rel_err:>11.2e}  {'pass' if ok else 'FAIL'}"
        except Exception as e:  # report and go on: the table is the point
            ok, row = False, f"{'':>11}  {'':>11}  ERROR {type(e).__name__}: {e}"
        failures += not ok
        print(f"{case.name:<{name_w}}  {case.shape_text:<{shape_w}}  {order:>5}  {row}")
    print("-" * len(header))
    print(f"{len(orders) - failures} passed, {failures} failed "
          f"(|err| <= atol + rtol * |ref| with atol {ATOL:g}, rtol {RTOL:g}; "
          f"{time.perf_counter() - start:.1f}s)")
    return 1 if failures else 0


if __name__ == "__main__":
    # run the importable module's main: cases register into *its* CASES, not __main__'s
    from minigrad.gradcheck import main as _main
    sys.exit(_main())
