"""Find, download and verify data files.

Files live in ``<data_root()>/<folder>/<filename>``; ``data_root()`` is ``$DLZOO_DATA`` when set,
else ``~/.cache/dlzoo``. A file that is present is checked against its sha256; a file that is
missing is downloaded (unless offline) to a temporary file in the same folder, checked, and only
then moved into place with ``os.replace``, so a failed or corrupt download never leaves a file
behind under the final name.

Offline use: set ``DLZOO_OFFLINE=1`` (or pass ``offline=True``) and point ``DLZOO_DATA`` at a folder
that holds ``<folder>/<filename>``, e.g. ``DLZOO_DATA=/data`` with ``/data/MNIST/train-images-idx3-ubyte.gz``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from dlzoo.data.base import DataError

log = logging.getLogger(__name__)

DEFAULT_ROOT = Path("~/.cache/dlzoo")  # used when $DLZOO_DATA is not set
TIMEOUT_S = 60.0  # per-connection timeout of a download


@dataclass(frozen=True)
class Resource:
    """One file of a dataset and where to get it."""

    filename: str  # name in the dataset folder, e.g. "train-images-idx3-ubyte.gz"
    url: str  # canonical URL
    sha256: str  # hex digest of the file as published
    mirrors: tuple[str, ...] = ()  # tried in order after `url` fails

    @property
    def urls(self) -> tuple[str, ...]:
        return (self.url, *self.mirrors)


def data_root() -> Path:
    """``$DLZOO_DATA`` if set, else ``~/.cache/dlzoo``. Creates nothing."""
    env = os.environ.get("DLZOO_DATA")
    return Path(env).expanduser() if env else DEFAULT_ROOT.expanduser()


def is_offline() -> bool:
    """True when the environment says not to download (``DLZOO_OFFLINE=1``)."""
    return os.environ.get("DLZOO_OFFLINE") == "1"


def sha256_file(path: Path) -> str:
    """Hex sha256 digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(resource: Resource, *, folder: str, root: Path | None = None, offline: bool | None = None) -> Path:
    """Path to ``<root>/<folder>/<resource.filename>``, verified, downloading it if missing.

    Args:
        resource: the file to get.
        folder: dataset folder under the root, e.g. "MNIST".
        root: data root; default :func:`data_root`.
        offline: never download; default True when ``DLZOO_OFFLINE=1``.

    Raises:
        DataError: the file has the wrong hash, is missing while offline, or could not be downloaded.
    """
    root = data_root() if root is None else Path(root).expanduser()
    offline = is_offline() if offline is None else offline
    path = root / folder / resource.filename
    if path.is_file():
        _verify(path, resource.sha256)
        return path
    if offline:
        raise DataError(_missing_message(resource, path, reason="offline mode (DLZOO_OFFLINE=1 or offline=True)"))
    if not root.is_dir() and root != DEFAULT_ROOT.expanduser():
        # a data root named by the user must exist: a typo should not silently create folders
        raise DataError(_missing_message(resource, path, reason=f"data root {root} does not exist"))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(_missing_message(resource, path, reason=f"cannot create {path.parent}: {e}")) from e
    errors = []
    for url in resource.urls:
        try:
            _download(url, path, sha256=resource.sha256)
            return path
        except (OSError, DataError) as e:  # URLError is an OSError
            log.warning("download of %s failed: %s", url, e)
            errors.append(f"  {url}: {e}")
    raise DataError(_missing_message(resource, path, reason="download failed:\n" + "\n".join(errors)))


def _download(url: str, path: Path, *, sha256: str) -> None:
    """Download ``url`` to a temp file next to ``path``, verify it, then move it to ``path``."""
    log.info("downloading %s -> %s", url, path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            shutil.copyfileobj(response, out, length=1 << 20)
        _verify(tmp, sha256, shown_as=f"{path.name} downloaded from {url}")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # no-op after a successful os.replace


def _verify(path: Path, expected: str, *, shown_as: str | None = None) -> None:
    actual = sha256_file(path)
    if actual != expected.lower():
        raise DataError(
            f"sha256 mismatch for {shown_as or path}: expected {expected}, got {actual}. "
            "The file is corrupt or a different version; delete it to download it again."
        )


def _missing_message(resource: Resource, path: Path, *, reason: str) -> str:
    mirrors = f" (mirrors: {', '.join(resource.mirrors)})" if resource.mirrors else ""
    return (
        f"data file {resource.filename!r} is missing: looked for {path}; {reason}.\n"
        f"Get it from {resource.url}{mirrors} and put it at {path}, or set DLZOO_DATA to a folder "
        f"that holds {path.parent.name}/{resource.filename} "
        f"(DLZOO_DATA is currently {os.environ.get('DLZOO_DATA', 'unset')})."
    )
