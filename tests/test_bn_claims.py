"""``examples/bn_claims.py`` as a whole: ``--quick`` runs every study and writes one report
with a row and a verdict per claim; ``--gather`` rewrites it from the results alone; an
unknown study name fails before anything runs. (Each study's own numbers are checked in
tests/test_claims_*.py, on the same quick run.)"""
import json
import subprocess
import sys

from test_examples import EXAMPLES, _check_png

sys.path.insert(0, str(EXAMPLES))
import claims  # noqa: E402


def quick_study(out, report, name):
    """Study ``name``'s results from the shared --quick run, after the checks every study
    gets (tests/test_claims_*.py): its plot, its header fields, and a verdict that its
    ``summarize`` computes and the report shows under its title."""
    study = claims.load(name)
    r = json.loads((out / f"claim_{name}.json").read_text())
    _check_png(out / f"claim_{name}.png")
    assert r["name"] == name and r["quick"] is True and r["seeds"] == [0, 1]
    s = study.summarize(r)
    assert s["verdict"] in claims.VERDICTS and "±" in s["numbers"] and s["detail"]
    assert f"## {study.TITLE}" in report and f"**Verdict: {s['verdict']}.**" in report
    return r


def _report_rows(report):
    return [line for line in report.splitlines() if line.startswith("| [")]


def test_quick_runs_every_study_into_one_report(bn_claims_quick):
    out, stdout = bn_claims_quick
    assert f"ran {len(claims.STUDIES)} studies" in stdout
    report = (out / "bn_claims.md").read_text()
    assert "not run" not in report
    rows = _report_rows(report)
    # one row per claim: the sequence study tests four of them
    assert len(rows) == len(claims.STUDIES) - 1 + 4
    for row in rows:
        assert any(row.endswith(f"**{v}** |") for v in claims.VERDICTS), row
    for name in claims.STUDIES:
        assert (out / f"claim_{name}.json").exists() and (out / f"claim_{name}.png").exists()
        assert f"![{name}](claim_{name}.png)" in report


def test_gather_rewrites_the_report_from_the_results_alone(bn_claims_quick, tmp_path):
    out, _ = bn_claims_quick
    first = (out / "bn_claims.md").read_text()
    proc = subprocess.run([sys.executable, str(EXAMPLES / "bn_claims.py"), "--gather",
                           "--out", str(out)], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ran " not in proc.stdout
    assert (out / "bn_claims.md").read_text() == first


def test_an_unknown_study_fails_before_anything_runs(tmp_path):
    proc = subprocess.run([sys.executable, str(EXAMPLES / "bn_claims.py"), "--only",
                           "depth,nonesuch", "--out", str(tmp_path)], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode != 0 and "no study 'nonesuch'" in proc.stderr
    assert not list(tmp_path.glob("claim_*"))
