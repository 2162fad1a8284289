"""Where batch normalization breaks: recurrent nets, variable-length batches, and a small
transformer, on MNIST read as sequences.

Protocol (fixed before the runs; the same for every variant of a part):

* Data. MNIST images (standardized) read as sequences: "rows" is 28 steps of 28 pixels,
  top to bottom; "patches" is 49 steps of 16 pixels (4x4 patches in row-major order).
  Training draws batches of 64 from the 60,000 training images (one permutation per pass,
  seeded); test accuracy is measured in eval mode on a fixed set of test images (the first
  2,000 of the 10,000, all 10,000 at the end of each run).
* Optimizer. Adam, lr 2e-3, no weight decay, no clipping, for every variant; the same
  number of updates for every variant of a part; seeds 0 and 1 (``--seeds``).

1. Recurrent normalization. One LSTM layer (hidden 64) whose last hidden state feeds a
   linear classifier, with no normalization (``nn.LSTMCell``), layer normalization
   (``nn.LayerNormLSTMCell``, Ba et al. 2016), per-step batch normalization
   (``nn.BNLSTMCell``, Cooijmans et al. 2016: statistics per time step, gammas at 0.1) and
   Batch Layer Normalization in the same places (``nn.BLNLSTMCell``). Both sequence forms.
   The claim (Cooijmans et al., Table 1 and Figure 2): BN-LSTM converges faster than the
   plain LSTM on sequential MNIST and generalizes at least as well; LN does too (Ba et
   al.). Predicted here: at a fixed small budget of updates, the normalized LSTMs reach a
   higher test accuracy than the plain one, most on the longer "patches" sequences.
2. Variable lengths. "rows", each training image cut to its first L rows, L drawn
   uniformly from 14..20 per image (zero padding after), so a batch mixes lengths; the
   classifier reads each sequence's hidden state at its own last real step. Variants:
   per-step BN with statistics over every position of the padded batch (padding included),
   per-step BN whose statistics use only the real positions (``mask=``), and LN. Test on
   lengths drawn the same way (in range) and on all 28 rows (longer than any training
   sequence: steps 20..27 have no per-step estimate, and BN uses step 19's, the rule of
   Cooijmans et al. §3). The claim: BN "handles RNNs poorly" with variable lengths, LN is
   the fix. Predicted: padded-statistics BN is worst in range; masked BN closes most of the
   gap; on longer sequences both BN variants lose more accuracy than LN.
3. A small transformer encoder on the 28 row tokens (a linear embedding of each row plus a
   learned position embedding, 2 layers, d_model 32, 4 heads, feed-forward 64, no dropout,
   mean over tokens, linear classifier): post-LN (the original transformer), pre-LN, and
   BatchNorm over (batch, tokens) per feature in place of each LayerNorm (post-norm
   placement). The claim: transformers need layer normalization; BN in its place trains
   worse. Predicted: BN below both LN variants.

What is measured: test accuracy (eval mode) at regular points and at the end, and the
training loss; mean and standard deviation over seeds. Limits: MNIST is easy and short
runs show early training, not converged accuracy; two seeds resolve only differences
larger than their spread.

    python examples/sequence_norm_study.py            # the protocol above
    python examples/sequence_norm_study.py --quick    # a smoke run of every variant
"""
import time

import numpy as np

import minigrad as mg
import minigrad.nn as nn
from _common import load_mnist, parser, save, setup

RECURRENT = ("none", "layer", "batch", "batch-layer")
LENGTH_VARIANTS = ("batch (padded stats)", "batch (masked)", "layer")
TRANSFORMERS = ("post-LN", "pre-LN", "BN")


def as_rows(images):
    return images.reshape(len(images), 28, 28)


def as_patches(images, p=4):
    n = len(images)
    x = images.reshape(n, 28 // p, p, 28 // p, p).transpose(0, 1, 3, 2, 4)
    return np.ascontiguousarray(x.reshape(n, (28 // p) ** 2, p * p))


class Recurrent(nn.Module):
    """One LSTM layer of the given normalization, stepped over the sequence, and a linear
    classifier on the last real hidden state of each sequence."""

    def __init__(self, norm, input_size, hidden, steps):
        super().__init__()
        self.norm = norm
        if norm == "none":
            self.cell = nn.LSTMCell(input_size, hidden)
        elif norm == "layer":
            self.cell = nn.LayerNormLSTMCell(input_size, hidden)
        elif norm == "batch":
            self.cell = nn.BNLSTMCell(input_size, hidden, max_length=steps)
        elif norm == "batch-layer":
            self.cell = nn.BLNLSTMCell(input_size, hidden, max_length=steps)
        else:
            raise ValueError(f"unknown norm {norm!r}")
        self.head = nn.Linear(hidden, 10)

    def forward(self, x, lengths=None, masked=False):
        N, T = x.shape[:2]
        state, hs = None, []
        for t in range(T):
            if self.norm in ("batch", "batch-layer"):
                mask = None if lengths is None or not masked else mg.tensor(lengths > t)
                state = self.cell(x[:, t], state, step=t, mask=mask)
            else:
                state = self.cell(x[:, t], state)
            hs.append(state[0])
        if lengths is None:
            return self.head(hs[-1])
        return self.head(mg.stack(hs, 1)[np.arange(N), lengths - 1])


class TokenBatchNorm(nn.Module):
    """BatchNorm1d over (batch, tokens) for each feature of (N, T, d) tokens: what takes
    LayerNorm's place in the "BN" transformer."""

    def __init__(self, d):
        super().__init__()
        self.bn = nn.BatchNorm1d(d)

    def forward(self, x):
        return self.bn(x.transpose(1, 2)).transpose(1, 2)


class Transformer(nn.Module):
    def __init__(self, variant, d=32, heads=4, layers=2, tokens=28, width=28):
        super().__init__()
        self.embed = nn.Linear(width, d)
        self.position = nn.Parameter(mg.randn(tokens, d) * 0.02)
        blocks = []
        for _ in range(layers):
            block = nn.TransformerEncoderLayer(d, heads, dim_feedforward=2 * d, dropout=0.0,
                                               batch_first=True,
                                               norm_first=variant == "pre-LN")
            if variant == "BN":
                block.norm1, block.norm2 = TokenBatchNorm(d), TokenBatchNorm(d)
            blocks.append(block)
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(d, 10)

    def forward(self, x):
        return self.head(self.blocks(self.embed(x) + self.position).mean(1))


def evaluate(model, x, y, lengths=None, masked=False, batch=1000):
    model.eval()
    right = 0
    with mg.no_grad():
        for s in range(0, len(x), batch):
            xb = mg.tensor(x[s:s + batch])
            if lengths is None:
                out = model(xb)
            else:
                out = model(xb, lengths[s:s + batch], masked)
            right += int((out.argmax(1).numpy() == y[s:s + batch]).sum())
    model.train()
    return right / len(x)


def cut(x, lengths):
    """Zero every row at or after each sequence's length."""
    x = x.copy()
    x[np.arange(x.shape[1])[None, :] >= lengths[:, None]] = 0
    return x


def train(make, data, steps, seed, evals, batch=64, lengths=None, masked=False,
          test_sets=None):
    """Train ``make()`` for ``steps`` updates; returns the curve and the final accuracies
    on each of ``test_sets`` ({name: (x, y, lengths)})."""
    x_train, y_train, x_probe, y_probe = data
    mg.manual_seed(seed)
    model = make()
    opt = mg.optim.Adam(model.parameters(), lr=2e-3)
    order_rng = np.random.default_rng(seed)
    order, pos = order_rng.permutation(len(x_train)), 0
    curve, losses, start = [], [], time.perf_counter()
    for step in range(1, steps + 1):
        if pos + batch > len(order):
            order, pos = order_rng.permutation(len(x_train)), 0
        idx = order[pos:pos + batch]
        pos += batch
        xb = x_train[idx]
        if lengths is not None:
            lb = lengths[idx]
            out = model(mg.tensor(cut(xb, lb)), lb, masked)
        else:
            out = model(mg.tensor(xb))
        loss = nn.functional.cross_entropy(out, mg.tensor(y_train[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if step in evals:
            probe_lengths = None if lengths is None else test_sets["in range"][2][:len(x_probe)]
            xp = x_probe if probe_lengths is None else cut(x_probe, probe_lengths)
            acc = evaluate(model, xp, y_probe, probe_lengths, masked)
            curve.append({"step": step, "loss": float(np.mean(losses[-20:])), "test_acc": acc})
    seconds = time.perf_counter() - start
    finals = {}
    for name, (xt, yt, lt) in (test_sets or {}).items():
        finals[name] = evaluate(model, xt if lt is None else cut(xt, lt), yt, lt, masked)
    return {"curve": curve, "final": finals, "seconds": seconds}


def summarize(runs):
    """{test set: (mean, std)} over the seeds' final accuracies."""
    out = {}
    for name in runs[0]["final"]:
        values = [r["final"][name] for r in runs]
        out[name] = (float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1
                     else 0.0)
    return out


def main():
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=2, help="seeds 0 .. seeds-1 per variant")
    p.add_argument("--steps", type=int, default=300,
                   help="updates per run in parts 1 and 2 (--quick: at most 8)")
    p.add_argument("--transformer-steps", type=int, default=400,
                   help="updates per transformer run (--quick: at most 8)")
    args = p.parse_args()
    if args.device != "cpu":
        p.error("this study runs on the CPU only (its per-step masks and gathers are host "
                "arrays); leave out --device")
    setup(args)
    results = study(load_mnist(args), args.quick, list(range(1 if args.quick else args.seeds)),
                    args.steps, args.transformer_steps)
    save(args, "sequence_norm_study", results, plot)


def study(mnist, quick, seeds, steps=300, t_steps=400):
    """The three parts of the protocol on ``mnist`` (``load_mnist``'s tuple); the results."""
    steps = min(steps, 8) if quick else steps
    t_steps = min(t_steps, 8) if quick else t_steps
    hidden = 16 if quick else 64
    x_train, y_train, x_test, y_test = mnist
    if quick:
        x_train, y_train = x_train[:512], y_train[:512]
        x_test, y_test = x_test[:200], y_test[:200]
    probe = 200 if quick else 2000
    n_evals = 2 if quick else 6
    evals = lambda n: set(np.linspace(n / n_evals, n, n_evals).round().astype(int))  # noqa: E731
    results = {"protocol": {"steps": steps, "transformer_steps": t_steps, "seeds": seeds,
                            "hidden": hidden, "batch": 64, "optimizer": "Adam lr 2e-3"}}
    started = time.perf_counter()

    # 1. recurrent normalization, two sequence forms
    part1 = {}
    for form, convert in (("rows", as_rows), ("patches", as_patches)):
        xtr, xte = convert(x_train), convert(x_test)
        data = (xtr, y_train, xte[:probe], y_test[:probe])
        tests = {"test": (xte, y_test, None)}
        T, F_ = xtr.shape[1:]
        for norm in RECURRENT:
            runs = [train(lambda: Recurrent(norm, F_, hidden, T), data, steps, s,
                          evals(steps), test_sets=tests) for s in seeds]
            part1[f"{form}/{norm}"] = {"runs": runs, "summary": summarize(runs)}
            print(f"1. {form:8s} {norm:12s} test acc "
                  f"{part1[f'{form}/{norm}']['summary']['test'][0]:.4f}")
    results["recurrent"] = part1

    # 2. variable lengths
    rng = np.random.default_rng(1234)
    train_len = rng.integers(14, 21, len(x_train))
    test_len = rng.integers(14, 21, len(x_test))
    xtr, xte = as_rows(x_train), as_rows(x_test)
    data = (xtr, y_train, xte[:probe], y_test[:probe])
    tests = {"in range": (xte, y_test, test_len),
             "all 28 rows": (xte, y_test, np.full(len(xte), 28))}
    part2 = {}
    for variant in LENGTH_VARIANTS:
        norm = "layer" if variant == "layer" else "batch"
        masked = variant == "batch (masked)"
        runs = [train(lambda: Recurrent(norm, 28, hidden, 28), data, steps, s, evals(steps),
                      lengths=train_len, masked=masked, test_sets=tests) for s in seeds]
        part2[variant] = {"runs": runs, "summary": summarize(runs)}
        summary = part2[variant]["summary"]
        print(f"2. {variant:22s} in range {summary['in range'][0]:.4f}  "
              f"all 28 rows {summary['all 28 rows'][0]:.4f}")
    results["variable_lengths"] = part2

    # 3. transformer encoder
    part3 = {}
    data = (xtr, y_train, xte[:probe], y_test[:probe])
    tests = {"test": (xte, y_test, None)}
    for variant in TRANSFORMERS:
        runs = [train(lambda: Transformer(variant, d=16 if quick else 32), data, t_steps, s,
                      evals(t_steps), test_sets=tests) for s in seeds]
        part3[variant] = {"runs": runs, "summary": summarize(runs)}
        print(f"3. {variant:8s} test acc {part3[variant]['summary']['test'][0]:.4f}")
    results["transformer"] = part3
    results["seconds"] = time.perf_counter() - started
    print(f"took {results['seconds']:.0f} s")
    return results


def plot(plt, results):
    fig, axes = plt.subplots(1, 4, figsize=(18, 4))
    colors = dict(zip(RECURRENT, ("tab:gray", "tab:blue", "tab:red", "tab:purple")))
    for ax, form in zip(axes[:2], ("rows", "patches")):
        for norm in RECURRENT:
            runs = results["recurrent"][f"{form}/{norm}"]["runs"]
            steps = [c["step"] for c in runs[0]["curve"]]
            acc = np.array([[c["test_acc"] for c in r["curve"]] for r in runs])
            ax.errorbar(steps, acc.mean(0), yerr=acc.std(0) if len(acc) > 1 else None,
                        label=norm, color=colors[norm], capsize=2)
        ax.set(title=f"1. LSTM on MNIST {form}", xlabel="update", ylabel="test accuracy")
        ax.legend()
    ax = axes[2]
    names = list(results["variable_lengths"])
    for k, test in enumerate(("in range", "all 28 rows")):
        means = [results["variable_lengths"][n]["summary"][test][0] for n in names]
        stds = [results["variable_lengths"][n]["summary"][test][1] for n in names]
        ax.bar(np.arange(len(names)) + 0.4 * k, means, 0.4, yerr=stds, capsize=2, label=test)
    ax.set_xticks(np.arange(len(names)) + 0.2, names, rotation=15, fontsize=8)
    ax.set(title="2. variable lengths (rows 14-20 in training)", ylabel="test accuracy")
    ax.legend()
    ax = axes[3]
    for variant in results["transformer"]:
        runs = results["transformer"][variant]["runs"]
        steps = [c["step"] for c in runs[0]["curve"]]
        acc = np.array([[c["test_acc"] for c in r["curve"]] for r in runs])
        ax.errorbar(steps, acc.mean(0), yerr=acc.std(0) if len(acc) > 1 else None,
                    label=variant, capsize=2)
    ax.set(title="3. transformer encoder on 28 row tokens", xlabel="update",
           ylabel="test accuracy")
    ax.legend()
    fig.tight_layout()


if __name__ == "__main__":
    main()
