"""The sequence-model claims, measured by ``examples/sequence_norm_study.py``: its protocol
(in that script's docstring, fixed before its first run) with its own seeds, 0 and 1.

Its predictions were written before the runs; the verdict rules below were added when the
study joined this report, after its first run, and only restate those predictions as
tests on the numbers. "Ahead" and "behind" mean a difference of the seed means larger than
their combined spread, sqrt(std_a^2 + std_b^2) (two seeds resolve only large differences).

1. Recurrent BN (Cooijmans et al. 2016) and recurrent LN (Ba et al. 2016) against the plain
   LSTM, on both sequence forms: reproduced if the normalized LSTM is ahead on both forms,
   partly if on one, reversed if it is behind on both, else not reproduced.
2. Variable lengths: LN against both per-step BN variants, on sequences in the training
   range and on all 28 rows: reproduced if LN is ahead of both in both tests, partly if in
   one, reversed if LN is behind either in both, else not reproduced.
3. Transformers: BN in place of each LayerNorm against post-LN and pre-LN; the claim that
   transformers need LN is reproduced if BN is behind both, reversed if it is ahead of
   both, partly if behind one, else not reproduced.
"""
import math

import sequence_norm_study as seq

NAME = "sequence"
TITLE = "Sequences: RNNs, variable lengths, transformers"
CLAIM = ("BN fails in recurrent nets and with variable-length sequences, where layer "
         "normalization is essential, transformers included (Ba et al. 2016; Cooijmans et "
         "al. 2016 argue per-step BN helps LSTMs).")
PROTOCOL = ("MNIST as 28 rows or 49 patches; LSTM (hidden 64) plain / LN / per-step BN / "
            "BLN, 300 Adam updates; rows cut to 14-20 for variable lengths; 2-layer "
            "transformer, post-LN / pre-LN / BN, 400 updates; 2 seeds.")


def run(args, mnist):
    seeds = args.seed_list[:1] if args.quick else args.seed_list[:2]
    return seq.study(mnist, args.quick, seeds)


plot = seq.plot


def _compare(a, b):
    """+1 if (mean, std) ``a`` is ahead of ``b`` by more than their combined spread, -1 if
    behind, 0 otherwise."""
    gap = a[0] - b[0]
    spread = math.hypot(a[1], b[1])
    return 1 if gap > spread else -1 if gap < -spread else 0


def _fmt(ms):
    return f"{ms[0]:.3f} ± {ms[1]:.3f}"


def summarize(results):
    rec = {k: v["summary"]["test"] for k, v in results["recurrent"].items()}
    rows = []
    for norm, who in (("batch", "Per-step BN (Cooijmans et al. 2016)"),
                      ("layer", "Recurrent LN (Ba et al. 2016)")):
        signs = [_compare(rec[f"{form}/{norm}"], rec[f"{form}/none"])
                 for form in ("rows", "patches")]
        verdict = ("reproduced" if signs == [1, 1] else "reversed" if signs == [-1, -1]
                   else "partly" if 1 in signs else "not reproduced")
        rows.append({
            "title": f"{who} in an LSTM",
            "claim": f"{who} makes an LSTM train faster than without normalization.",
            "protocol": "One LSTM layer (hidden 64) on MNIST rows (28 steps) and patches "
                        "(49 steps), 300 Adam updates, 2 seeds.",
            "numbers": "; ".join(f"{form}: {_fmt(rec[f'{form}/{norm}'])} vs plain "
                                 f"{_fmt(rec[f'{form}/none'])}"
                                 for form in ("rows", "patches")),
            "verdict": verdict})
    var = {k: v["summary"] for k, v in results["variable_lengths"].items()}
    tests = ("in range", "all 28 rows")
    ahead = [all(_compare(var["layer"][t], var[b][t]) == 1
                 for b in ("batch (padded stats)", "batch (masked)")) for t in tests]
    behind = [any(_compare(var["layer"][t], var[b][t]) == -1
                  for b in ("batch (padded stats)", "batch (masked)")) for t in tests]
    rows.append({
        "title": "Variable-length sequences",
        "claim": "With variable-length sequences BN fails and LN is the fix (Ba et al. 2016).",
        "protocol": "LSTM on MNIST rows cut to 14-20 per image; per-step BN (padded or "
                    "masked statistics) vs LN; test in range and on all 28 rows; 2 seeds.",
        "numbers": "; ".join(f"{t}: LN {_fmt(var['layer'][t])}, BN "
                             f"{_fmt(var['batch (padded stats)'][t])}, masked BN "
                             f"{_fmt(var['batch (masked)'][t])}" for t in tests),
        "verdict": ("reproduced" if all(ahead) else "reversed" if all(behind)
                    else "partly" if any(ahead) else "not reproduced")})
    tr = {k: v["summary"]["test"] for k, v in results["transformer"].items()}
    signs = [_compare(tr["BN"], tr[v]) for v in ("post-LN", "pre-LN")]
    rows.append({
        "title": "Transformers",
        "claim": "Transformers need layer normalization; BN in its place trains worse "
                 "(Vaswani et al. 2017; Shen et al. 2020).",
        "protocol": "2-layer encoder (d_model 32, 4 heads) on 28 row tokens, 400 Adam "
                    "updates: post-LN, pre-LN, BN in place of each LN; 2 seeds.",
        "numbers": f"BN {_fmt(tr['BN'])}, post-LN {_fmt(tr['post-LN'])}, pre-LN "
                   f"{_fmt(tr['pre-LN'])}",
        "verdict": ("reproduced" if signs == [-1, -1] else "reversed" if signs == [1, 1]
                    else "partly" if -1 in signs else "not reproduced")})
    detail = ("What the data show, and the limits of two seeds on MNIST, are discussed in "
              "§8 of `docs/studies.md` (the `sequence_norm_study.py` section).")
    return {"rows": rows, "detail": detail}
