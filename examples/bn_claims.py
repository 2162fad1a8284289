"""Every claim about batch normalization, measured: runs the studies of ``examples/claims/``
and writes one report, ``<out>/bn_claims.md``, with a row and a figure per claim.

    python examples/bn_claims.py                 # every study, then the report
    python examples/bn_claims.py --quick         # every study on a subset: a smoke test
    python examples/bn_claims.py --only depth    # one study (or several, comma-separated)
    python examples/bn_claims.py --gather        # no runs: the report from results written

Each study writes ``<out>/claim_<name>.json`` and ``.png``; the report gathers every study
whose JSON is in ``<out>``, so one study can be rerun alone and the report stays whole.
A study's protocol and the prediction of its claim are in its module's docstring
(``examples/claims/<name>.py``), written before it was run.
"""
import json
import os
import time

import claims
from _common import load_mnist, parser, save, setup


def run_study(args, name, mnist):
    study = claims.load(name)
    start, cpu = time.perf_counter(), time.process_time()
    results = study.run(args, mnist)
    results = {"name": name, "seconds": round(time.perf_counter() - start, 1),
               "cpu_seconds": round(time.process_time() - cpu, 1),
               "load_average": [round(x, 2) for x in os.getloadavg()], **results}
    save(args, f"claim_{name}", results, study.plot)
    print(f"{name}: {results['seconds']:.1f} s ({results['cpu_seconds']:.1f} s of CPU time, "
          f"load average {results['load_average'][0]:.2f})")
    return results


def gathered(out):
    """{name: results} of every study whose JSON is in ``out``, in the report's order."""
    found = {}
    for name in claims.STUDIES:
        path = os.path.join(out, f"claim_{name}.json")
        if os.path.exists(path):
            with open(path) as f:
                found[name] = json.load(f)
    return found


def cell(text):
    return " ".join(str(text).split()).replace("|", "\\|")


def rows_of(study, summary):
    """The report's rows for one study: its own claim, or the several it tests."""
    rows = summary.get("rows") or [{"title": study.TITLE, "claim": study.CLAIM,
                                    "protocol": study.PROTOCOL, **summary}]
    for row in rows:
        if row["verdict"] not in claims.VERDICTS:
            raise ValueError(f"study {study.NAME}: verdict {row['verdict']!r} is not one of "
                             f"{claims.VERDICTS}")
    return rows


def report(out, found):
    """The Markdown report of the studies in ``found``; those missing are listed as such."""
    table, sections = [], []
    for name in claims.STUDIES:
        study = claims.load(name)
        if name not in found:
            table.append(f"| {cell(study.CLAIM)} | {cell(study.PROTOCOL)} | not run | — |")
            continue
        results = found[name]
        summary = study.summarize(results)
        rows = rows_of(study, summary)
        quick = " (--quick: a smoke test, not a result)" if results.get("quick") else ""
        anchor = name.replace("_", "-")
        for row in rows:
            table.append(f"| [{cell(row['title'])}](#{anchor}): {cell(row['claim'])} | "
                         f"{cell(row['protocol'])} | {cell(row['numbers'])}{quick} | "
                         f"**{row['verdict']}** |")
        figure = f"claim_{name}.png"
        findings = [f"- {row['title']}: {row['numbers']}{quick}. **Verdict: {row['verdict']}.**"
                    for row in rows]
        sections.append("\n".join([
            f'<a id="{anchor}"></a>', "",
            f"## {study.TITLE}", "",
            f"**Claim.** {study.CLAIM}", "",
            f"**Protocol** (`examples/claims/{name}.py`, written before the runs).", "",
            (study.__doc__ or "").strip(), "",
            f"**Numbers** ({results['seconds']:.0f} s):", "", *findings, "",
            summary.get("detail", "").strip(), "",
            f"![{name}]({figure})" if os.path.exists(os.path.join(out, figure)) else "",
            ""]))
    lines = ["# Claims about batch normalization, measured", "",
             "Written by `python examples/bn_claims.py`. Verdicts: reproduced, partly, "
             "not reproduced, or reversed, each decided by the rule in its study's "
             "docstring.", "",
             "| claim | protocol | numbers | verdict |", "|---|---|---|---|", *table, "",
             *sections]
    path = os.path.join(out, "bn_claims.md")
    with open(path, "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")
    print(f"wrote {path}")
    return path


def main():
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--only", default=None,
                   help="comma-separated study names to run (default: all): "
                        + ", ".join(claims.STUDIES))
    p.add_argument("--gather", action="store_true",
                   help="run nothing: write the report from the JSON files in --out")
    p.add_argument("--seeds", type=int, default=3, help="seeds per configuration (2 in --quick)")
    for name in claims.STUDIES:
        add = getattr(claims.load(name), "add_arguments", None)
        if add is not None:
            add(p)
    args = p.parse_args()
    # every study's seeds: 2 in --quick, else --seeds of them from --seed on
    args.seed_list = list(range(args.seed, args.seed + (2 if args.quick else args.seeds)))
    setup(args)
    names = claims.STUDIES if args.only is None else [n.strip() for n in args.only.split(",")]
    for name in names:
        claims.load(name)   # an unknown name fails before anything runs
    if not args.gather:
        mnist = load_mnist(args)
        start = time.perf_counter()
        for name in names:
            run_study(args, name, mnist)
        print(f"ran {len(names)} studies in {time.perf_counter() - start:.0f} s")
    report(args.out, gathered(args.out))


if __name__ == "__main__":
    main()
