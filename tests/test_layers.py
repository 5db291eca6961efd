"""Dependencies run one way: data <- screens <- strategies <- backtests, the CLI (aigap) on
top.  Checked on the imports written in the source, not on what happens to be loaded."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["data", "screens", "strategies", "backtests", "aigap"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layer_imports_only_the_layers_below_it(layer):
    above = set(LAYERS[LAYERS.index(layer) + 1 :])
    bad = {
        str(p.relative_to(ROOT)): sorted(_imports(p) & above)
        for p in sorted((ROOT / layer).glob("*.py"))
        if _imports(p) & above
    }
    assert not bad, bad


def test_only_the_engine_imports_vectorbt_and_only_the_provider_yfinance():
    users = {
        lib: sorted(
            str(p.relative_to(ROOT))
            for layer in LAYERS
            for p in (ROOT / layer).glob("*.py")
            if lib in _imports(p)
        )
        for lib in ("vectorbt", "yfinance")
    }
    assert users == {
        "vectorbt": ["backtests/engine.py"],
        "yfinance": ["data/yfinance_provider.py"],
    }
