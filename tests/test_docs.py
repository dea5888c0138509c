"""The documentation holds: docstring examples run, and README.md and docs/*.md link, show and run true.

- Every Examples section in the library's docstrings runs and gives what it shows.
- Every relative link and image in README.md and docs/*.md points to a file that exists, and every
  ``#anchor`` to a heading of the page it names (GitHub's heading slugs).
- Every ``convcli ...`` shell example of those pages that works on shipped files (``sample_images/``,
  ``kernels/``) runs in a temporary folder with the exit code the page shows; the others are listed, with
  the reason, in :data:`NOT_RUN` (nothing is skipped silently: an entry that matches no example fails).
- Every Python block of those pages runs there too, except those listed in :data:`PYTHON_NOT_RUN`.
"""

from __future__ import annotations

import doctest
import importlib
import os
import pkgutil
import re
import shutil
import subprocess
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pytest

import convcli

MODULES = sorted(m.name for m in pkgutil.walk_packages(convcli.__path__, "convcli."))
ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
needs_docs = pytest.mark.skipif(not (DOCS / "library.md").is_file(), reason="needs the repository's docs folder")


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


def test_public_functions_have_examples() -> None:
    for name in ["correlate", "convolve", "choose_method", "pool", "output_size", "pool_output_size"]:
        doc = getattr(convcli, name).__doc__ or ""
        assert "Examples" in doc and ">>>" in doc, name


# --- reading Markdown ----------------------------------------------------------------------------------------

FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^()\s]+)\)")


def prose(text: str) -> str:
    """``text`` without fenced blocks and with every code span's content blanked (a link inside is none)."""
    text = FENCE.sub("", text)
    return re.sub(r"`[^`\n]*`", "`code`", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the text without markup, lower case, punctuation dropped, spaces -> '-'."""
    text = re.sub(r"`([^`]*)`", r"\1", heading.strip()).lower()
    kept = "".join(ch for ch in text if ch in " -_" or unicodedata.category(ch)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every anchor a page has (repeated headings get -1, -2, ... as on GitHub)."""
    seen: dict[str, int] = {}
    found = set()
    for line in FENCE.sub("", page.read_text(encoding="utf-8")).splitlines():
        match = re.match(r"#{1,6} (.+)", line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def test_slugs_are_githubs() -> None:
    """Headings of these pages whose GitHub anchors are known (read off github.com's rendering rules)."""
    assert slug("Missing data (NaN)") == "missing-data-nan"
    assert slug("Filtering images: `convcli apply`") == "filtering-images-convcli-apply"
    assert slug("1-D sequences and long multiplication") == "1-d-sequences-and-long-multiplication"
    assert slug("What the client and the scheduler hold, and ten million files") == (
        "what-the-client-and-the-scheduler-hold-and-ten-million-files")
    assert slug("Slurm (dask-jobqueue) and Kubernetes") == "slurm-dask-jobqueue-and-kubernetes"
    assert slug("Images: `convcli.imageio`") == "images-convcliimageio"


# --- links and pictures --------------------------------------------------------------------------------------


@needs_docs
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_and_image_resolves(page: Path) -> None:
    text = prose(page.read_text(encoding="utf-8"))
    targets = LINK.findall(text)
    assert targets, f"{page.name} links to nothing"
    broken = []
    for target in targets:
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no file {file.relative_to(ROOT) if file.is_relative_to(ROOT) else file}")
        elif not file.is_relative_to(ROOT):
            broken.append(f"{target}: outside the repository")
        elif anchor and (file.suffix != ".md" or anchor not in anchors(file)):
            broken.append(f"{target}: no heading #{anchor} in {file.name}")
    assert not broken, f"{page.name}:\n" + "\n".join(broken)


@needs_docs
def test_the_readme_is_short_and_leads_to_every_page() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250
    first = "pip install . && convcli apply sample_images/astronaut.png -k gaussian:sigma=3 -o blurred.png"
    test_command = "pip install '.[test]' && ruff check . && mypy && pytest"
    assert readme.startswith(f"# convcli\n\n```bash\n{first}\n{test_command}\n")
    linked = {Path(t.partition("#")[0]).name for t in LINK.findall(prose(readme))}
    assert {p.name for p in DOCS.glob("*.md")} <= linked


@needs_docs
@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_every_page_links_to_the_readme_and_every_other_page(page: Path) -> None:
    linked = {Path(t.partition("#")[0]).name for t in LINK.findall(prose(page.read_text(encoding="utf-8")))}
    others = {p.name for p in DOCS.glob("*.md")} - {page.name}
    assert others <= linked, f"{page.name} does not link to {sorted(others - linked)}"
    assert "README.md" in linked


@needs_docs
def test_every_picture_in_docs_is_shown_on_a_page() -> None:
    shown = set()
    for page in PAGES:
        for target in LINK.findall(prose(page.read_text(encoding="utf-8"))):
            shown.add((page.parent / target.partition("#")[0]).resolve())
    pictures = [p for p in DOCS.iterdir() if p.suffix in (".png", ".gif", ".svg", ".jpg")]
    assert pictures
    assert not [p.name for p in pictures if p.resolve() not in shown]
    assert (ROOT / "benchmarks" / "results" / "ratios.png").resolve() in shown


# --- shell examples ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    page: str
    command: str
    exit_code: int
    setup: tuple[str, ...]  # the commands before it in its block, run first (only those in SETUP)
    shown: str = ""  # what a console block shows after the command

    def __str__(self) -> str:
        return f"{self.page}: {self.command}"


#: commands without convcli that the examples after them need, run before them in the same folder
SETUP = {"""python -c "print('9' * 100000)" > nines.txt""", "printf '1 2 1\\n0 0\\n' > ragged.txt"}

#: examples that need what the repository does not ship, by the start of the command: the reason
NOT_RUN = {
    "convcli apply photos/": "needs a photos/ folder",
    "convcli apply -r photos/": "needs a photos/ folder",
    "convcli apply 'photos/": "needs a photos/ folder",
    "find photos": "needs a photos/ folder and a stamp file",
    "cat scan.png": "needs scan.png",
    "convcli apply photo.png": "needs photo.png (and broken.png, bomb.png: a damaged file and a decompression bomb)",
    "convcli apply noise.png": "needs a full disk",
    "convcli --install-completion": "changes the reader's shell start-up files",
    "convcli apply -r many": "needs a many/ folder and a Ctrl-C",
    "convcli apply survey.npy": "needs survey.npy, a float image with NaN",
    "convcli apply depth.png": "needs depth.png and its mask valid.png",
    "convcli apply scan16.tif": "needs a 16-bit RGB TIFF",
    "convcli apply slide.tif": "needs a tiled TIFF slide",
    "convcli apply satellite.tif": "needs a 10-gigapixel TIFF",
    "convcli apply -r /shared/photos": "needs a Dask scheduler at 10.0.0.5",
    "convcli apply 'photos/*.jpg' -k sharpen --outdir sharp/ --scheduler local": "needs a photos/ folder",
    "convcli apply -r /mnt/shared/photos": "needs a Kubernetes cluster",
    "convcli apply /shared/slide": "needs a shared slide and a Dask cluster",
}

_ENV = re.compile(r"^(?:[A-Z_]+=\S+ )*")


def _commands(lang: str, body: str) -> list[tuple[str, str]]:
    """(command, what follows it) for each command of a bash or console block; continuations joined."""
    lines = body.splitlines()
    found: list[tuple[str, str]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if lang == "console" and not line.startswith("$ "):
            i += 1
            continue
        command = line[2:] if lang == "console" else line
        while command.endswith("\\") and i + 1 < len(lines):
            i += 1
            command = command[:-1].rstrip() + " " + lines[i].strip()
        i += 1
        after = []
        while lang == "console" and i < len(lines) and not lines[i].startswith("$ "):
            after.append(lines[i])
            i += 1
        if command.strip() and not command.lstrip().startswith("#"):
            found.append((command.strip(), "\n".join(after)))
    return found


def _has_convcli(command: str) -> bool:
    return any(_ENV.sub("", part.strip()).startswith("convcli ") for part in command.split("|"))


def shell_examples() -> list[Example]:
    examples = []
    for page in PAGES:
        for lang, body in FENCE.findall(page.read_text(encoding="utf-8")):
            if lang not in ("bash", "console", "sh"):
                continue
            setup: list[str] = []
            for command, after in _commands(lang, body):
                if not _has_convcli(command):
                    if command in SETUP:
                        setup.append(command)
                    continue
                stated = re.search(r"# exit (\d+)", command)
                code = int(stated.group(1)) if stated else 1 if after.startswith("Error:") else 0
                examples.append(Example(page.relative_to(ROOT).as_posix(), command, code, tuple(setup), after))
    return examples


EXAMPLES = shell_examples() if (DOCS / "library.md").is_file() else []


def _not_run(example: Example) -> str | None:
    return next((why for start, why in NOT_RUN.items() if example.command.startswith(start)), None)


@needs_docs
def test_the_examples_not_run_are_exactly_those_listed() -> None:
    """Every NOT_RUN entry matches an example (no stale entry), and the pages still have examples to run."""
    assert len(EXAMPLES) > 40
    unmatched = [start for start in NOT_RUN if not any(e.command.startswith(start) for e in EXAMPLES)]
    assert not unmatched
    run = [e for e in EXAMPLES if _not_run(e) is None]
    assert len(run) >= 30 and {e.page for e in run} >= {"README.md", "docs/apply-and-batches.md", "docs/kernels.md",
                                                          "docs/outsize-and-learning.md", "docs/errors.md"}


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding copies of the shipped sample_images/ and kernels/, as the repository's root does."""
    folder = tmp_path_factory.mktemp("shipped")
    for name in ("sample_images", "kernels"):
        shutil.copytree(ROOT / name, folder / name)
    return folder


def _run(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
                          executable="/bin/bash", stdin=subprocess.DEVNULL)


@needs_docs
@pytest.mark.parametrize("example", [e for e in EXAMPLES if _not_run(e) is None], ids=str)
def test_shell_example_runs(example: Example, shipped: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    shutil.copytree(shipped, work, copy_function=os.link)
    for command in example.setup:
        assert _run(command, work).returncode == 0, command
    proc = _run(example.command, work)
    assert proc.returncode == example.exit_code, f"{example}\nstdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr}"
    if example.shown:
        got = proc.stdout + proc.stderr
        assert shows(example.shown, got), f"{example}\nshown:\n{example.shown}\ngot:\n{got}"


def shows(shown: str, got: str) -> bool:
    """Whether ``got`` is what a console block shows: the same words (a page may wrap a long line), or, where
    the page elides with a ``...`` line, each part it does show, in order."""
    if "..." not in shown.splitlines():
        return shown.split() == got.split()
    words, start = got.split(), 0
    parts = "\n".join("\0" if line == "..." else line for line in shown.splitlines()).split("\0")
    for part in (p.split() for p in parts):
        found = next((i for i in range(start, len(words) - len(part) + 1) if words[i:i + len(part)] == part), None)
        if found is None:
            return False
        start = found + len(part)
    return True


# --- Python examples -----------------------------------------------------------------------------------------

#: Python blocks not run, by a line they hold: the reason
PYTHON_NOT_RUN = {
    'open_image("satellite.tif")': "needs a 10-gigapixel TIFF",
    "from dask_jobqueue import SLURMCluster": "needs a Slurm cluster",
    "from dask_kubernetes.operator import KubeCluster": "needs a Kubernetes cluster",
    'Client("tcp://10.0.0.5:8786")': "needs a Dask scheduler at 10.0.0.5",
}


def python_blocks() -> list[tuple[str, int, str]]:
    blocks = []
    for page in PAGES:
        fenced = [body for lang, body in FENCE.findall(page.read_text(encoding="utf-8")) if lang == "python"]
        blocks += [(page.relative_to(ROOT).as_posix(), i, body) for i, body in enumerate(fenced, 1)]
    return blocks


PYTHON = python_blocks() if (DOCS / "library.md").is_file() else []


@needs_docs
def test_the_python_blocks_not_run_are_exactly_those_listed() -> None:
    assert not [line for line in PYTHON_NOT_RUN if not any(line in body for _, _, body in PYTHON)]
    assert len([b for b in PYTHON if not any(line in b[2] for line in PYTHON_NOT_RUN)]) >= 8


@needs_docs
@pytest.mark.parametrize(("page", "number", "code"),
                         [b for b in PYTHON if not any(line in b[2] for line in PYTHON_NOT_RUN)],
                         ids=[f"{p}-block{n}" for p, n, b in PYTHON if not any(line in b for line in PYTHON_NOT_RUN)])
def test_python_block_runs(page: str, number: int, code: str, shipped: Path, monkeypatch: pytest.MonkeyPatch,
                           tmp_path: Path) -> None:
    work = tmp_path / "work"
    shutil.copytree(shipped, work, copy_function=os.link)
    monkeypatch.chdir(work)
    exec(compile(code, f"{page}, Python block {number}", "exec"), {"__name__": "__docs__"})
