"""The package's shape, checked: imports run one way, from the edges down, with no cycle, and
no module grows past 400 lines. The floors are the README's "Architecture" picture."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "publisher"

# Lowest first. A module may import its own subpackage and any floor below its own, never one
# above it nor another subpackage on its own floor.
FLOORS = [
    {"publisher"},  # models, errors, cron, i18n: the vocabulary everything shares
    {"config"},  # config.yaml and the environment -> one validated Config
    {"store"},
    {"content"},
    {"site"},
    {"mail"},
    {"audience"},
    {"newsletter"},
    {"web", "doctor"},  # the doctor renders the next issue: above newsletter
    {"schedule"},  # the long-running process: the scheduler and the web server it hosts
    {"cli"},
]
FLOOR = {name: i for i, names in enumerate(FLOORS) for name in names}
MAX_LINES = 400


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def stage(module: str) -> str:
    parts = module.split(".")
    if module == "publisher.__main__":
        return "cli"
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and (PACKAGE / parts[1]).is_dir()) \
        else "publisher"


def imports(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Every publisher module `module` imports, at the top or inside a function."""
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name.startswith("publisher") and name != module:
                found.add(name)
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {m: imports(m, p, known) for m, p in known.items()}


def test_imports_never_climb_the_floors_nor_cross_sideways():
    wrong = []
    for module, targets in graph().items():
        mine = stage(module)
        for target in targets:
            theirs = stage(target)
            if theirs == mine or target == "publisher":
                continue
            if FLOOR[theirs] >= FLOOR[mine]:
                wrong.append(f"{module} ({mine}) imports {target} ({theirs})")
    assert not wrong, "imports that climb or cross a floor:\n" + "\n".join(sorted(wrong))


def test_no_import_cycle():
    edges = graph()
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []
    cycles: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(path[path.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    # A package's __init__ importing its own modules, which import the package back for a name,
    # is how Python packages work; any other loop is a cycle.
    real = [c for c in cycles if not all(part.startswith(c.split(" -> ")[0]) for part in c.split(" -> "))]
    assert not real, "import cycles:\n" + "\n".join(real)


def test_no_module_over_400_lines():
    long = [f"{p.relative_to(PACKAGE.parent)}: {n} lines"
            for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts
            for n in [len(p.read_text().splitlines())] if n > MAX_LINES]
    assert not long, "split by responsibility:\n" + "\n".join(long)


def test_few_modules_left_at_the_top():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 8, top


def test_the_check_itself_catches_a_climbing_import(tmp_path):
    """The walker sees a function-level import too (a test that cannot fail would be worth
    nothing): the store importing the newsletter is reported."""
    known = {"publisher.store.x": tmp_path / "x.py", "publisher.newsletter.issue": tmp_path / "i.py"}
    known["publisher.store.x"].write_text("def f():\n    from publisher.newsletter.issue import plan\n")
    found = imports("publisher.store.x", known["publisher.store.x"], known)
    assert found == {"publisher.newsletter.issue"}
    assert FLOOR[stage("publisher.newsletter.issue")] > FLOOR[stage("publisher.store.x")]
