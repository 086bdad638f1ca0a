"""fetch(): cache lookup, sha256 checks, offline errors and atomic downloads, with file:// URLs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from dlzoo.data import DataError, Resource, data_root, fetch

PAYLOAD = b"some dataset bytes\n" * 100
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A file to 'download', served by a file:// URL."""
    path = tmp_path / "server" / "blob.bin"
    path.parent.mkdir()
    path.write_bytes(PAYLOAD)
    return path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    path.mkdir()
    return path


def test_data_root_env_and_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DLZOO_DATA", str(tmp_path / "not_there"))
    assert data_root() == tmp_path / "not_there"
    assert not (tmp_path / "not_there").exists()  # data_root creates nothing
    monkeypatch.delenv("DLZOO_DATA")
    assert data_root() == Path.home() / ".cache" / "dlzoo"


def test_present_file_is_verified_and_returned(root: Path) -> None:
    (root / "SET").mkdir()
    (root / "SET" / "blob.bin").write_bytes(PAYLOAD)
    resource = Resource("blob.bin", "https://example.invalid/blob.bin", PAYLOAD_SHA)
    assert fetch(resource, folder="SET", root=root) == root / "SET" / "blob.bin"


def test_present_file_with_wrong_hash(root: Path) -> None:
    (root / "SET").mkdir()
    (root / "SET" / "blob.bin").write_bytes(b"tampered")
    resource = Resource("blob.bin", "https://example.invalid/blob.bin", PAYLOAD_SHA)
    with pytest.raises(DataError) as err:
        fetch(resource, folder="SET", root=root)
    message = str(err.value)
    assert "blob.bin" in message and PAYLOAD_SHA in message
    assert hashlib.sha256(b"tampered").hexdigest() in message


@pytest.mark.parametrize("by_env", [True, False])
def test_missing_offline_error_says_where_and_how(root: Path, monkeypatch: pytest.MonkeyPatch, by_env: bool) -> None:
    url = "https://example.invalid/data/blob.bin"
    resource = Resource("blob.bin", url, PAYLOAD_SHA, mirrors=("http://mirror.invalid/blob.bin",))
    monkeypatch.setenv("DLZOO_OFFLINE", "1" if by_env else "0")
    with pytest.raises(DataError) as err:
        fetch(resource, folder="SET", root=root, offline=None if by_env else True)
    message = str(err.value)
    for expected in ("blob.bin", str(root / "SET" / "blob.bin"), url, "mirror.invalid", "DLZOO_DATA", "offline"):
        assert expected in message
    assert not (root / "SET").exists()  # offline creates nothing


def test_download_from_file_url(root: Path, source: Path) -> None:
    resource = Resource("blob.bin", source.as_uri(), PAYLOAD_SHA)
    path = fetch(resource, folder="SET", root=root, offline=False)
    assert path == root / "SET" / "blob.bin"
    assert path.read_bytes() == PAYLOAD
    assert sorted(p.name for p in path.parent.iterdir()) == ["blob.bin"]  # no temp file left
    assert fetch(resource, folder="SET", root=root, offline=True) == path  # now cached


def test_download_with_bad_hash_leaves_no_file(root: Path, source: Path) -> None:
    wrong = "0" * 64
    resource = Resource("blob.bin", source.as_uri(), wrong)
    with pytest.raises(DataError) as err:
        fetch(resource, folder="SET", root=root, offline=False)
    assert wrong in str(err.value) and PAYLOAD_SHA in str(err.value)
    assert list((root / "SET").iterdir()) == []  # neither the file nor a partial temp file


def test_download_falls_back_to_mirror(root: Path, source: Path) -> None:
    broken = (source.parent / "gone.bin").as_uri()
    resource = Resource("blob.bin", broken, PAYLOAD_SHA, mirrors=(source.as_uri(),))
    assert fetch(resource, folder="SET", root=root, offline=False).read_bytes() == PAYLOAD


def test_download_error_is_helpful(root: Path, source: Path) -> None:
    broken = (source.parent / "gone.bin").as_uri()
    resource = Resource("blob.bin", broken, PAYLOAD_SHA)
    with pytest.raises(DataError) as err:
        fetch(resource, folder="SET", root=root, offline=False)
    message = str(err.value)
    assert broken in message and "DLZOO_DATA" in message and str(root / "SET" / "blob.bin") in message
    assert list((root / "SET").iterdir()) == []


def test_missing_user_root_is_not_created(tmp_path: Path, source: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    typo = tmp_path / "typo_root"
    monkeypatch.setenv("DLZOO_DATA", str(typo))
    resource = Resource("blob.bin", source.as_uri(), PAYLOAD_SHA)
    with pytest.raises(DataError, match="does not exist"):
        fetch(resource, folder="SET", offline=False)
    assert not typo.exists()
