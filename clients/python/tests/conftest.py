"""Fixtures: a real `datapole serve` on a free port in a temporary data directory.

The binary is `$DATAPOLE_BIN`, else the repository's `target/release/datapole` or
`target/debug/datapole` (whichever exists, the newer first); the tests that need a server are
skipped when there is none (with DATAPOLE_REQUIRE_ALL=1, as CI sets, that is a failure).
"""

from __future__ import annotations

import os
import queue
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from datapole_client import Client

REPO = Path(__file__).resolve().parents[3]


def binary() -> Path | None:
    """The datapole binary to start, if any."""
    env = os.environ.get("DATAPOLE_BIN")
    if env:
        return Path(env)
    found = [REPO / "target" / d / "datapole" for d in ("release", "debug")]
    found = [p for p in found if p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


@dataclass
class Server:
    """A running server: its base URL, data directory, admin token and process."""

    url: str
    data_dir: Path
    admin_token: str
    process: subprocess.Popen[bytes]

    def admin(self) -> Client:
        """A client with the admin token."""
        return Client(self.url, token=self.admin_token)


def start(data_dir: Path) -> Server:
    """Starts `datapole serve` on 127.0.0.1:0 and waits for its `listening on` line."""
    exe = binary()
    if exe is None or not exe.is_file():
        message = f"no datapole binary (DATAPOLE_BIN={os.environ.get('DATAPOLE_BIN')})"
        if os.environ.get("DATAPOLE_REQUIRE_ALL") == "1":
            pytest.fail(message)
        pytest.skip(message)
    log = open(data_dir.with_suffix(".log"), "ab")
    env = {k: v for k, v in os.environ.items() if k != "DATAPOLE_ADMIN_TOKEN"}
    process = subprocess.Popen(
        [str(exe), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.decode(errors="replace").strip()
            if line.startswith("datapole listening on "):
                lines.put(line.removeprefix("datapole listening on "))

    threading.Thread(target=read, daemon=True).start()
    try:
        url = lines.get(timeout=60)
    except queue.Empty:
        process.kill()
        process.wait()
        raise RuntimeError(
            "datapole did not start; its log:\n" + data_dir.with_suffix(".log").read_text()
        ) from None
    token = (data_dir / "admin-token").read_text().strip()
    return Server(url, data_dir, token, process)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the whole session."""
    s = start(tmp_path_factory.mktemp("datapole") / "data")
    yield s
    s.process.kill()
    s.process.wait()
