"""Regenerate every tutorial notebook (.ipynb) from its jupytext source (.py, percent format).

The ``.py`` file is the source that is reviewed and edited; the ``.ipynb`` beside it is generated,
without outputs, for readers who open notebooks in Jupyter, VS Code or on GitHub.

    python tutorials/sync.py            # rewrite every .ipynb whose .py changed
    python tutorials/sync.py --check    # exit 1 and list the pairs that are out of sync (what the test does)

A notebook is any ``tutorials/**/*.py`` except this file and files whose name starts with ``_``
(helpers). Cells are ``# %%`` (code) and ``# %% [markdown]`` (markdown) blocks.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
FORMAT = "py:percent"
METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
    # `jupytext --sync` and the Jupyter extension keep the two files paired
    "jupytext": {"formats": "ipynb,py:percent"},
}


def notebooks(root: Path = ROOT) -> list[Path]:
    """The jupytext sources under ``root``, sorted."""
    return sorted(
        p
        for p in root.rglob("*.py")
        if p.name != "sync.py" and not p.name.startswith("_") and "__pycache__" not in p.parts
    )


def render(source: Path) -> str:
    """The .ipynb text generated from ``source``: no outputs, fixed metadata and cell ids (reproducible)."""
    import jupytext  # the [dev] extra
    import nbformat

    nb = jupytext.read(source, fmt=FORMAT)
    nb.metadata = dict(METADATA)
    for i, cell in enumerate(nb.cells):
        cell.id = f"{source.stem}-{i}"
        cell.metadata = {}
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nb.nbformat, nb.nbformat_minor = 4, 5
    nbformat.validate(nb)
    return nbformat.writes(nb) + "\n"


def out_of_sync(root: Path = ROOT) -> list[Path]:
    """Sources whose .ipynb is missing or differs from what :func:`render` gives, and .ipynb without a source."""
    stale = [p for p in notebooks(root) if not _same(p.with_suffix(".ipynb"), render(p))]
    sources = {p.with_suffix(".ipynb") for p in notebooks(root)}
    orphans = [p for p in sorted(root.rglob("*.ipynb")) if p not in sources and ".ipynb_checkpoints" not in p.parts]
    return stale + orphans


def _same(path: Path, text: str) -> bool:
    return path.is_file() and path.read_text(encoding="utf-8") == text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report the pairs that are out of sync")
    args = parser.parse_args(argv)
    if args.check:
        bad = out_of_sync()
        for p in bad:
            print(f"out of sync: {p.relative_to(ROOT.parent)} (run: python tutorials/sync.py)")
        return 1 if bad else 0
    for source in notebooks():
        target = source.with_suffix(".ipynb")
        text = render(source)
        if not _same(target, text):
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target.relative_to(ROOT.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
