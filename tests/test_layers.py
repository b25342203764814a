"""The layers of docs/architecture.md hold in the code: no import cycle between modules, and no
import from a lower layer to a higher one but finetune -> tools and the exceptions named there.
Read from the source (every ``import`` statement, also inside functions), nothing is run."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAYERS = ["knowledge", "finetune", "tools", "assistant", "ui"]  # bottom to top
ALLOWED_UP = {
    ("finetune", "tools"),  # the model is trained on the tool contract
}
# module -> higher modules it still imports (docs/architecture.md says why)
EXCEPTIONS = {
    "assistant.serve": {"ui.console"},  # the server mounts the console
    "knowledge.cli": {"finetune.knowledge_index"},  # an import's re-index goes to the registry
}


def modules() -> dict[str, Path]:
    found = {}
    for layer in LAYERS:
        for path in (REPO / layer).rglob("*.py"):
            name = ".".join(path.relative_to(REPO).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imports() -> dict[str, set[str]]:
    """module -> the project's modules it imports."""
    known = modules()

    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    edges: dict[str, set[str]] = {}
    for module, path in known.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {resolve(a.name) for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets |= {resolve(f"{node.module}.{a.name}") for a in node.names}
        edges[module] = {t for t in targets if t and t != module}
    return edges


def test_no_module_imports_a_higher_layer_but_the_allowed_arrows():
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    upward = sorted(
        f"{module} -> {target}" for module, targets in imports().items() for target in targets
        if rank[target.split(".")[0]] > rank[module.split(".")[0]]
        and (module.split(".")[0], target.split(".")[0]) not in ALLOWED_UP
        and target not in EXCEPTIONS.get(module, set()))
    assert upward == []


def test_no_import_cycle():
    edges = imports()
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            raise AssertionError("import cycle: " + " -> ".join(path[path.index(module):]
                                                                + [module]))
        if module in done:
            return
        for target in sorted(edges.get(module, ())):
            visit(target, [*path, module])
        done.add(module)

    for module in sorted(edges):
        visit(module, [])
