"""Imports point one way: cli -> eval -> indexer -> rag; ui talks HTTP and shares only the contract.

Every import statement counts, also those inside functions or under TYPE_CHECKING.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# package -> top-level packages of this project it must never import
FORBIDDEN = {
    "rag": {"indexer", "eval", "ui", "cli"},
    "indexer": {"eval", "ui", "cli"},
    "eval": {"ui", "cli"},
    "ui": {"indexer", "eval", "cli"},
}
# ui may import these modules of rag, which import nothing of rag
UI_MAY_IMPORT = {"rag.contract", "rag.api_client", "rag.cleaning"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def modules_of(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_point_one_way(package: str) -> None:
    wrong = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in modules_of(package)
        for name in imported_modules(path)
        if name.split(".")[0] in FORBIDDEN[package]
    }
    assert not wrong, sorted(wrong)


def test_ui_shares_only_the_contract_with_rag() -> None:
    wrong = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in modules_of("ui")
        for name in imported_modules(path)
        if name.split(".")[0] == "rag"
        and name not in UI_MAY_IMPORT
        and not any(name.startswith(f"{allowed}.") for allowed in UI_MAY_IMPORT)
        and name != "rag"
    }
    assert not wrong, sorted(wrong)


@pytest.mark.parametrize("module", sorted(UI_MAY_IMPORT))
def test_what_the_ui_shares_imports_nothing_of_rag(module: str) -> None:
    names = imported_modules(ROOT / f"{module.replace('.', '/')}.py")
    assert not {name for name in names if name.split(".")[0] == "rag"}


def test_the_walker_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "def f():\n    from indexer.build import build_index\n    import eval.runner\n"
    )
    assert {"indexer.build", "eval.runner"} <= imported_modules(module)
