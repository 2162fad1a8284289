"""The README and docs/ stay navigable: every relative link and image resolves, every
``#anchor`` names a heading of its page (GitHub's slugs), the README keeps the two command
blocks .ci/run reads, and it stays short enough for a newcomer's first hour."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

# The README's line budget: it holds what a newcomer needs first, the rest lives in docs/.
# Raise it only together with a reason; reference text belongs in a docs/ page.
README_MAX_LINES = 200



def pages():
    """The markdown files whose links are checked: README, CONTRIBUTING and docs/."""
    return [README, ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]


# ---------------------------------------------------------------- reading markdown

FENCE = re.compile(r"^ {0,3}(```|~~~)")
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
# [text](target "title") and ![alt](target); the text may hold one level of brackets
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+[\"'(][^)]*)?\)")
REFERENCE_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
HTML_ATTR = re.compile(r"""<[a-zA-Z][^>]*?\s(?:src|href)\s*=\s*["']([^"']*)["']""")
HTML_ID = re.compile(r"""<[a-zA-Z][^>]*?\s(?:id|name)\s*=\s*["']([^"']*)["']""")
ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")


def prose_lines(text):
    """(line number, line) outside fenced code blocks."""
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def link_targets(text):
    """(line number, target) of every link, image and HTML src/href, outside code."""
    for number, line in prose_lines(text):
        line = INLINE_CODE.sub("", line)
        for pattern in (INLINE_LINK, REFERENCE_DEF, HTML_ATTR):
            for match in pattern.finditer(line):
                yield number, match.group(1)


def slug(heading):
    """GitHub's anchor for a heading: its text as rendered (markup dropped), lowercased,
    every character but letters, digits, spaces, '-' and '_' removed, spaces to '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)   # links and images: their text
    text = re.sub(r"<[^>]+>", "", text)                         # inline HTML tags
    text = text.strip().lower()
    text = "".join(c for c in text if c.isalnum() or c in " -_")
    return text.replace(" ", "-")


def anchors(path):
    """Every anchor a markdown file defines: heading slugs (repeats get -1, -2, ... as on
    GitHub) and explicit HTML ids."""
    seen, found = {}, set()
    lines = list(prose_lines(path.read_text(encoding="utf-8")))
    headings = []
    for i, (number, line) in enumerate(lines):
        match = ATX_HEADING.match(line)
        if match:
            headings.append(match.group(2))
        elif SETEXT_UNDERLINE.match(line) and i > 0:
            before_number, before = lines[i - 1]       # "Title" over "=====" or "-----"
            if (before_number == number - 1 and before.strip() and not ATX_HEADING.match(before)
                    and not re.match(r"^\s*([-*+>|]|\d+[.)])", before)):
                headings.append(before)
        found.update(HTML_ID.findall(line))
    for heading in headings:
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(path):
    """'line: target (why)' for each relative link of ``path`` that does not resolve."""
    problems = []
    for number, target in link_targets(path.read_text(encoding="utf-8")):
        if not target or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith("//"):
            continue                                            # absolute URL, mailto:, ...
        file_part, _, anchor = target.partition("#")
        file_part = file_part.split("?")[0]
        dest = (path.parent / file_part).resolve() if file_part else path
        if file_part.startswith("/"):
            problems.append(f"{number}: {target} (absolute path: GitHub resolves it elsewhere)")
            continue
        if not dest.exists():
            problems.append(f"{number}: {target} (no such file)")
            continue
        if anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            problems.append(f"{number}: {target} (no heading '#{anchor}' in {dest.name})")
    return problems


# ---------------------------------------------------------------- the checks

@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_image_resolves(page):
    problems = broken_links(page)
    assert not problems, f"{page.relative_to(ROOT)}, broken links:\n" + "\n".join(problems)


def marker_command(text, name):
    """The command between ``<!-- name -->`` and ``<!-- /name -->``, read as .ci/run reads
    it: marker and fence lines dropped, ``# comments`` stripped, blank lines dropped."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == f"<!-- {name} -->"]
    ends = [i for i, line in enumerate(lines) if line.strip() == f"<!-- /{name} -->"]
    assert len(starts) == 1 and len(ends) == 1, f"README.md needs one <!-- {name} --> block"
    assert starts[0] < ends[0], f"<!-- /{name} --> comes before <!-- {name} -->"
    body = [re.sub(r"\s*#.*$", "", line) for line in lines[starts[0] + 1:ends[0]]
            if not line.startswith(("<!--", "```"))]
    return "\n".join(line for line in body if line.strip())


@pytest.mark.parametrize("name, needs", [("install-command", "pip install"),
                                         ("test-command", "pytest")])
def test_readme_keeps_the_commands_ci_runs(name, needs):
    command = marker_command(README.read_text(encoding="utf-8"), name)
    assert command, f"no command between the {name} markers in README.md (.ci/run needs one)"
    assert needs in command


@pytest.mark.parametrize("name", ["install-command", "test-command"])
def test_ci_reads_the_same_command(name):
    """.ci/run's own reader (its shell function, run here) finds what the test above read."""
    ci = ROOT / ".ci" / "run"
    reader = ci.exists() and re.search(r"^from_readme\(\) \{.*?^\}", ci.read_text(), re.S | re.M)
    if not reader or shutil.which("bash") is None:
        pytest.skip("no .ci/run with a from_readme function, or no bash")
    script = f"set -euo pipefail\n{reader.group(0)}\nfrom_readme {name}"
    out = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == marker_command(README.read_text(encoding="utf-8"), name)


def test_readme_stays_within_its_line_budget():
    lines = len(README.read_text(encoding="utf-8").splitlines())
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines, over its budget of {README_MAX_LINES}: move reference "
        f"text into a docs/ page and link it")


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(README.parent / t.partition("#")[0]).resolve()
              for _, t in link_targets(README.read_text(encoding="utf-8"))}
    orphans = [p.name for p in sorted((ROOT / "docs").glob("*.md")) if p.resolve() not in linked]
    assert not orphans, f"docs pages no README link leads to: {orphans}"


def test_every_study_plot_is_shown_in_the_readme_and_in_a_docs_page():
    def shown(paths):
        return {(p.parent / t).resolve() for p in paths
                for _, t in link_targets(p.read_text(encoding="utf-8"))}
    in_readme, in_docs = shown([README]), shown(sorted((ROOT / "docs").glob("*.md")))
    plots = sorted((ROOT / "docs" / "examples").glob("*.png"))
    assert plots
    missing = [p.name for p in plots if p.resolve() not in in_readme]
    assert not missing, f"study plots the README's table does not show: {missing}"
    missing = [p.name for p in plots if p.resolve() not in in_docs]
    assert not missing, f"study plots no docs page shows: {missing}"


# ---------------------------------------------------------------- the checker itself

@pytest.mark.parametrize("heading, expected", [
    ("Install", "install"),
    ("GPU (CUDA through CuPy)", "gpu-cuda-through-cupy"),
    ("Optimizers, schedules, checkpoints", "optimizers-schedules-checkpoints"),
    ("1. `bn_mnist.py` — the BN paper's Figure 1", "1-bn_mnistpy--the-bn-papers-figure-1"),
    ("4. `cnn_mnist.py` — Conv→BN→ReLU to 99%, then BN folding",
     "4-cnn_mnistpy--convbnrelu-to-99-then-bn-folding"),
    ("DataLoader and `minigrad.utils.data`", "dataloader-and-minigradutilsdata"),
    ("See [the data page](data.md)", "see-the-data-page"),
])
def test_slugs_follow_github(heading, expected):
    assert slug(heading) == expected


def test_the_checker_reports_what_is_broken(tmp_path):
    (tmp_path / "other.md").write_text("# Other page\n\n## Same\n\n## Same\n")
    (tmp_path / "pic.png").write_bytes(b"")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n"
        "[ok](other.md) [ok](other.md#other-page) [ok](other.md#same-1) [ok](#page)\n"
        "![ok](pic.png) <img src=\"pic.png\"> [web](https://example.org/x.md)\n"
        "`[in code](missing-in-code.md)`\n"
        "```\n[in a fence](missing-in-fence.md)\n```\n"
        "[gone](missing.md) ![gone](missing.png) <img src=\"nope.png\" width=\"9\">\n"
        "[bad anchor](other.md#nowhere) [bad self](#nowhere) [twice](other.md#same-2)\n")
    assert broken_links(page) == [
        "9: missing.md (no such file)",
        "9: missing.png (no such file)",
        "9: nope.png (no such file)",
        "10: other.md#nowhere (no heading '#nowhere' in other.md)",
        "10: #nowhere (no heading '#nowhere' in page.md)",
        "10: other.md#same-2 (no heading '#same-2' in other.md)",
    ]


def test_contributing_names_only_files_that_exist():
    """CONTRIBUTING.md says which files to touch: every path it writes in backquotes
    (containing a slash, or a file name with a known extension) exists, so a move that
    forgets it fails here. ``<family>`` stands for any family file of that folder."""
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    missing = []
    for path in re.findall(r"`([^`\s]+)`", text):
        if not ("/" in path or re.search(r"\.(py|pyx|md|cu|cuh|cpp)$", path)):
            continue
        path = path.replace("<family>", "*")
        candidates = [ROOT / path, ROOT / "minigrad" / "ops" / path, ROOT / "tests" / path,
                      ROOT / "minigrad" / "_kernels" / path,
                      ROOT / "minigrad" / "backend" / "cuda" / "kernels" / path]
        if "*" in path:
            if not any(list(c.parent.glob(c.name)) for c in candidates):
                missing.append(path)
        elif not any(c.exists() for c in candidates):
            missing.append(path)
    assert not missing, f"CONTRIBUTING.md names paths that do not exist: {missing}"


def test_the_readme_look_inside_example_runs(capsys):
    """README's "Look inside" code block runs as written, after the Quickstart's imports."""
    pytest.importorskip("graphviz")
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    (code,) = [b for b in blocks if "make_dot" in b]
    prelude = "import minigrad as mg\nimport minigrad.nn as nn\nimport minigrad.nn.functional as F\n"
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        exec(compile(prelude + code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "Total params: 79,710" in out and "Self CPU %" in out
