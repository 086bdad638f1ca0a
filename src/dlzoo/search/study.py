"""Where studies live: an Optuna storage from a URL, with one-line errors.

- no URL: embedded SQLite, ``<dir>/studies.db`` (nothing to start);
- ``sqlite:///path.db``, ``postgresql://user@host:port/db`` (several workers on several machines),
  any SQLAlchemy URL Optuna's RDBStorage takes: a heartbeat marks a trial whose worker died as failed
  and re-queues it with the same parameters (``RetryHeartbeatStaleTrialCallback``), so no trial is lost;
- ``journal:path.log``: Optuna's append-only JournalFileBackend (several processes on one machine).
"""

from __future__ import annotations

import re
import time
import warnings
from pathlib import Path

import optuna

from dlzoo.config import ConfigError


class SearchError(ConfigError):
    """A study that cannot be opened or searched: the message names the storage or the study."""


#: seconds between a running trial's heartbeats, and silence after which its worker counts as dead
HEARTBEAT_S, GRACE_S = 10, 60


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def default_storage(root: str | Path) -> str:
    Path(root).mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{Path(root) / 'studies.db'}"


def open_storage(url: str, *, heartbeat_s: int = HEARTBEAT_S, grace_s: int = GRACE_S) -> optuna.storages.BaseStorage:
    """An Optuna storage for ``url``; SearchError naming the URL when it cannot be reached."""
    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend

        path = Path(url.removeprefix("journal:"))
        if not path.parent.is_dir():
            raise SearchError(f"cannot reach the study storage {url!r}: folder {path.parent} does not exist")
        return optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    if "://" not in url:
        raise SearchError(
            f"study storage {url!r} is not a URL; expected sqlite:///FILE.db, postgresql://USER@HOST/DB or journal:FILE"
        )
    if url.startswith("sqlite:///"):
        folder = Path(url.removeprefix("sqlite:///")).parent
        if not folder.is_dir():
            raise SearchError(f"cannot reach the study storage {url!r}: folder {folder} does not exist")
    shown, url = url, _with_installed_driver(url)
    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    if url.startswith("postgresql"):
        engine_kwargs["connect_args"] = {"connect_timeout": 5}
    for attempt in range(3):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # the heartbeat API
                return optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=heartbeat_s,
                    grace_period=grace_s,
                    heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3),
                )
        except Exception as e:  # sqlalchemy's OperationalError / ArgumentError, a missing DB driver (ImportError)
            reason = (str(getattr(e, "orig", None) or e).strip().splitlines() or [type(e).__name__])[0]
            if attempt < 2 and any(m in reason for m in _SCHEMA_RACE):
                time.sleep(0.5 + attempt)  # two workers created the tables at once: the other one won
                continue
            raise SearchError(f"cannot reach the study storage {redact(shown)!r}: {reason}") from None
    raise AssertionError("unreachable")


#: errors of two fresh workers creating the same tables at once
_SCHEMA_RACE = ("UNIQUE constraint failed", "already exists", "duplicate key", "database is locked")


def _with_installed_driver(url: str) -> str:
    """``postgresql://`` means psycopg 3 to SQLAlchemy >= 2.1; use psycopg2 when only it is installed."""
    if url.startswith("postgresql://"):
        import importlib.util

        if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is not None:
            return "postgresql+psycopg2://" + url.removeprefix("postgresql://")
    return url


def load_study(name: str, storage: optuna.storages.BaseStorage, url: str, *, sampler=None, pruner=None) -> optuna.Study:
    """An existing study; SearchError listing the studies the storage holds when ``name`` is not one."""
    names = optuna.get_all_study_names(storage)
    if name not in names:
        raise SearchError(f"no study {name!r} in {redact(url)}; studies there: {', '.join(sorted(names)) or '(none)'}")
    return optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)
