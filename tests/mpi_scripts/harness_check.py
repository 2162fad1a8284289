"""The harness itself: check() records a wrong shape (an extra or a missing dimension, a
transposed array), a wrong value and a NaN as failures, and compares a number with every
entry; then the job ends with no failed checks."""
import numpy as np
from _harness import check, expect, failures, finish

check("equal", np.ones((2, 3)), np.ones((2, 3)), 0)
check("a number", np.ones((2, 3)), 1.0, 0)
passed = not failures
for name, got, want in [("extra dim", np.ones((2, 3)), np.ones(3)),
                        ("missing dim", np.ones(3), np.ones((2, 3))),
                        ("size-1 dim", np.ones((3, 1)), np.ones(3)),
                        ("transposed", np.ones((3, 2)), np.ones((2, 3))),
                        ("value", np.ones(3), np.zeros(3)),
                        ("nan", [np.nan], [1.0])]:
    check(name, got, want, 1e-12)
flagged = [f.split(":")[0] for f in failures]
failures.clear()
expect("equal values, and a number against each entry, pass", passed)
expect(f"every wrong case is flagged once, got {flagged}",
       flagged == ["extra dim", "missing dim", "size-1 dim", "transposed", "value", "nan"])
finish()
