"""Every command a README shows is run here, as a new user would run it, in a fresh folder.

Each fenced block with commands carries a marker on the line before its opening fence
(tests/README.md, "Commands in READMEs"):

- ``<!-- runnable -->``: run by this test, in order, in one temporary folder per README (a user
  following it top to bottom). bash blocks run line by line with ``dlzoo`` and ``python`` taken from
  this checkout; a ``dlzoo serve`` line starts the server in the background on a free loopback port
  (the block's ``localhost:8000`` is pointed there), and each ``curl`` is sent as the same HTTP request
  (method, headers, body, curl's default form content type for ``-d``) with a timeout; it must answer
  2xx, with every key of the ``# {...}`` response shown under it. ``python`` blocks run as scripts.
- ``<!-- not-run: why -->``: long canonical commands (benchmarks, full datasets) and synopses.

The README.md set-up commands between ``<!-- main-job:begin/end -->`` and ``<!-- tests:begin/end -->``
are CI's (``.ci/run`` runs them exactly as written) and are left alone here.
Runs are offline (``DLZOO_OFFLINE=1``) with an empty ``DLZOO_DATA``: a runnable block needs no data files.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
READMES = sorted(
    [ROOT / "README.md", ROOT / "tests" / "README.md", *(ROOT / "src" / "dlzoo").glob("**/README.md")],
    key=lambda p: str(p.relative_to(ROOT)),
)
RUNNABLE, NOT_RUN = "<!-- runnable -->", re.compile(r"<!-- not-run: .+ -->")
CI_MARKERS = ("<!-- main-job:begin -->", "<!-- tests:begin -->")
COMMAND_LANGS = {"", "bash", "sh", "shell", "console", "python"}  # blocks that must carry a marker
COMMAND_TIMEOUT_S = 300
HTTP_TIMEOUT_S = 60
SERVER_START_S = 90


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    marker: str  # "runnable" | "not-run" | "ci" | ""
    text: str

    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def fenced_blocks(path: Path) -> list[Block]:
    """The ``` blocks of a Markdown file (top-level and indented), with the marker on the line before."""
    lines = path.read_text().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        m = re.match(r"^(\s*)```(.*)$", lines[i])
        if not m:
            i += 1
            continue
        indent, lang = m.group(1), m.group(2).strip()
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
        before = lines[i - 1].strip() if i else ""
        marker = (
            "runnable"
            if before == RUNNABLE
            else "not-run"
            if NOT_RUN.fullmatch(before)
            else "ci"
            if before in CI_MARKERS
            else ""
        )
        body = "\n".join(ln[len(indent) :] if ln.startswith(indent) else ln for ln in lines[i + 1 : end])
        blocks.append(Block(path, i + 1, lang, marker, body))
        i = end + 1
    return blocks


# -- the rules every README keeps -----------------------------------------------------------------


def test_every_command_block_is_marked_runnable_or_not_run() -> None:
    unmarked = [
        f"{b.where()} (```{b.lang})"
        for p in READMES
        for b in fenced_blocks(p)
        if b.lang in COMMAND_LANGS and not b.marker
    ]
    assert not unmarked, (
        f"blocks without <!-- runnable --> or <!-- not-run: why --> on the line before: {unmarked} "
        "(a block that is not commands: ```text)"
    )


def test_no_readme_or_user_facing_docstring_names_a_path_of_one_machine() -> None:
    shown = {p: p.read_text() for p in READMES}
    for script in sorted((ROOT / "benchmarks").glob("*.py")):  # their docstrings are their usage
        shown[script] = ast.get_docstring(ast.parse(script.read_text())) or ""
    bad = [
        f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
        for p, text in shown.items()
        for n, line in enumerate(text.splitlines(), 1)
        if re.search(r"(?<![\w.])/work/|/tmp/[\w.-]*venv|/home/\w+", line)
    ]
    assert not bad, "absolute paths of one machine (write DLZOO_DATA=<your data folder> or ../shared/data):\n" + (
        "\n".join(bad)
    )


def test_runnable_blocks_are_tiny_already() -> None:
    """A runnable block shows what it runs: no canonical presets or benchmark scripts hidden behind it."""
    heavy = re.compile(r"--preset\s+(mnist\w*|cora\w*|mutag|ucr|seq_mnist|shakespeare\w*|best10min)|benchmarks/")
    bad = [
        f"{b.where()}: {line}"
        for p in READMES
        for b in fenced_blocks(p)
        if b.marker == "runnable"
        for line in b.text.splitlines()
        if heavy.search(line) or "DLZOO_DATA" in line
    ]
    assert not bad, "runnable blocks must be tiny and need no data folder:\n" + "\n".join(bad)


# -- running them ---------------------------------------------------------------------------------


def _commands(text: str) -> list[tuple[str, str]]:
    """A bash block -> [(command, the comment lines right after it)], joining continued and quoted lines."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            if out and line.lstrip().startswith("#"):
                out[-1] = (out[-1][0], out[-1][1] + line.lstrip()[1:] + "\n")
            continue
        pending = f"{pending}\n{line}" if pending else line
        if pending.endswith("\\"):
            continue
        try:
            shlex.split(pending, comments=True)
        except ValueError:  # an open quote: the command goes on
            continue
        out.append((pending, ""))
        pending = ""
    assert not pending, f"unterminated command: {pending}"
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Session:
    """One README followed in one folder: its commands, its server."""

    def __init__(self, folder: Path, tools: Path) -> None:
        self.folder, self.server, self.port = folder, None, 0
        data = folder / ".empty-data"
        data.mkdir()
        self.env = {
            **os.environ,
            "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
            "DLZOO_OFFLINE": "1",
            "DLZOO_DATA": str(data),
            "OMP_NUM_THREADS": "1",
        }

    def run_block(self, block: Block) -> None:
        if block.lang == "python":
            script = self.folder / f"block_{block.line}.py"
            script.write_text(block.text)
            self._shell(f"{shlex.quote(sys.executable)} {script.name}", block)
            return
        for command, comment in _commands(block.text):
            words = shlex.split(command.replace("\\\n", " "), comments=True)  # bash drops backslash-newline
            if words[:2] == ["dlzoo", "serve"]:
                self._serve(words, block)
            elif words[:1] == ["curl"]:
                self._curl(words, comment, block)
            else:
                self._shell(command, block)

    def _shell(self, command: str, block: Block) -> None:
        try:
            r = subprocess.run(
                ["bash", "-c", command],
                cwd=self.folder,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"{block.where()}: `{command}` ran over {COMMAND_TIMEOUT_S} s")
        tail = (r.stdout + r.stderr)[-3000:]
        assert r.returncode == 0, f"{block.where()}: `{command}` exited {r.returncode}:\n{tail}"

    def _serve(self, words: list[str], block: Block) -> None:
        command = shlex.join(words)  # without its comment
        self.close()
        self.port = _free_port()
        self.log = (self.folder / "serve.log").open("w")
        self.server = subprocess.Popen(
            ["bash", "-c", f"exec {command} --host 127.0.0.1 --port {self.port}"],
            cwd=self.folder,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + SERVER_START_S
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                pytest.fail(f"{block.where()}: `{command}` exited:\n{(self.folder / 'serve.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.3)
        pytest.fail(f"{block.where()}: `{command}` did not answer /healthz within {SERVER_START_S} s")

    def _curl(self, words: list[str], documented: str, block: Block) -> None:
        assert self.server is not None, f"{block.where()}: curl before any `dlzoo serve` in this README"
        method, headers, data, url = None, {}, [], None
        args = iter(words[1:])
        for a in args:
            if a in ("-X", "--request"):
                method = next(args)
            elif a in ("-H", "--header"):
                key, _, value = next(args).partition(":")
                headers[key.strip().lower()] = value.strip()
            elif a in ("-d", "--data", "--data-raw", "--data-binary"):
                value = next(args)
                if value.startswith("@") and a != "--data-raw":
                    value = (self.folder / value[1:]).read_text()
                    value = value if a == "--data-binary" else value.replace("\r", "").replace("\n", "")
                data.append(value)
            elif a in ("-s", "-S", "-sS", "-N", "--silent", "--no-buffer", "--show-error"):
                pass
            elif a.startswith("-"):
                pytest.fail(f"{block.where()}: this test does not know the curl option {a}; teach it, or use another")
            else:
                url = a
        assert url, f"{block.where()}: curl without a URL"
        url = re.sub(r"^(https?://)?localhost:8000", f"http://127.0.0.1:{self.port}", url)
        if data:
            headers.setdefault("content-type", "application/x-www-form-urlencoded")  # what curl -d sends
        method = method or ("POST" if data else "GET")
        r = httpx.request(method, url, headers=headers, content="&".join(data).encode() or None, timeout=HTTP_TIMEOUT_S)
        assert 200 <= r.status_code < 300, f"{block.where()}: curl {url} -> {r.status_code}: {r.text[:1000]}"
        answers = [json.loads(line) for line in r.text.splitlines() if line.strip()]
        keys: set[str] = set()
        _collect_keys(answers, keys)
        missing = sorted(set(re.findall(r'"(\w+)":', documented)) - keys)
        assert not missing, f"{block.where()}: the response shown has keys {missing}, the server's not: {r.text[:500]}"

    def close(self) -> None:
        if self.server is not None:
            self.server.terminate()
            try:
                self.server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
            self.log.close()
            self.server = None


def _collect_keys(value: object, keys: set[str]) -> None:
    if isinstance(value, dict):
        keys.update(value)
        for v in value.values():
            _collect_keys(v, keys)
    elif isinstance(value, list):
        for v in value:
            _collect_keys(v, keys)


@pytest.fixture()
def tools(tmp_path: Path) -> Path:
    """``dlzoo`` and ``python`` on PATH, both this checkout run by this interpreter."""
    folder = tmp_path / ".bin"
    folder.mkdir()
    for name, cmd in (("dlzoo", f"{shlex.quote(sys.executable)} -m dlzoo"), ("python", shlex.quote(sys.executable))):
        (folder / name).write_text(f'#!/bin/sh\nexec {cmd} "$@"\n')
        (folder / name).chmod(0o755)
    return folder


WITH_RUNNABLE = [p for p in READMES if any(b.marker == "runnable" for b in fenced_blocks(p))]


@pytest.mark.parametrize("readme", WITH_RUNNABLE, ids=[str(p.relative_to(ROOT)) for p in WITH_RUNNABLE])
def test_runnable_blocks_run_as_written(readme: Path, tmp_path: Path, tools: Path) -> None:
    session = Session(tmp_path, tools)
    try:
        for block in fenced_blocks(readme):
            if block.marker == "runnable":
                session.run_block(block)
    finally:
        session.close()
