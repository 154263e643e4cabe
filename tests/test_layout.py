"""The package's layout: sub-packages mirror the DAG and imports flow one way, downward.

Layers, lowest first: ``core`` < ``data`` < ``plan`` < ``evaluate`` < ``train`` < ``report`` < the
entry points (``cli``, ``reproduce``, ``__main__``). A module may import its own layer and the
layers below it, never one above; no import circle between modules, counting the imports inside
functions as well (a circle dodged by a late import is still a circle).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "src" / "distilface"
LAYERS = {"core": 0, "data": 1, "plan": 2, "evaluate": 3, "train": 4, "report": 5}
TOP = 6  # cli, reproduce, __main__


def module_name(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:  # distilface/__init__: the docstring and version only
        return 0
    return LAYERS.get(parts[1], TOP)


def own_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every ``distilface`` import in ``path``, at any depth."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("distilface")]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("distilface"):
            for alias in node.names:  # `from distilface.plan import grid` imports a module
                sub = f"{node.module}.{alias.name}"
                is_module = (PKG.parent / sub.replace(".", "/")).with_suffix(".py").is_file()
                out.append((node.lineno, sub if is_module else node.module))
    return out


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted(PKG.rglob("*.py")):
        graph[module_name(path)] = {m for _, m in own_imports(path)}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle (as a path that returns to its start), or ``None``."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt == node or nxt not in graph:
                continue
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_circle() -> None:
    graph = import_graph()
    assert len(graph) > 30, "the walk found too few modules"
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_imports_flow_downward() -> None:
    upward = []
    for path in sorted(PKG.rglob("*.py")):
        me = module_name(path)
        for line, target in own_imports(path):
            # a package __init__ imported on the way to a submodule is not a dependency
            if layer(target) > layer(me) and target != "distilface":
                upward.append(f"{path.relative_to(PKG.parent)}:{line} {me} imports {target}")
    assert upward == [], "\n".join(upward)


def test_the_checks_catch_a_circle_and_an_upward_import() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert layer("distilface.evaluate.sts") > layer("distilface.data.readers")
    assert layer("distilface.reproduce") > layer("distilface.report.build")


@pytest.mark.parametrize("package", ["core", "data", "plan", "evaluate", "train", "report"])
def test_each_subpackage_imports_alone_and_says_what_it_may_import(package: str) -> None:
    init = PKG / package / "__init__.py"
    doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
    assert "import" in doc.lower(), (
        f"{init}: the docstring must say what the sub-package may import"
    )
    code = f"import distilface.{package}"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_report_and_loop_read_the_plan_not_each_other() -> None:
    """The report reads the experiment plan, never the training room; the loop reads the
    objective table, not the grid (issue 20)."""
    report = {m for f in (PKG / "report").glob("*.py") for _, m in own_imports(f)}
    assert not [m for m in report if m.startswith("distilface.train")], sorted(report)
    loop = {m for f in (PKG / "train").glob("*.py") for _, m in own_imports(f)}
    assert "distilface.plan.grid" not in loop and "distilface.plan.objectives" in loop


def test_core_and_grid_stay_torch_free() -> None:
    """The Snakefile parses configs with the core and the grid: no torch at parse time."""
    code = (
        "import sys, distilface.core.config, distilface.core.io, distilface.core.names, "
        "distilface.core.provenance, distilface.plan.grid, distilface.plan.objectives, "
        "distilface.report.targets, distilface.report.labels; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
