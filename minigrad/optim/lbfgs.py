"""L-BFGS (Nocedal 1980; Liu & Nocedal 1989) with PyTorch's algorithm: the same two-loop
recursion, stopping rules, first step length and optional strong-Wolfe line search.

All parameters are handled as one flat vector. The state lives on the first parameter,
as in PyTorch (its names: ``func_evals``, ``n_iter``, ``d``, ``t``, ``old_dirs``,
``old_stps``, ``ro``, ``H_diag``, ``prev_flat_grad``, ``prev_loss``, ``al``), so a state dict
moves between PyTorch and minigrad. Vectors and PyTorch's 0-d tensors are stored as
Tensors; inside ``step`` the work is on raw arrays. Scalars keep the parameters' dtype
(NumPy's promotion of Python numbers matches PyTorch's), so float32 runs in float32.
"""
import copy

import numpy as np

from minigrad import backend
from minigrad.autograd.grad_mode import enable_grad
from minigrad.optim.optimizer import Optimizer
from minigrad.tensor import Tensor

_STATE_ARRAYS = ("d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad", "al")


class LBFGS(Optimizer):
    """``step(closure)`` runs up to ``max_iter`` L-BFGS iterations; ``closure`` clears the
    gradients, computes the loss, calls ``backward`` and returns the loss.

    Each iteration: the direction ``d = -H g`` from the last ``history_size`` pairs
    ``(s, y)`` (pairs with ``y.s <= 1e-10`` are skipped; the initial inverse Hessian is
    ``y.s / y.y`` of the latest pair), then a step ``t``: ``lr`` (the first iteration ever:
    ``min(1, 1 / |g|_1) * lr``), or where ``line_search_fn="strong_wolfe"`` the step found by
    a bracketing and cubic-interpolation zoom search (c1=1e-4, c2=0.9, at most
    ``max_eval`` evaluations in all). It stops at ``max_iter`` iterations, ``max_eval``
    closure calls, ``max |g| <= tolerance_grad``, or when the step, the directional
    derivative or the change in loss falls below ``tolerance_change``. Returns the loss of
    the first closure call. One parameter group only, as in PyTorch.
    """

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if line_search_fn not in (None, "strong_wolfe"):
            # (PyTorch raises this at the first step; here it comes as soon as it is known)
            raise RuntimeError(f"LBFGS: only 'strong_wolfe' is supported as line_search_fn, "
                               f"got {line_search_fn!r}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                                      tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change,
                                      history_size=history_size, line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    # ------------------------------------------------------------ the flat vector
    def _flat_grad(self):
        xp = backend.of(self._params[0].array).xp
        return xp.concatenate([xp.zeros(p.array.size, p.array.dtype) if p.grad is None
                               else p.grad.array.reshape(-1) for p in self._params])

    def _move(self, t, d):
        """params += t * d (d flat)."""
        start = 0
        for p in self._params:
            n = p.array.size
            p.array += t * d[start:start + n].reshape(p.array.shape)
            start += n

    def _evaluate(self, closure):
        with enable_grad():
            return closure()

    def _evaluate_at(self, closure, x, t, d):
        """Loss and flat gradient at ``x + t d``; the parameters are ``x`` again after."""
        self._move(t, d)
        loss = float(self._evaluate(closure))
        grad = self._flat_grad()
        for p, a in zip(self._params, x):
            p.array[...] = a
        return loss, grad

    # ------------------------------------------------------------ the step
    def step(self, closure):
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        history_size, line_search = group["history_size"], group["line_search_fn"]
        if line_search not in (None, "strong_wolfe"):
            raise RuntimeError(f"LBFGS: only 'strong_wolfe' is supported as line_search_fn, "
                               f"got {line_search!r}")

        state = self.state.setdefault(self._params[0], {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        first_loss = self._evaluate(closure)
        loss = float(first_loss)
        evals = 1
        state["func_evals"] += 1
        g = self._flat_grad()
        if abs(g).max() <= tolerance_grad:
            return first_loss

        s = {k: _raw(state.get(k)) for k in _STATE_ARRAYS}
        s["prev_loss"] = state.get("prev_loss")
        d, t, dirs, steps, ro = s["d"], s["t"], s["old_dirs"], s["old_stps"], s["ro"]
        h_diag, prev_g, prev_loss = s["H_diag"], s["prev_flat_grad"], s["prev_loss"]

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            # the direction: steepest descent at first, then the two-loop recursion
            if state["n_iter"] == 1:
                d = -g
                dirs, steps, ro, h_diag = [], [], [], 1
            else:
                y = g - prev_g
                step = d * t
                ys = y.dot(step)
                if ys > 1e-10:
                    if len(dirs) == history_size:  # forget the oldest pair
                        del dirs[0], steps[0], ro[0]
                    dirs.append(y)
                    steps.append(step)
                    ro.append(1.0 / ys)
                    h_diag = ys / y.dot(y)
                if s["al"] is None:
                    s["al"] = [None] * history_size
                al = s["al"]
                q = -g
                for i in range(len(dirs) - 1, -1, -1):
                    al[i] = steps[i].dot(q) * ro[i]
                    q += -al[i] * dirs[i]
                d = q * h_diag
                for i in range(len(dirs)):
                    beta = dirs[i].dot(d) * ro[i]
                    d += (al[i] - beta) * steps[i]

            if prev_g is None:
                prev_g = g.copy()
            else:
                prev_g[...] = g
            prev_loss = loss

            # the step length
            t = min(1.0, 1.0 / abs(g).sum()) * lr if state["n_iter"] == 1 else lr
            gtd = g.dot(d)
            if gtd > -tolerance_change:  # not a descent direction (any more)
                break

            if line_search is not None:
                x = [p.array.copy() for p in self._params]
                loss, g, t, used = _strong_wolfe(
                    lambda x_, t_, d_: self._evaluate_at(closure, x_, t_, d_),
                    x, t, d, loss, g, gtd, max_ls=max_eval - evals)
                self._move(t, d)
                converged = abs(g).max() <= tolerance_grad
            else:
                self._move(t, d)
                used, converged = 0, False
                if n_iter != max_iter:  # (a last evaluation would only serve the next step)
                    loss = float(self._evaluate(closure))
                    g = self._flat_grad()
                    converged = abs(g).max() <= tolerance_grad
                    used = 1
            evals += used
            state["func_evals"] += used

            if (n_iter == max_iter or evals >= max_eval or converged
                    or abs(d * t).max() <= tolerance_change
                    or abs(loss - prev_loss) < tolerance_change):
                break

        s.update(d=d, t=t, old_dirs=dirs, old_stps=steps, ro=ro, H_diag=h_diag,
                 prev_flat_grad=prev_g)
        xp = backend.of(self._params[0].array).xp
        for k in _STATE_ARRAYS:
            if s[k] is not None:
                state[k] = _wrap(s[k], xp)
        state["prev_loss"] = prev_loss
        return first_loss

    # ------------------------------------------------------------ checkpoints
    def _restore_state(self, name, value, param):
        """A private copy of every array in the saved state (lists included), on the
        parameter's device and in its dtype; numbers as saved (PyTorch's cast for a
        floating parameter)."""
        if isinstance(value, list):
            return [self._restore_state(name, v, param) for v in value]
        if isinstance(value, Tensor):
            value = value.array
        if isinstance(value, (np.ndarray, np.generic)) or backend.is_array(value):
            xp = backend.of(param.array).xp
            if isinstance(value, np.generic):
                value = np.asarray(value)
            if not isinstance(value, np.ndarray) and backend.of(value) is not backend.of(
                    param.array):
                value = backend.move(value, "cpu")
            return Tensor._make(xp.array(value, dtype=param.array.dtype))
        return copy.deepcopy(value)


def _raw(value):
    if isinstance(value, Tensor):
        return value.array
    if isinstance(value, list):
        return [_raw(v) for v in value]
    return value


def _wrap(value, xp):
    """Arrays and array scalars as Tensors (PyTorch keeps tensors there); numbers as they are."""
    if isinstance(value, list):
        return [_wrap(v, xp) for v in value]
    if isinstance(value, np.generic) or backend.is_array(value):
        return Tensor._make(xp.asarray(value))
    return value


# ---------------------------------------------------------------- line search

def _cubic_minimizer(sqrt, x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimizer of the cubic through (x1, f1) and (x2, f2) with slopes g1 and g2,
    clipped to ``bounds`` (default: between x1 and x2); the middle of the bounds where the
    cubic has no minimizer."""
    lo, hi = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    with np.errstate(divide="ignore", invalid="ignore"):  # (inf and nan as in PyTorch)
        d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
        discriminant = d1 * d1 - g1 * g2
        if discriminant >= 0:
            d2 = sqrt(discriminant)
            if x1 <= x2:
                at = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
            else:
                at = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
            return min(max(at, lo), hi)
    return (lo + hi) / 2.0


def _strong_wolfe(evaluate, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9,
                  max_ls=25):
    """A step t along d from x satisfying the strong Wolfe conditions (More & Thuente's
    bracketing, then zoom by safeguarded cubic interpolation); returns (loss, flat
    gradient, t, evaluations). Points are (t, loss, gradient, directional derivative)."""
    sqrt = backend.of(d).xp.sqrt
    d_norm = abs(d).max()
    f_new, g_new = evaluate(x, t, d)
    evals, it = 1, 0
    gtd_new = g_new.dot(d)
    prev = (0, f, g, gtd)
    done = False
    bracket = None
    while it < max_ls:
        new = (t, f_new, g_new, gtd_new)
        if f_new > (f + c1 * t * gtd) or (it > 1 and f_new >= prev[1]):
            bracket = [prev, new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, done = [new], True
            break
        if gtd_new >= 0:
            bracket = [prev, new]
            break
        # extrapolate: interpolate within [t + 0.01 (t - t_prev), 10 t]
        t_prev = t
        t = _cubic_minimizer(sqrt, prev[0], prev[1], prev[3], t, f_new, gtd_new,
                             bounds=(t + 0.01 * (t - prev[0]), t * 10))
        prev = (t_prev, f_new, g_new, gtd_new)
        f_new, g_new = evaluate(x, t, d)
        evals += 1
        gtd_new = g_new.dot(d)
        it += 1
    if bracket is None:  # out of evaluations while extrapolating
        bracket = [(0, f, g, None), (t, f_new, g_new, None)]

    # zoom: shrink the bracket until its best point satisfies the conditions
    low, high = (0, 1) if bracket[0][1] <= bracket[-1][1] else (1, 0)
    stalled = False
    while not done and it < max_ls:
        a, b = bracket[0][0], bracket[1][0]
        if abs(b - a) * d_norm < tolerance_change:
            break
        t = _cubic_minimizer(sqrt, a, bracket[0][1], bracket[0][3], b, bracket[1][1], bracket[1][3])
        top, bottom = max(a, b), min(a, b)
        margin = 0.1 * (top - bottom)
        if min(top - t, t - bottom) < margin:
            # too close to an end: after a second time (or at an end), move a tenth inside
            if stalled or t >= top or t <= bottom:
                t = top - margin if abs(t - top) < abs(t - bottom) else bottom + margin
                stalled = False
            else:
                stalled = True
        else:
            stalled = False
        f_new, g_new = evaluate(x, t, d)
        evals += 1
        gtd_new = g_new.dot(d)
        it += 1
        new = (t, f_new, g_new, gtd_new)
        if f_new > (f + c1 * t * gtd) or f_new >= bracket[low][1]:
            bracket[high] = new
            low, high = (0, 1) if bracket[0][1] <= bracket[1][1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high][0] - bracket[low][0]) >= 0:
                bracket[high] = bracket[low]
            bracket[low] = new
    t, f_new, g_new, _ = bracket[low]
    return f_new, g_new, t, evals
