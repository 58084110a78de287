"""The parts point one way, and light paths stay light (no torch where nothing is labelled or trained)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

from tests.conftest import FLOWERS, REPO

PACKAGE = REPO / "mobilabel"
HEAVY = {"torch", "torchvision", "onnx", "onnxruntime"}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of its code, except under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text())
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


MODULES = {module_name(path): imports_of(path) for path in PACKAGE.rglob("*.py") if "migrations" not in path.parts}


def part(module: str) -> str:
    """mobilabel.storage.jobs -> storage; mobilabel.config -> config."""
    return module.split(".")[1] if module.count(".") else module


def internal(imported: set[str]) -> set[str]:
    return {m for m in imported if m in MODULES}


def test_parts_form_no_cycle() -> None:
    graph: dict[str, set[str]] = {}
    for module, imported in MODULES.items():
        graph.setdefault(part(module), set()).update(part(m) for m in internal(imported) if part(m) != part(module))
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as cycle:
        pytest.fail(f"parts import each other in a cycle: {' -> '.join(cycle.args[1])}")


def test_scheduler_never_imports_worker() -> None:
    offenders = {
        m: sorted(i for i in internal(imp) if part(i) == "worker") for m, imp in MODULES.items() if part(m) == "scheduler"
    }
    assert not any(offenders.values()), offenders


def test_only_main_imports_the_cli() -> None:
    offenders = sorted(
        m for m, imp in MODULES.items() if part(m) not in ("cli", "__main__") and any(part(i) == "cli" for i in internal(imp))
    )
    assert not offenders


def test_sql_lives_in_storage_only() -> None:
    # api/ and cli/ ask storage's querying and writing modules; they hold sessions and catch errors through
    # storage's names (DbSession, SQLError), never SQLAlchemy's.
    offenders = {
        m: sorted(i for i in imp if i.split(".")[0] == "sqlalchemy") for m, imp in MODULES.items() if part(m) in ("api", "cli")
    }
    assert not any(offenders.values()), {m: i for m, i in offenders.items() if i}


def test_a_versions_files_are_named_and_removed_in_one_place() -> None:
    # mobilabel.versions.files names a version's {id}.pt and {id}.png; the CLI, the API, training and the
    # exports ask it, and activate and delete through mobilabel.versions.lifecycle, never storage's own calls.
    cache_users = sorted(module_name(p) for p in PACKAGE.rglob("*.py") if "model_cache_dir" in p.read_text())
    assert cache_users == ["mobilabel.config", "mobilabel.versions.files"]
    direct = re.compile(r"\.(delete_version|activate_version)\(")
    offenders = sorted(
        module_name(p) for p in PACKAGE.rglob("*.py") if part(module_name(p)) in ("api", "cli") and direct.search(p.read_text())
    )
    assert not offenders


def test_storage_never_imports_torch_even_indirectly() -> None:
    for module in (m for m in MODULES if part(m) == "storage"):
        seen, todo = set(), [module]
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            heavy = {i.split(".")[0] for i in MODULES[current]} & HEAVY
            assert not heavy, f"{module} imports {heavy} through {current}"
            todo.extend(internal(MODULES[current]))


def loaded_heavy_modules(code: str) -> list[str]:
    """Run ``code`` in a fresh interpreter; the heavy modules it left loaded."""
    probe = f"{code}\nimport sys\nprint(sorted({{m.split('.')[0] for m in sys.modules}} & set({sorted(HEAVY)!r})))"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return list(ast.literal_eval(run.stdout.strip().splitlines()[-1]))


def test_storage_corrections_and_the_cli_import_no_torch() -> None:
    code = "import mobilabel.storage, mobilabel.storage.results, mobilabel.training, mobilabel.training.corrections, mobilabel.cli.main"
    assert loaded_heavy_modules(code) == []


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["jobs"],
        ["results", "--status", "failed"],
        ["models"],
        ["runs"],
        ["correct", str(next(FLOWERS.glob("val/roses/*.jpg"))), "roses", "--new-class"],
        ["status", "--help"],
        ["enqueue", "--help"],
        ["db", "upgrade"],
    ],
    ids=lambda args: " ".join(args[:2]).split("/")[0],
)
def test_commands_that_do_not_label_load_no_torch(args: list[str]) -> None:
    code = f"from mobilabel.cli.main import cli\ntry:\n    cli({args!r}, prog_name='mobilabel')\nexcept SystemExit as exit:\n    assert not exit.code, exit.code"
    assert loaded_heavy_modules(code) == []


def test_jobs_and_training_runs_are_dispatched_in_one_place() -> None:
    # mobilabel.dispatch chooses the broker or the caller's runner and reports an unreachable broker;
    # the API and the CLI ask it, never sending labelling jobs or training runs themselves.
    senders = {"mobilabel.broker.TRAIN", "mobilabel.broker.LABEL_CHUNK", "mobilabel.scheduler.enqueue.enqueue_folder"}
    offenders = {m: sorted(imp & senders) for m, imp in MODULES.items() if part(m) in ("api", "cli") and imp & senders}
    assert not offenders, offenders
    assert {"mobilabel.dispatch.submit_job", "mobilabel.dispatch.submit_training"} <= set().union(
        *(MODULES[m] for m in ("mobilabel.api.routes.jobs", "mobilabel.api.routes.runs"))
    )
