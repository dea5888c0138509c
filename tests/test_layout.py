"""The shape of the code (DESIGN.md; issues 11 and 22): small files, a thin CLI, one owner per concern, imports
that run one way (function-level imports counted), no shims, a small public API."""

from __future__ import annotations

import ast
import itertools
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "convcli"
FILES = sorted(SRC.rglob("*.py"))
CLI_FILES = sorted((SRC / "cli").glob("*.py"))
MAX_PUBLIC_NAMES = 25


def _rel(path: Path) -> str:
    return str(path.relative_to(SRC.parent))


# --- reading imports and finding cycles ------------------------------------------------------------------------
#
# What an import statement runs, and so the arrows of the module graph:
# - ``import a.b.c`` runs a/__init__, a/b/__init__ and a/b/c: arrows to all three;
# - ``from X import y`` runs X (and its enclosing packages); when X.y is a submodule it runs X.y too: the arrow
#   goes to X.y (and to X, which runs first);
# - an arrow to a package that *encloses the importer* is left out when it is only the implicit run of an
#   enclosing package (Python has already started that package by the time the importer runs; a package
#   ``__init__`` re-exporting its own submodules is fine). An explicit ``from .. import name`` (a name taken from
#   an enclosing package's ``__init__``) is an arrow like any other.
# Every statement counts (module level, in functions, classes, try/except, if/else), except the body of
# ``if TYPE_CHECKING:``. ``importlib.import_module("a.b")`` with a literal name counts too; computed names cannot
# be read.


def module_names(package_dir: Path) -> dict[str, Path]:
    """Dotted name -> file of each module of the package in ``package_dir`` (``pkg/sub/__init__.py``: ``pkg.sub``)."""
    names = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _is_type_checking(test: ast.expr) -> bool:
    return ast.unparse(test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")


def _runtime_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """Every node below ``node`` that runs at some point, ``if TYPE_CHECKING:`` bodies aside (their ``else`` runs)."""
    for child in ast.iter_child_nodes(node):
        yield child
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.orelse:
                yield stmt
                yield from _runtime_nodes(stmt)
        else:
            yield from _runtime_nodes(child)


def _named_modules(node: ast.AST, package: str, modules: set[str]) -> list[str]:
    """The modules an import statement names explicitly, resolved to absolute names."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        if node.level:
            base = package.split(".")
            if node.level - 1 >= len(base):
                raise ValueError(f"relative import beyond the top-level package: line {node.lineno}")
            base = base[: len(base) - (node.level - 1)]
            target = ".".join([*base, node.module] if node.module else base)
        else:
            target = node.module or ""
        return [f"{target}.{alias.name}" if f"{target}.{alias.name}" in modules else target for alias in node.names]
    if (isinstance(node, ast.Call) and ast.unparse(node.func) in ("importlib.import_module", "import_module")
            and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
            and not node.args[0].value.startswith(".")):
        return [node.args[0].value]
    return []


#: module -> imported module -> where ("src/pkg/a.py:12", ...)
Graph = dict[str, dict[str, list[str]]]


def import_graph(package_dir: Path, *, relative_to: Path | None = None) -> Graph:
    """The graph of the package in ``package_dir``: which of its modules each of its modules runs, and where."""
    modules = module_names(package_dir)
    base = relative_to or package_dir.parent
    graph: Graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        parts = name.split(".")
        ancestors = {".".join(parts[:i]) for i in range(1, len(parts))}
        edges: dict[str, list[str]] = {}
        for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            for target in _named_modules(node, package, set(modules)):
                segments = target.split(".")
                enclosing = {".".join(segments[:i]) for i in range(1, len(segments))} - ancestors
                for reached in sorted({target} | enclosing):
                    if reached in modules and reached != name:
                        where = f"{path.relative_to(base)}:{getattr(node, 'lineno', 0)}"
                        if where not in edges.setdefault(reached, []):
                            edges[reached].append(where)
        graph[name] = edges
    return graph


def _strongly_connected(graph: Graph) -> list[list[str]]:
    """Tarjan's strongly connected components, each sorted, in a stable order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, {})):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _shortest_path(graph: Graph, start: str, goal: str, within: set[str]) -> list[str]:
    """A shortest path start -> ... -> goal inside ``within`` (breadth first, ties broken by name)."""
    previous: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            path = [node]
            while previous[path[-1]] is not None:
                path.append(str(previous[path[-1]]))
            return path[::-1]
        for nxt in sorted(graph[node]):
            if nxt in within and nxt not in previous:
                previous[nxt] = node
                queue.append(nxt)
    raise AssertionError(f"{goal} is not reachable from {start}")  # cannot happen inside one component


def find_cycles(graph: Graph) -> list[list[str]]:
    """Import cycles, each as ``[a, b, ..., a]``: for every arrow inside a circle of modules, the shortest cycle
    through it, so that every arrow that closes a circle appears in at least one reported cycle."""
    cycles: set[tuple[str, ...]] = set()
    for component in _strongly_connected(graph):
        members = set(component)
        for node in component:
            for nxt in graph[node]:
                if nxt in members:
                    loop = [node, *_shortest_path(graph, nxt, node, members)[:-1]]
                    first = loop.index(min(loop))  # one rotation per cycle
                    cycles.add(tuple(loop[first:] + loop[:first]))
    return [[*cycle, cycle[0]] for cycle in sorted(cycles, key=lambda c: (len(c), c))]


def describe_cycles(cycles: list[list[str]], graph: Graph) -> str:
    """One paragraph per cycle: the circle, then each arrow with the file:line of the imports that make it."""
    tangles = [component for component in _strongly_connected(graph) if len(component) > 1]
    lines = [f"{len(cycles)} import cycle(s) (function-level imports counted, TYPE_CHECKING blocks aside) among "
             f"{len(tangles)} group(s) of modules:"]
    lines += [f"  {', '.join(component)}" for component in tangles]
    for number, cycle in enumerate(cycles, 1):
        lines.append(f"cycle {number}: " + " -> ".join(cycle))
        lines += [f"    {a} -> {b}: {', '.join(graph[a][b])}" for a, b in itertools.pairwise(cycle)]
    return "\n".join(lines)


def _write_package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / next(iter(files)).split("/")[0]


def test_the_cycle_finder_finds_a_three_cycle_of_function_level_and_relative_imports(tmp_path):
    package = _write_package(tmp_path, {
        "pkg/__init__.py": "from .a import f  # a package re-exporting its submodule: no arrow back\n",
        "pkg/a.py": "import os\n\n\ndef f():\n    from .sub.b import g\n    return g()\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/b.py": "def g():\n    try:\n        from ..c import h\n    except ImportError:\n        raise\n"
                        "    return h()\n",
        "pkg/c.py": "class C:\n    def method(self):\n        from . import a\n        return a\n\n\ndef h():\n"
                    "    return 1\n",
        # a cycle only through a TYPE_CHECKING block is no cycle; its else branch runs
        "pkg/d.py": "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from .e import Y\nelse:\n"
                    "    import json\n",
        "pkg/e.py": "from .d import TYPE_CHECKING as Y\n",
    })
    graph = import_graph(package)
    assert graph == {
        "pkg": {"pkg.a": ["pkg/__init__.py:1"]},
        "pkg.a": {"pkg.sub": ["pkg/a.py:5"], "pkg.sub.b": ["pkg/a.py:5"]},  # the package sub runs first
        "pkg.sub": {},
        "pkg.sub.b": {"pkg.c": ["pkg/sub/b.py:3"]},  # pkg itself encloses pkg.sub.b: no arrow
        "pkg.c": {"pkg.a": ["pkg/c.py:3"]},  # `from . import a`: a is a submodule
        "pkg.d": {},
        "pkg.e": {"pkg.d": ["pkg/e.py:1"]},
    }
    cycles = find_cycles(graph)
    assert cycles == [["pkg.a", "pkg.sub.b", "pkg.c", "pkg.a"]]
    assert describe_cycles(cycles, graph).splitlines() == [
        "1 import cycle(s) (function-level imports counted, TYPE_CHECKING blocks aside) among 1 group(s) of modules:",
        "  pkg.a, pkg.c, pkg.sub.b",
        "cycle 1: pkg.a -> pkg.sub.b -> pkg.c -> pkg.a",
        "    pkg.a -> pkg.sub.b: pkg/a.py:5",
        "    pkg.sub.b -> pkg.c: pkg/sub/b.py:3",
        "    pkg.c -> pkg.a: pkg/c.py:3",
    ]


def test_the_cycle_finder_passes_an_acyclic_package_and_reads_every_import_form(tmp_path):
    package = _write_package(tmp_path, {
        "pkg/__init__.py": "from . import a\nfrom .sub import x\nimport importlib\n\n\ndef __getattr__(name):\n"
                           "    return importlib.import_module('pkg.b')\n",
        "pkg/a.py": "import pkg.sub.x\nimport pkg.sub.y as why\n",  # runs pkg.sub, pkg.sub.x, pkg.sub.y
        "pkg/b.py": "from pkg.sub.y import thing\n",
        "pkg/sub/__init__.py": "from .x import X\n",
        "pkg/sub/x.py": "X = 1\n\n\ndef later():\n    from . import y\n    return y\n",
        "pkg/sub/y.py": "from .. import errors\nthing = 2\n",
        "pkg/errors.py": "",
    })
    graph = import_graph(package)
    assert graph == {
        "pkg": {"pkg.a": ["pkg/__init__.py:1"], "pkg.sub": ["pkg/__init__.py:2"],
                "pkg.sub.x": ["pkg/__init__.py:2"], "pkg.b": ["pkg/__init__.py:7"]},
        "pkg.a": {"pkg.sub": ["pkg/a.py:1", "pkg/a.py:2"], "pkg.sub.x": ["pkg/a.py:1"], "pkg.sub.y": ["pkg/a.py:2"]},
        "pkg.b": {"pkg.sub": ["pkg/b.py:1"], "pkg.sub.y": ["pkg/b.py:1"]},
        "pkg.errors": {},
        "pkg.sub": {"pkg.sub.x": ["pkg/sub/__init__.py:1"]},
        "pkg.sub.x": {"pkg.sub.y": ["pkg/sub/x.py:5"]},
        "pkg.sub.y": {"pkg.errors": ["pkg/sub/y.py:1"]},
    }
    assert find_cycles(graph) == []


def test_a_name_taken_from_an_enclosing_package_is_an_arrow_back_to_it(tmp_path):
    package = _write_package(tmp_path, {
        "pkg/__init__.py": "def go():\n    from .engine import run\n    return run()\n",
        "pkg/engine/__init__.py": "from ._impl import run\n",
        "pkg/engine/_impl.py": "def run():\n    from .. import go  # the top-level API, from below it\n",
        "pkg/other.py": "from pkg import go\nfrom pkg.engine import run\n",
    })
    graph = import_graph(package)
    assert graph["pkg.engine._impl"] == {"pkg": ["pkg/engine/_impl.py:2"]}
    assert find_cycles(graph) == [["pkg", "pkg.engine", "pkg.engine._impl", "pkg"]]


def test_every_arrow_of_a_tangle_is_in_a_reported_cycle(tmp_path):
    """Two cycles sharing a module, and a mutual pair: all reported, each once."""
    package = _write_package(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from . import b\n",
        "pkg/b.py": "from . import c\nfrom . import d\n",
        "pkg/c.py": "from . import a\n",
        "pkg/d.py": "def f():\n    from . import a\n",
        "pkg/e.py": "from . import f\n",
        "pkg/f.py": "from . import e\nfrom . import a\n",
    })
    assert find_cycles(import_graph(package)) == [
        ["pkg.e", "pkg.f", "pkg.e"], ["pkg.a", "pkg.b", "pkg.c", "pkg.a"], ["pkg.a", "pkg.b", "pkg.d", "pkg.a"]]


def test_no_import_cycle_in_convcli():
    """Imports run one way (DESIGN.md), at module level and inside functions alike."""
    graph = import_graph(SRC, relative_to=ROOT)
    cycles = find_cycles(graph)
    assert not cycles, describe_cycles(cycles, graph)


# --- no shims, a small public API --------------------------------------------------------------------------------


def shims(path: Path) -> list[str]:
    """What keeps an old name alive in ``path``: the file itself when its body is only imports (and ``__all__``),
    an ``__all__`` that lists names imported from another public module, a module ``__getattr__``, or an alias
    ``old = new`` of a function, class or imported name.

    A package's ``__init__`` is the package's face: gathering names there (and loading them lazily through a
    module ``__getattr__``) is its job, so only aliases count in it. A public module may present the names of a
    private one (``from ._impl import thing``).
    """
    body = ast.parse(path.read_text(encoding="utf-8")).body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    imports = [node for node in body if isinstance(node, (ast.Import, ast.ImportFrom))
               and not (isinstance(node, ast.ImportFrom) and node.module == "__future__")]
    rest = [node for node in body if not isinstance(node, (ast.Import, ast.ImportFrom))]
    package = path.name == "__init__.py"
    found = []
    if not package and imports and all(isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign))
                                       and ast.unparse(node).startswith("__all__") for node in rest):
        found.append("only imports: " + "; ".join(ast.unparse(node) for node in imports))
    named = {node.name for node in body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    named |= {(alias.asname or alias.name).split(".")[0] for node in imports for alias in node.names}
    public_imports = {(alias.asname or alias.name) for node in imports if isinstance(node, ast.ImportFrom)
                      and not (node.module or "").split(".")[-1].startswith("_") for alias in node.names}
    for node in body:
        if (not package and isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "__all__"
                and isinstance(node.value, (ast.List, ast.Tuple))):
            passed = [e.value for e in node.value.elts if isinstance(e, ast.Constant) and e.value in public_imports]
            if passed:
                found.append(f"line {node.lineno}: __all__ passes on names of other modules: {', '.join(passed)}")
        if not package and isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
            found.append(f"line {node.lineno}: a module __getattr__")
        if (isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Name)
                and node.value.id in named):
            found.append(f"line {node.lineno}: an alias, {ast.unparse(node)}")
    return found


@pytest.mark.parametrize("path", FILES, ids=_rel)
def test_no_module_keeps_an_old_name_alive(path):
    """Nothing is released: a name lives in its owner's module and is imported from there; no module exists for
    old imports, serves old names, or gives a second name to one thing."""
    found = shims(path)
    assert not found, f"{_rel(path)}: {'; '.join(found)}; import the names from their owner and delete the shim"


def test_the_shim_rule_on_known_cases(tmp_path):
    package = _write_package(tmp_path, {
        "pkg/__init__.py": '"""The package."""\nfrom .a import f\nfrom .b import g\nfrom .errors import E\n\n'
                           '__all__ = ["E", "f", "g"]\n',
        "pkg/a.py": "def f():\n    return 1\n\n\nclass K:\n    pass\n\n\n_f = f\nk: type = K\nN = 3\nM = N\n",
        "pkg/b.py": '"""Old name."""\nfrom __future__ import annotations\n\nfrom .a import f as g\n\n'
                    '__all__ = ["g"]\n',
        "pkg/c.py": "from .a import f\n\n\ndef h():\n    return f()\n\n\ndef __getattr__(name):\n"
                    "    return f\n",
        "pkg/errors.py": "class E(Exception):\n    pass\n",
        "pkg/empty.py": '"""Nothing yet."""\n',
        "pkg/_impl.py": "def run():\n    return 2\n",
        "pkg/face.py": "from ._impl import run\nfrom .a import K, f\n\n\ndef go():\n    return run() + f()\n\n\n"
                       '__all__ = ["K", "go", "run"]\n',
        "pkg/sub/__init__.py": "import importlib\n\n\ndef __getattr__(name):\n"
                               "    return importlib.import_module('pkg.a')\n\n\nold = importlib\n",
    })
    found = {name: shims(path) for name, path in module_names(package).items()}
    assert found == {
        "pkg": [],
        "pkg.a": ["line 9: an alias, _f = f", "line 10: an alias, k: type = K"],  # M = N names a value
        "pkg.b": ["only imports: from .a import f as g", "line 6: __all__ passes on names of other modules: g"],
        "pkg.c": ["line 8: a module __getattr__"],
        "pkg.errors": [],
        "pkg.empty": [],
        "pkg._impl": [],
        "pkg.face": ["line 9: __all__ passes on names of other modules: K"],
        "pkg.sub": ["line 8: an alias, old = importlib"],
    }


def test_the_public_api_is_small_and_every_name_resolves():
    import convcli

    names = convcli.__all__
    assert len(names) == len(set(names)), sorted(n for n in set(names) if names.count(n) > 1)
    assert len(names) <= MAX_PUBLIC_NAMES, (
        f"convcli.__all__ has {len(names)} names (at most {MAX_PUBLIC_NAMES}); the rest belong in sub-packages")
    missing = [name for name in names if not hasattr(convcli, name)]
    assert not missing, f"convcli.__all__ names what convcli does not have: {missing}"


# --- CI: the README's test command, with the linter and the type checker ---------------------------------------


def test_ci_runs_the_readme_test_command_with_ruff_and_mypy():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    command = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert command == "pip install '.[test]' && ruff check . && mypy && pytest"
    readme = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert command in readme, "the README's test command and .ci/run's must be the same line"
    test_extra = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"]["test"]
    assert {"ruff", "mypy", "pytest"} <= {requirement.split(">")[0].split("=")[0] for requirement in test_extra}


# --- files, the CLI, errors, the environment ------------------------------------------------------------------


def _imports(tree: ast.AST) -> list[tuple[str, int]]:
    """Every module an import statement names (absolute or relative, at any depth of the file)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append(("." * node.level + (node.module or ""), node.lineno))
    return found


@pytest.mark.parametrize("path", FILES, ids=_rel)
def test_no_file_is_over_600_lines(path):
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines <= 600, f"{_rel(path)} has {lines} lines; split it by concern"


@pytest.mark.parametrize("path", CLI_FILES, ids=_rel)
def test_cli_imports_neither_numpy_nor_pillow(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for module, line in _imports(tree):
        root = module.split(".")[0]
        assert root not in ("numpy", "PIL", "scipy"), f"{_rel(path)}:{line} imports {module}"


def test_every_exception_class_is_defined_in_errors():
    for path in FILES:
        if path.name == "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = [ast.unparse(b) for b in node.bases]
                assert not any(b.endswith(("Error", "Exception", "Interrupt", "Conflict")) for b in bases), (
                    f"{_rel(path)}:{node.lineno} defines exception {node.name}; it belongs in errors.py")


def test_nothing_writes_the_environment_and_the_engine_reads_none_of_it():
    """Threads and BLAS limits are arguments or a context, never environment variables (DESIGN.md)."""
    writers = {"os.environ.setdefault", "os.environ.update", "os.environ.pop", "os.environ.clear", "os.putenv",
               "os.unsetenv"}
    found = []
    for path in FILES:
        in_engine = path.is_relative_to(SRC / "engine")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            where = f"{_rel(path)}:{getattr(node, 'lineno', '?')}"
            targets = (node.targets if isinstance(node, (ast.Assign, ast.Delete))
                       else [node.target] if isinstance(node, ast.AugAssign) else [])
            if isinstance(node, ast.Call) and ast.unparse(node.func) in writers:
                found.append(f"{where} writes the environment: {ast.unparse(node)}")
            elif any(ast.unparse(t).startswith("os.environ") for t in targets):
                found.append(f"{where} writes the environment: {ast.unparse(node)}")
            elif in_engine and isinstance(node, ast.Attribute) and ast.unparse(node) in ("os.environ", "os.getenv"):
                found.append(f"{where} reads the environment in the engine")
    assert not found, "\n".join(found)


#: library modules whose tests are named after the command or concept rather than the module
_TEST_NAMES = {"explanation": "test_explain", "cli": "test_cli_apply", "kernel_files": "test_kernel_files",
               "pictures": "test_pictures_explain"}


def test_a_test_module_per_library_module():
    tests = {p.stem for p in Path(__file__).parent.glob("test_*.py")}
    for path in sorted(SRC.iterdir()):
        name = path.stem if path.suffix == ".py" else path.name
        if name.startswith("_") or not (path.suffix == ".py" or (path / "__init__.py").exists()):
            continue
        expected = _TEST_NAMES.get(name, f"test_{name}")
        assert expected in tests, f"convcli.{name} has no tests/{expected}.py"


def test_the_repository_root_holds_no_stray_data_files() -> None:
    """Images and arrays belong in sample_images/ or tests/, never beside pyproject.toml (big16.npy, s.jpg were)."""
    root = SRC.parent.parent
    data = (".npy", ".npz", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".gif", ".bmp", ".webp", ".zarr")
    ignored = {line.strip().lstrip("/") for line in (root / ".gitignore").read_text(encoding="utf-8").splitlines()}
    strays = sorted(p.name for p in root.iterdir() if p.suffix.lower() in data and p.name not in ignored)
    assert not strays, f"stray data files at the repository root: {strays}; move them or delete them"
