"""The floors of docs/architecture.md, enforced: imports point down only, workflow code reads no
files, and the domain is pure (no clock, randomness, network or file system). Workflow code runs
outside Temporal's sandbox (worker.workflow_runner), which never checked the modules passed
through it anyway: these tests are the guard, with workflow code held to the same purity except
for Temporal's own deterministic API (workflow.now(), workflow.uuid4(), asyncio on its loop)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Package prefix → floor; a module may import its own floor or lower ones.
FLOORS = {
    "csrunner.domain": 0,
    "csrunner.config": 1,
    "workflows": 2,
    "activities": 2,
    "csrunner.services": 3,
    "worker": 3,
    "csrunner.interfaces": 4,
}
#: Same-floor pairs that must stay apart: workflow code never reaches I/O or settings.
APART = {("workflows", "activities"), ("activities", "workflows"), ("workflows", "csrunner.config")}
#: The domain runs inside replayed workflow code: no I/O, clock, randomness or Temporal client.
IMPURE_MODULES = {
    "os",
    "sys",
    "io",
    "time",
    "random",
    "secrets",
    "socket",
    "ssl",
    "subprocess",
    "shutil",
    "tempfile",
    "pathlib",
    "glob",
    "sqlite3",
    "urllib",
    "http",
    "httpx",
    "requests",
    "asyncio",
    "threading",
    "uuid",
    "temporalio",
    "jinja2",
    "yaml",
    "sendgrid",
    "slack_sdk",
    "logging",
}
IMPURE_CALLS = {
    "open",
    "print",
    "input",
    "now",
    "today",
    "utcnow",
    "time",
    "monotonic",
    "random",
    "randint",
    "choice",
    "uuid4",
    "read_text",
    "write_text",
    "read_bytes",
    "write_bytes",
    "getenv",
}


#: What workflow code may import of IMPURE_MODULES: Temporal's workflow API runs asyncio on its own
#: deterministic event loop, and gives the clock and randomness as workflow.now() / random() / uuid4().
WORKFLOW_ALLOWED = ("temporalio.workflow", "temporalio.common", "temporalio.exceptions", "asyncio")


def owner(module: str) -> str | None:
    """The FLOORS key a dotted module name belongs to (longest prefix), or None for third parties."""
    hits = [p for p in FLOORS if module == p or module.startswith(p + ".")]
    return max(hits, key=len) if hits else None


def imported(tree: ast.AST) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return out


def floor_violations(module: str, source: str) -> list[str]:
    here = owner(module)
    assert here, module
    found = []
    for line, name in imported(ast.parse(source)):
        there = owner(name)
        if there and (FLOORS[there] > FLOORS[here] or (here, there) in APART):
            found.append(f"{module}:{line} imports {name} ({there} is not below {here})")
    return found


def impurities(
    module: str, source: str, allowed: tuple[str, ...] = (), receivers: tuple[str, ...] = ()
) -> list[str]:
    """Imports of IMPURE_MODULES (but `allowed` ones) and IMPURE_CALLS (but methods called on
    `receivers`, as in `workflow.now()`)."""
    tree, found = ast.parse(source), []
    for line, name in imported(tree):
        if name.split(".")[0] in IMPURE_MODULES and not any(
            name == a or name.startswith(a + ".") for a in allowed
        ):
            found.append(f"{module}:{line} imports {name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute) and _root(f) in receivers:
                continue
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            if name in IMPURE_CALLS:
                found.append(f"{module}:{node.lineno} calls {name}()")
    return found


def _root(f: ast.Attribute) -> str:
    """`workflow` of `workflow.info().now`, `self` of `self.work.open`."""
    node: ast.expr = f
    while isinstance(node, (ast.Attribute, ast.Call)):
        node = node.value if isinstance(node, ast.Attribute) else node.func
    return node.id if isinstance(node, ast.Name) else ""


def workflow_impurities(module: str, source: str) -> list[str]:
    """Workflow code: as pure as the domain, but for Temporal's deterministic API (WORKFLOW_ALLOWED)
    and the workflow's own methods (`self.open(...)`)."""
    return impurities(module, source, WORKFLOW_ALLOWED, receivers=("workflow", "self"))


def project_modules() -> list[tuple[str, Path]]:
    files = [
        ROOT / "worker.py",
        *ROOT.glob("csrunner/**/*.py"),
        *ROOT.glob("workflows/**/*.py"),
        *ROOT.glob("activities/**/*.py"),
    ]
    out = []
    for f in sorted(files):
        parts = f.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if owner(name):
            out.append((name, f))
    return out


def test_every_module_has_a_floor():
    loose = [
        str(f.relative_to(ROOT))
        for f in ROOT.glob("csrunner/**/*.py")
        if f.parent != ROOT / "csrunner" and not owner(".".join(f.relative_to(ROOT).with_suffix("").parts))
    ]
    assert not loose, f"modules outside every floor: {loose}"
    assert [f.name for f in (ROOT / "csrunner").glob("*.py")] == ["__init__.py"]


def test_imports_point_down_only():
    found = [v for name, f in project_modules() for v in floor_violations(name, f.read_text())]
    assert not found, "\n".join(found)


def test_the_domain_is_pure():
    found = [
        v
        for name, f in project_modules()
        if owner(name) == "csrunner.domain"
        for v in impurities(name, f.read_text())
    ]
    assert not found, "\n".join(found)


def test_workflow_code_is_deterministic():
    found = [
        v
        for name, f in project_modules()
        if owner(name) == "workflows"
        for v in workflow_impurities(name, f.read_text())
    ]
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    "source",
    [
        "from datetime import datetime\nx = datetime.now()\n",
        "import time\n",
        "import uuid\n",
        "open('f')\n",
        "import temporalio.client\n",
        "x = random.random()\n",
    ],
)
def test_the_workflow_check_catches_the_clock_randomness_and_io(source):
    assert workflow_impurities("workflows.x", source)


def test_the_workflow_check_allows_temporals_own_api():
    source = "import asyncio\nfrom temporalio import workflow\nt = workflow.now()\nself.open(p)\n"
    assert workflow_impurities("workflows.x", source) == []


@pytest.mark.parametrize(
    "module, source",
    [
        ("csrunner.domain.scoring", "from csrunner.services.journeys import deal_closed\n"),
        ("workflows.journey", "import activities.email\n"),
        ("workflows.playbook", "from csrunner.config.settings import Settings\n"),
        ("worker", "from csrunner.interfaces.cli import main\n"),
    ],
)
def test_the_floor_check_catches_an_upward_import(module, source):
    assert floor_violations(module, source)


@pytest.mark.parametrize(
    "source",
    [
        "from datetime import datetime\nx = datetime.now()\n",
        "import random\n",
        "open('f')\n",
        "from pathlib import Path\n",
        "import temporalio.client\n",
    ],
)
def test_the_purity_check_catches_io_and_the_clock(source):
    assert impurities("csrunner.domain.x", source)
