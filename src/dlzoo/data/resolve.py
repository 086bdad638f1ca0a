"""A dataset by its own name: which registered loader holds it.

``--data citeseer``, ``--data PROTEINS`` and ``--data Beef`` name datasets *inside* a loader, not
loaders. :func:`find_dataset` looks for them, case-insensitively, where those loaders read from:

- ``planetoid``: ``$DLZOO_DATA/planetoid/ind.<name>.x`` (and the graphs the loader downloads itself);
- ``tudataset``: ``$DLZOO_DATA/<Name>/<Name>_A.txt`` (or ``<Name>/raw/``);
- ``ucr``: ``$DLZOO_DATA/UCRArchive_2018/<Name>/<Name>_TRAIN.tsv`` (or ``.ts``).

    find_dataset("beef")   # [Found(loader='ucr', dataset='Beef', where='.../UCRArchive_2018/Beef')]

The name comes back spelled as on disk (``Beef``), which is what the loader's ``dataset=`` needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dlzoo.data.download import data_root

#: the loaders that hold many datasets by name, and where (the form a user types for them)
HOLDERS = ("planetoid", "tudataset", "ucr")


@dataclass(frozen=True)
class Found:
    """Dataset ``dataset`` of loader ``loader``, found at ``where``."""

    loader: str
    dataset: str
    where: str

    def form(self) -> str:
        """The command-line form, e.g. ``--data ucr data.dataset=Beef``."""
        return f"--data {self.loader} data.dataset={self.dataset}"


def _dirs(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir())
    except OSError:  # missing or unreadable: nothing there
        return []


def _planetoid(name: str, root: Path) -> list[Found]:
    from dlzoo.data.graphs import PLANETOID_SHA256

    folder = root / "planetoid"
    on_disk = sorted(folder.glob("ind.*.x")) if folder.is_dir() else []
    for path in on_disk:
        graph = path.name[len("ind.") : -len(".x")]
        if graph.lower() == name.lower():
            return [Found("planetoid", graph, str(folder))]
    for graph in PLANETOID_SHA256:  # published graphs the loader downloads and verifies
        if graph.lower() == name.lower():
            return [Found("planetoid", graph, "the planetoid loader's published graphs (downloaded when missing)")]
    return []


def _tu(name: str, root: Path) -> list[Found]:
    for folder in _dirs(root):
        if folder.name.lower() != name.lower():
            continue
        for where in (folder, folder / "raw"):
            if (where / f"{folder.name}_A.txt").is_file():
                return [Found("tudataset", folder.name, str(where))]
    return []


def _ucr(name: str, root: Path) -> list[Found]:
    from dlzoo.data.timeseries import UCR_FOLDER

    for folder in _dirs(root / UCR_FOLDER):
        if folder.name.lower() != name.lower():
            continue
        if any((folder / f"{folder.name}_TRAIN.{ext}").is_file() for ext in ("tsv", "ts")):
            return [Found("ucr", folder.name, str(folder))]
    return []


def find_dataset(name: str, *, root: Path | None = None) -> list[Found]:
    """Every loader of :data:`HOLDERS` that holds a dataset called ``name`` (any case), in that order."""
    if not name or "/" in name or name.startswith("."):
        return []
    root = data_root() if root is None else root
    return [*_planetoid(name, root), *_tu(name, root), *_ucr(name, root)]


def not_found_hint(name: str) -> str:
    """What to type when ``name`` is neither a loader nor a dataset found inside one."""
    return (
        f"no Planetoid graph, TU set or UCR set called {name!r} under DLZOO_DATA ({data_root()}) either; "
        f"a dataset inside a loader is given as --data planetoid|tudataset|ucr data.dataset={name}"
    )


__all__ = ["HOLDERS", "Found", "find_dataset", "not_found_hint"]
