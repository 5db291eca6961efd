"""Dependencies run one way: data <- screens <- strategies <- backtests, the CLI (aigap) on
top.  Checked on the imports written in the source, not on what happens to be loaded."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["data", "screens", "strategies", "backtests", "aigap"]


@functools.cache
def _imports(path: Path) -> frozenset[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return frozenset(out)


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


@pytest.mark.first
def test_the_screen_and_the_pairs_backtest_do_not_load_vectorbt():
    """Start-up cost: the screen needs no simulator, and the pairs backtest runs on the kernel
    (vectorbt is the reference simulator, imported only when asked for)."""
    import subprocess
    import sys

    code = (
        "import sys, io, contextlib\n"
        "from aigap.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['screen', '--format', 'json']) == 0\n"
        "    assert main(['backtest', 'pairs', '--pair', 'BABA:AMZN', '--start', '2025-01-01',\n"
        "                 '--format', 'json']) == 0\n"
        "print(sorted(m for m in ('vectorbt', 'yfinance') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
