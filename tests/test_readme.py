"""The README's figures are generated from the embedded data (``python -m aigap.readme``)."""

from __future__ import annotations

import pytest

from aigap.readme import README, main, render_readme


def test_readme_figures_are_up_to_date():
    assert main(["--check"]) == 0, "run: python -m aigap.readme"


def test_render_replaces_only_the_marked_block():
    text = "a\n<!-- figures:x -->\nold\n<!-- /figures:x -->\nb\n"
    assert (
        render_readme(text, {"x": "new"}) == "a\n<!-- figures:x -->\nnew\n<!-- /figures:x -->\nb\n"
    )
    with pytest.raises(ValueError, match="figures:y"):
        render_readme(text, {"y": "new"})
    assert "<!-- figures:headline -->" in README.read_text()
