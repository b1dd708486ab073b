"""The house rules of the `beacon` package (README "Layout"), checked on every build:

- the top level holds only the feature folders, `db`, `ports`, `shared` and `wiring.py`;
- every `__init__.py` is empty (no re-export pulls a feature into a cold start);
- a package imports only the packages below it (ALLOWED), so `db` and `ports` know no feature and no
  feature imports `web` or `wiring`; and no import cycle between modules, lazy imports included;
- handlers stay thin: at most 40 lines, no boto3/pynamodb, no handler imports another;
- the send and dispatch functions import only what they use.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers" / "core" / "beacon"
FUNCTIONS = ROOT / "functions"

# What each package may import (besides itself). Lowest first: a package appears only after
# everything it may import, so the table is a layering and cannot hold a cycle.
ALLOWED: dict[str, set[str]] = {
    "shared": set(),
    "ports": {"shared"},
    "db": {"shared"},
    "message": {"shared", "db"},
    "tracking": {"shared", "db", "ports"},
    "accounts": {"shared", "db", "ports", "message"},
    "audience": {"shared", "db", "ports", "message", "tracking", "accounts"},
    "sending": {"shared", "db", "ports", "message"},
    "campaigns": {"shared", "db", "ports", "message", "tracking", "accounts", "audience", "sending"},
    # automations: its steps are validated as campaign drafts are (campaigns.drafts.validate), so it sits
    # above campaigns
    "automations": {"shared", "db", "ports", "message", "tracking", "accounts", "audience", "sending", "campaigns"},
    "webhooks": {"shared", "db", "ports", "tracking"},
    "wiring": {"shared", "db", "ports", "message", "tracking", "accounts", "audience", "sending", "campaigns",
               "automations", "webhooks"},
    "web": {"shared", "db", "ports", "message", "tracking", "accounts", "audience", "sending", "campaigns",
            "automations", "webhooks", "wiring"},
}
TOP_LEVEL = {f"{name}" for name in ALLOWED if name != "wiring"} | {"wiring.py", "__init__.py"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    name = ".".join(("beacon", *parts))
    return name.removesuffix(".__init__")


def _resolve(name: str) -> str | None:
    """The beacon module (or package) `name` refers to, if it is one."""
    rel = name.split(".")[1:]
    if not rel:
        return "beacon"
    if (PACKAGE.joinpath(*rel).with_suffix(".py")).exists() or (PACKAGE.joinpath(*rel) / "__init__.py").exists():
        return name
    return None


def _imports(path: Path) -> set[str]:
    """Every beacon module `path` imports: module level, inside functions and under TYPE_CHECKING."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "beacon"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "beacon":
            for alias in node.names:
                found.add(_resolve(f"{node.module}.{alias.name}") or node.module)
    return found


GRAPH = {_module_name(p): _imports(p) for p in PACKAGE.rglob("*.py")}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "beacon"


def test_the_allowed_table_is_a_layering() -> None:
    seen: set[str] = set()
    for package, below in ALLOWED.items():
        assert below <= seen, f"{package} may import {below - seen}, which come after it"
        seen.add(package)


def test_top_level_holds_only_the_feature_folders() -> None:
    entries = {p.name for p in PACKAGE.iterdir() if p.name != "__pycache__"}
    assert entries <= TOP_LEVEL, f"unexpected at the top of beacon/: {sorted(entries - TOP_LEVEL)}"
    for folder in (p for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"):
        assert (folder / "__init__.py").exists(), folder


def test_every_init_is_empty() -> None:
    for init in PACKAGE.rglob("__init__.py"):
        assert init.read_text().strip() == "", f"{init.relative_to(ROOT)} must stay empty"


def violations(graph: dict[str, set[str]]) -> list[str]:
    """The imports of `graph` that go against ALLOWED."""
    wrong = []
    for module, targets in graph.items():
        source = _package(module)
        for target in targets:
            dest = _package(target)
            if dest != source and dest not in ALLOWED.get(source, set()):
                wrong.append(f"{module} -> {target}")
    return sorted(wrong)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of `graph` (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(t for t in graph.get(node, ()) if t in graph):
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
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_packages_import_only_what_is_below_them() -> None:
    assert violations(GRAPH) == [], "imports against the layering"


def test_no_import_cycle_between_modules() -> None:
    assert cycles(GRAPH) == []


def test_the_checks_can_fail() -> None:
    graph = {"beacon.db.x": {"beacon.campaigns.y"}, "beacon.campaigns.y": {"beacon.sending.z"},
             "beacon.sending.z": {"beacon.campaigns.y"}, "beacon.web.w": {"beacon.db.x"}}
    assert violations(graph) == ["beacon.db.x -> beacon.campaigns.y", "beacon.sending.z -> beacon.campaigns.y"]
    assert cycles(graph) == [["beacon.campaigns.y", "beacon.sending.z"]]


HANDLERS = sorted(FUNCTIONS.glob("*/handler.py"))


@pytest.mark.parametrize("handler", HANDLERS, ids=lambda p: p.parent.name)
def test_handlers_are_thin(handler: Path) -> None:
    source = handler.read_text()
    assert len(source.splitlines()) <= 40, f"{handler.parent.name}: keep the logic in beacon"
    for node in ast.walk(ast.parse(source)):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        for name in names:
            assert name.split(".")[0] not in ("boto3", "botocore", "pynamodb", "handler", "functions"), \
                f"{handler.parent.name} imports {name}"


_COLD_IMPORT = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print("loaded:" + ",".join(sorted(m for m in sys.modules if m.split(".")[0] in ("beacon", "jinja2", "argon2"))))
"""


@pytest.mark.parametrize(("function", "absent"), [
    ("dispatch", ("jinja2", "argon2", "beacon.message", "beacon.campaigns", "beacon.web", "beacon.ports.ses")),
    ("send", ("argon2", "beacon.campaigns", "beacon.web", "beacon.audience", "beacon.accounts")),
])
def test_send_and_dispatch_import_only_what_they_use(function: str, absent: tuple[str, ...]) -> None:
    env = {**os.environ, "BEACON_TOKEN_SECRET": "x" * 32, "AWS_REGION": "us-east-1"}
    out = subprocess.run([sys.executable, "-c", _COLD_IMPORT, str(FUNCTIONS / function / "handler.py")],
                         env=env, capture_output=True, text=True, check=True, timeout=60)
    loaded = out.stdout.strip().splitlines()[-1].removeprefix("loaded:").split(",")
    extra = [m for m in loaded if any(m == a or m.startswith(a + ".") for a in absent)]
    assert not extra, f"{function} loads {extra}"
