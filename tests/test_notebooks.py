"""The tutorials run: every notebook under tutorials/ executes top to bottom, and its .ipynb is in sync.

Notebooks are jupytext percent-format ``.py`` files (``tutorials/sync.py`` generates the ``.ipynb``
beside each). Each is executed with nbclient in a python3 kernel, in a temporary working directory,
offline (``DLZOO_OFFLINE=1``) on one thread; a notebook fails on an exception or on its own final
``assert`` on a measured result. Every registered family must have ``tutorials/families/<family>.py``
(``NOTEBOOK`` names the exceptions).
Notebooks under ``tutorials/tensorflow/`` are skipped where TensorFlow does not import.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = ROOT / "tutorials"
CELL_TIMEOUT_S = 300
TF_MISSING = "TensorFlow is not installed (pip install -c constraints.txt -e '.[tf]')"


def _load_sync():
    """tutorials/sync.py (not a package): the notebook list and the .py -> .ipynb rendering."""
    spec = importlib.util.spec_from_file_location("dlzoo_tutorials_sync", TUTORIALS / "sync.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sync = _load_sync()

NOTEBOOKS = sync.notebooks(TUTORIALS)


@functools.cache
def _tensorflow_imports() -> bool:
    """Whether `import tensorflow` works, asked in a subprocess (keeps TF's threads out of the test process)."""
    if importlib.util.find_spec("tensorflow") is None:
        return False
    proc = subprocess.run([sys.executable, "-c", "import tensorflow"], capture_output=True, timeout=300)
    return proc.returncode == 0


def _id(path: Path) -> str:
    return path.relative_to(TUTORIALS).with_suffix("").as_posix()


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=_id)
def test_notebook_runs(notebook: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("nbclient", reason="the notebook tests need the [dev] extra (nbclient, ipykernel)")
    import jupytext
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    if "tensorflow" in notebook.relative_to(TUTORIALS).parts and not _tensorflow_imports():
        pytest.skip(TF_MISSING)
    # the kernel inherits this environment: offline, one thread, dlzoo importable from the checkout
    monkeypatch.setenv("DLZOO_OFFLINE", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])))
    nb = jupytext.read(notebook, fmt=sync.FORMAT)
    client = NotebookClient(
        nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    try:
        client.execute()
    except CellExecutionError as e:  # the failing cell's source and traceback, without the kernel's noise
        pytest.fail(f"{_id(notebook)} failed:\n{str(e)[-4000:]}", pytrace=False)


def test_notebooks_are_in_sync_with_their_sources() -> None:
    pytest.importorskip("jupytext", reason="the notebook tests need the [dev] extra (jupytext)")
    stale = [p.relative_to(ROOT).as_posix() for p in sync.out_of_sync(TUTORIALS)]
    assert not stale, f"regenerate with `python tutorials/sync.py`: {stale}"


#: a family whose notebook cannot carry its name: tutorials/families/ssl.py would shadow the standard
#: library's ssl module for every kernel started in that folder (tornado and zmq import ssl at start-up)
NOTEBOOK = {"ssl": "self_supervised"}


def test_every_family_has_a_notebook() -> None:
    from dlzoo.registry import families

    missing = [f for f in families() if not (TUTORIALS / "families" / f"{NOTEBOOK.get(f, f)}.py").is_file()]
    assert not missing, f"tutorials/families/<family>.py missing for: {missing}"
