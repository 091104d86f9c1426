"""The package's layers: each module imports only from its own layer or the layers below it.

Data flows one way (action in, verdict out), and the import graph must say so: the core never imports the lab,
the analysis never imports the checks, research code never imports the notebook lab. Every import counts, at
module level or inside a function; only imports under ``if TYPE_CHECKING:`` (annotations) are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "sentinel_lab"

#: Lowest first. A module belongs to the first layer one of whose prefixes it starts with.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("core", ("sentinel_lab._core",)),
    ("text", ("sentinel_lab._text",)),
    ("vocab", ("sentinel_lab._vocab",)),
    ("analysis", ("sentinel_lab._analysis",)),
    ("checks", ("sentinel_lab._checks",)),
    ("verify", ("sentinel_lab._verify",)),
    ("policy", ("sentinel_lab._policy",)),
    ("enforcement", ("sentinel_lab._mcp", "sentinel_lab._asgi")),
    (
        "research",
        (
            "sentinel_lab._datasets",
            "sentinel_lab._frames",
            "sentinel_lab.datasets",
            "sentinel_lab.evaluation",
            "sentinel_lab.bench",
            "sentinel_lab._bench_proxy",
            "sentinel_lab._bench_seed",
        ),
    ),
    ("lab", ("sentinel_lab.lab",)),
    ("interface", ("sentinel_lab._cli", "sentinel_lab._commands", "sentinel_lab.demo_server", "sentinel_lab")),
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int:
    """The index of ``module``'s layer (the longest matching prefix wins, so the package itself is last)."""
    best, best_len = -1, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    if best < 0:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS")
    return best


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    return skipped


def imports_of(module: str) -> set[str]:
    """The package modules ``module`` imports at run time (``from a import b`` counts as ``a.b`` if that exists)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    skipped = _type_checking_nodes(tree)
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("sentinel_lab"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if not base.startswith("sentinel_lab"):
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in MODULES else base)
    found.discard(module)
    return found


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        layer_of(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_only_down(module: str) -> None:
    here = layer_of(module)
    upward = sorted(
        f"{target} ({LAYERS[layer_of(target)][0]})" for target in imports_of(module) if layer_of(target) > here
    )
    assert upward == [], f"{module} ({LAYERS[here][0]}) imports from a higher layer: {upward}"


def test_the_contract_can_fail() -> None:
    assert layer_of("sentinel_lab.lab.recorder") > layer_of("sentinel_lab._core.verdict")
    assert imports_of("sentinel_lab._analysis._actions") & {"sentinel_lab._core.errors"}


#: Package imports that stay inside a function in the layers up to enforcement, each with its reason. Anything
#: else is imported at the top, so a module's dependencies read from its first lines and no cycle hides.
DEFERRED: dict[tuple[str, str], str] = {
    ("sentinel_lab._policy.model", "sentinel_lab._policy.engine"): "Policy.new_session delegates to the engine, "
    "which builds on the model",
}


def deferred_imports_of(module: str) -> set[str]:
    """The package modules ``module`` imports inside a function body (``TYPE_CHECKING`` blocks excluded)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    skipped = _type_checking_nodes(tree)
    found: set[str] = set()
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(fn):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("sentinel_lab"))
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sentinel_lab"):
                found.add(node.module or "")
    return found


_ENFORCEMENT = next(i for i, (name, _) in enumerate(LAYERS) if name == "enforcement")


@pytest.mark.parametrize("module", sorted(m for m in MODULES if layer_of(m) <= _ENFORCEMENT))
def test_core_modules_import_the_package_at_the_top(module: str) -> None:
    inside = sorted(t for t in deferred_imports_of(module) if (module, t) not in DEFERRED)
    assert inside == [], f"{module} imports {inside} inside a function: import at the top or list it in DEFERRED"


def test_the_deferred_list_is_current() -> None:
    assert all(target in deferred_imports_of(module) for module, target in DEFERRED)
