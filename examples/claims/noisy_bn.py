"""Noisy BN (Santurkar et al. 2018, Section 2.1 and Figure 2): make the inputs of every layer
change distribution at every step on purpose, after BN, and see whether BN's gain survives.

Protocol. The BN paper's MNIST MLP (784-100-100-100-10, `claims/_santurkar.py`) in three
versions that share their initial Linear weights and batches within a seed: *plain* (no BN),
*BN* (BatchNorm1d before each activation) and *noisy BN* (BN, then a `ShiftScaleNoise` layer,
then the activation). The noise layer draws, at every training step and for every unit j, a
shift μ_j ~ U(−1, 1) and a scale σ_j ~ U(1, 2) (n_μ = 1, n_σ = 2) and outputs σ_j·x + μ_j,
so the next layer's inputs get a new non-zero mean and non-unit standard deviation at every
step; in eval mode it applies its expected value, 1.5·x. Santurkar et al. write that they
perturb "each activation for each sample in the batch using i.i.d. noise sampled from a
non-zero mean and non-unit variance distribution" that "changes at each time step"; their
appendix's exact sampling (and their n_μ, n_σ) could not be read for this study, so this is
our reading: one shift and scale per unit and step, shared by the batch, which is what moves
the distribution a layer sees from step to step. Each net trains 3,000 steps of SGD with
batch 60, sigmoid at learning rate 0.5 and ReLU at 0.1, 3 seeds. Measured at 9 points
(0 ... 3,000 steps): the cross-entropy and accuracy on a fixed subset of 10,000 training
images in eval mode (the optimization measure) and the test accuracy. Manipulation check: at
every training step a forward pre-hook records, for each unit of the last hidden layer, the
mean m and standard deviation s over the batch of the activation's input; the step-to-step
shift is the mean over units of |m_t − m_{t−1}| / √((s_t² + s_{t−1}²)/2) + |log(s_t/s_{t−1})|,
averaged over training.

Prediction (Santurkar et al.): the noisy-BN net's layer inputs are less stable than the plain
net's, yet it trains about as well as the BN net and better than the plain net.

Verdict rule, fixed before the runs. The manipulation check passes when the noisy-BN net's
step-to-step shift exceeds the plain net's in every seed for both activations; if it fails the
study cannot test the claim and the verdict is "not reproduced". Otherwise, for each
activation and each of two checkpoints (500 steps and the last), on log10 of the training
loss: the cell favors the claim when noisy BN is below plain by more than two standard errors
of the paired difference over seeds *and* its mean is at most halfway (on the log scale)
between plain's and BN's; it opposes when noisy BN is above plain by more than two standard
errors; otherwise neutral. Every cell favoring: reproduced; more favoring than opposing:
partly; every cell opposing: reversed; otherwise not reproduced.
"""
import time

import numpy as np
from _common import train_step

import minigrad.nn as nn
from claims import _santurkar as S

NAME = "noisy_bn"
TITLE = "Noisy BN: unstable layer inputs, same gain"
CLAIM = ("BN's benefit does not come from stabilizing layer-input distributions: with "
         "time-varying non-zero-mean, non-unit-variance noise added after each BN layer, a "
         "net still trains about as well as with BN and better than without (Santurkar et "
         "al. 2018, Section 2.1, Figure 2).")
PROTOCOL = ("MNIST MLP 784-100×3-10, sigmoid and ReLU; plain vs BN vs BN + per-step noise "
            "σ·x + μ (μ ~ U(−1, 1), σ ~ U(1, 2) per unit); SGD batch 60, 3,000 steps; "
            "training loss on 10k training images, test accuracy; 3 seeds.")
KINDS = ("plain", "bn", "noisy")
LABELS, COLORS = S.LABELS, S.COLORS


def add_arguments(p):
    p.add_argument("--noisy-bn-steps", type=int, default=3000,
                   help="noisy_bn: training steps per net")


class InputShift:
    """Forward pre-hook on a net's last activation: while ``active``, records each training
    forward's per-unit batch mean and std of the activation's input, and accumulates the
    step-to-step shift (see the module docstring). ``trace`` keeps unit 0's batch mean and
    std for the first ``keep`` recorded steps."""

    def __init__(self, model, keep=300):
        acts = [m for m in model.modules() if isinstance(m, (nn.Sigmoid, nn.ReLU))]
        self.handle = acts[-1].register_forward_pre_hook(self)
        self.active, self.keep = False, keep
        self.prev, self.total, self.count = None, 0.0, 0
        self.trace = {"mean": [], "std": []}

    def __call__(self, module, args):
        if not self.active:
            return
        a = args[0].detach().cpu().numpy().astype(np.float64)
        m, s = a.mean(0), a.std(0) + 1e-8
        if self.prev is not None:
            pm, ps = self.prev
            self.total += float(np.mean(np.abs(m - pm) / np.sqrt((s ** 2 + ps ** 2) / 2)
                                        + np.abs(np.log(s / ps))))
            self.count += 1
        self.prev = (m, s)
        if len(self.trace["mean"]) < self.keep:
            self.trace["mean"].append(float(m[0]))
            self.trace["std"].append(float(s[0]))

    @property
    def shift(self):
        return self.total / max(self.count, 1)


def eval_steps(steps):
    points = [0, 100, 250, 500, 1000, 1500, 2000, 2500, 3000]
    if steps != 3000:   # (--quick, or another length: the same shape, scaled)
        points = [round(p * steps / 3000) for p in points]
    return sorted(set(points))


def checkpoints(steps):
    """The two steps the verdict reads: 500 (of 3,000) and the last."""
    return [round(500 * steps / 3000), steps]


def run(args, mnist):
    x_train, y_train, x_test, y_test = mnist
    steps = 60 if args.quick else args.noisy_bn_steps
    n_eval = 500 if args.quick else 10000
    x_sub, y_sub = S.subset(x_train, y_train, n_eval)
    x_te, y_te = x_test[:n_eval], y_test[:n_eval]
    points = eval_steps(steps)
    runs = {act: {k: [] for k in KINDS} for act in S.ACTIVATIONS}
    for act in S.ACTIVATIONS:
        for seed in args.seed_list:
            start = time.perf_counter()
            nets, optims = S.paired_training(KINDS, act, seed, args.device)
            hooks = {k: InputShift(n) for k, n in nets.items()}
            rec = {k: {"loss": [], "train_acc": [], "test_acc": []} for k in KINDS}

            def evaluate():
                for k, net in nets.items():
                    loss, acc = S.loss_and_accuracy(net, x_sub, y_sub)
                    rec[k]["loss"].append(loss)
                    rec[k]["train_acc"].append(acc)
                    rec[k]["test_acc"].append(S.loss_and_accuracy(net, x_te, y_te)[1])

            evaluate()
            for step, x, y in S.training_batches(x_train, y_train, steps, seed,
                                                 args.device, start=1):
                for k, net in nets.items():
                    hooks[k].active = True
                    train_step(net, optims[k], x, y)
                    hooks[k].active = False
                if step in points:
                    evaluate()
            for k in KINDS:
                hooks[k].handle.remove()
                runs[act][k].append({**rec[k], "shift": hooks[k].shift,
                                     "trace": hooks[k].trace})
            print(f"noisy_bn {act} seed {seed}: final training loss "
                  + ", ".join(f"{k} {rec[k]['loss'][-1]:.4f}" for k in KINDS)
                  + f" ({time.perf_counter() - start:.0f} s)")
    return {"steps": steps, "eval_steps": points, "checkpoints": checkpoints(steps),
            "lr": S.LR, "batch_size": S.BATCH_SIZE, "n_mu": 1.0, "n_sigma": 2.0,
            "n_eval": n_eval, "seeds": list(args.seed_list), "runs": runs}


def _at(results, act, kind, key, step):
    i = results["eval_steps"].index(step)
    return [r[key][i] for r in results["runs"][act][kind]]


def summarize(results):
    runs, final = results["runs"], results["steps"]
    check = {act: all(n["shift"] > p["shift"] for n, p in
                      zip(runs[act]["noisy"], runs[act]["plain"])) for act in S.ACTIVATIONS}
    cells, rows = [], []
    for act in S.ACTIVATIONS:
        for step in results["checkpoints"]:
            logs = {k: S.log10(_at(results, act, k, "loss", step)) for k in KINDS}
            o = S.outcome(logs["noisy"], logs["plain"])
            halfway = logs["noisy"].mean() <= (logs["plain"].mean() + logs["bn"].mean()) / 2
            cells.append("favor" if o == "favor" and halfway else
                         "oppose" if o == "oppose" else "neutral")
            rows.append((act, step, cells[-1]))
    verdict = S.tally(cells) if all(check.values()) else "not reproduced"

    def losses(act, step):
        return ", ".join(f"{LABELS[k]} {S.pm(_at(results, act, k, 'loss', step), 3)}"
                         for k in KINDS)

    def shifts(act):
        return ", ".join(f"{LABELS[k]} {S.pm([r['shift'] for r in runs[act][k]], 2)}"
                         for k in KINDS)

    numbers = "; ".join(f"{act}: training loss at step {final}: {losses(act, final)}"
                        for act in S.ACTIVATIONS)
    numbers += "; step-to-step input shift (last layer), " + "; ".join(
        f"{act}: {shifts(act)}" for act in S.ACTIVATIONS)
    early = results["checkpoints"][0]
    lines = ["Manipulation check (noisy BN's last-layer inputs shift more from step to step "
             "than the plain net's, every seed): "
             + ", ".join(f"{act} {'passed' if ok else 'FAILED'}" for act, ok in check.items())
             + ". Step-to-step shift: " + "; ".join(f"{act}: {shifts(act)}"
                                                     for act in S.ACTIVATIONS) + "."]
    for act in S.ACTIVATIONS:
        te = ", ".join(f"{LABELS[k]} {S.pm(_at(results, act, k, 'test_acc', final), 4)}"
                       for k in KINDS)
        lines.append(f"{act}: training loss at step {early}: {losses(act, early)}; at step "
                     f"{final}: {losses(act, final)}. Test accuracy at step {final}: {te}.")
    lines.append("Cells (activation, step: outcome): "
                 + ", ".join(f"{a} {s}: {c}" for a, s, c in rows) + ".")
    lines.append(_reading(results))
    lines.append(DETAIL)
    return {"numbers": numbers, "verdict": verdict, "detail": "\n\n".join(lines)}


def _reading(results):
    """What the losses say, as ratios of the means over seeds."""
    early, final = results["checkpoints"]
    out = []
    for act in S.ACTIVATIONS:
        m = {(k, t): float(np.mean(_at(results, act, k, "loss", t))) for k in KINDS
             for t in (early, final)}
        bn_gain = m["bn", final] / m["plain", final]
        out.append(
            f"{act}: noisy BN's training loss is {m['noisy', early] / m['bn', early]:.2f}× BN's "
            f"and {m['noisy', early] / m['plain', early]:.2f}× the plain net's at step {early}, "
            f"{m['noisy', final] / m['bn', final]:.2f}× and "
            f"{m['noisy', final] / m['plain', final]:.2f}× at step {final}; BN's own loss is "
            f"{m['bn', early] / m['plain', early]:.2f}× the plain net's at step {early} and "
            f"{bn_gain:.2f}× at step {final}.")
    return ("Reading (ratios of the means over seeds): " + " ".join(out) + " The noise's "
            "scale averages 1.5, so besides shaking the layer inputs it enlarges the "
            "activations' inputs on average (as a BN scale γ of 1.5 would), and the eval net "
            "applies that mean; this study does not separate the two effects.")


DETAIL = """Limits: an MNIST MLP rather than VGG on CIFAR-10; one noise strength (n_μ = 1,
n_σ = 2), chosen before the runs and not varied; our reading of the noise's form (one shift
and scale per unit and step, shared by the batch), since the paper's appendix could not be
consulted; three seeds, so "two standard errors" is a loose test."""


def plot(plt, results):
    fig, axes = plt.subplots(2, 3, figsize=(16, 8.5))
    steps = results["eval_steps"]
    for row, act in enumerate(S.ACTIVATIONS):
        n = f"{results['n_eval']:,}"
        for col, (key, ylabel) in enumerate((("loss", f"training loss ({n} images, eval)"),
                                              ("test_acc", "test accuracy"))):
            ax = axes[row, col]
            for k in KINDS:
                vals = np.array([r[key] for r in results["runs"][act][k]])
                m, s = vals.mean(0), vals.std(0)
                ax.plot(steps, m, color=COLORS[k], label=LABELS[k])
                ax.fill_between(steps, m - s, m + s, color=COLORS[k], alpha=0.2)
            if key == "loss":
                ax.set_yscale("log")
            else:
                trained = np.concatenate([np.array([r[key][1:] for r in
                                                    results["runs"][act][k]]).ravel()
                                          for k in KINDS])
                lo = np.percentile(trained, 5)
                ax.set_ylim(max(lo - 0.01, 0), 1.0)
            ax.set(xlabel="training step", ylabel=ylabel,
                   title=f"({'ab'[col] if row == 0 else 'de'[col]}) {act}: {ylabel}")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        ax = axes[row, 2]
        for k in KINDS:
            tr = results["runs"][act][k][0]["trace"]
            m, s = np.array(tr["mean"]), np.array(tr["std"])
            ax.plot(m, color=COLORS[k], lw=0.8, label=f"{LABELS[k]}: batch mean")
            ax.fill_between(np.arange(len(m)), m - s, m + s, color=COLORS[k], alpha=0.15)
        ax.set(xlabel="training step", ylabel="input to the activation, unit 0",
               title=f"({'c' if row == 0 else 'f'}) {act}: last hidden layer, unit 0, "
                     f"batch mean ± std (seed {results['seeds'][0]})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Noisy BN (Santurkar et al. 2018, Figure 2): mean ± std over "
                 f"{len(results['seeds'])} seeds")
    fig.tight_layout()
