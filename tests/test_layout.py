"""The shape of the code (issue 11, DESIGN.md): small files, a thin CLI, one owner per concern."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "convcli"
FILES = sorted(SRC.rglob("*.py"))
CLI_FILES = sorted((SRC / "cli").glob("*.py"))


def _rel(path: Path) -> str:
    return str(path.relative_to(SRC.parent))


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


def test_nothing_reads_or_writes_engine_settings_in_the_environment():
    """Threads and BLAS limits are arguments or a context, never environment variables (issue 11)."""
    names = ("CONVCLI_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    for path in FILES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            code = ast.unparse(node) if isinstance(node, (ast.Call, ast.Subscript, ast.Assign)) else ""
            where = f"{_rel(path)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Call) and ast.unparse(node.func) in (
                    "os.environ.setdefault", "os.putenv", "os.environ.update", "os.environ.pop"):
                raise AssertionError(f"{where} writes the environment: {code}")
            if isinstance(node, ast.Assign) and any(ast.unparse(t).startswith("os.environ") for t in node.targets):
                raise AssertionError(f"{where} writes the environment: {code}")
            if ("environ" in code or "getenv" in code) and any(name in code for name in names):
                raise AssertionError(f"{where} reads an engine setting from the environment: {code}")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _top_level_imports(path: Path, modules: set[str]) -> set[str]:
    """convcli modules imported when ``path`` is imported (module-level statements only)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            children = {f"{target}.{a.name}" for a in node.names} & modules
            if children:  # `from . import x` imports the module x
                found |= children
            elif target.startswith("convcli"):
                found.add(target)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("convcli")}
    return found


def test_library_modules_do_not_import_each_other_in_a_cycle():
    """Leaf modules may not import their own package back (kernels <-> kernel_files was such a cycle)."""
    modules = {_module_name(p): p for p in FILES}
    graph = {name: {t for t in _top_level_imports(p, set(modules)) if t in modules and t != name}
             for name, p in modules.items()}
    seen: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        seen[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if seen.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*stack[stack.index(nxt):], nxt]))
            if nxt not in seen:
                visit(nxt)
        stack.pop()
        seen[node] = 2

    for name in sorted(graph):
        if name not in seen:
            visit(name)


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
