"""The journey example (examples/journey.py) runs to the end against a real server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import Server

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "journey.py"


def test_the_journey_example_runs_against_a_real_server(server: Server) -> None:
    out = subprocess.run(
        [sys.executable, str(EXAMPLE), server.url, str(server.data_dir / "admin-token")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert "permit (consented)" in text
    assert "deny (consent_withdrawn)" in text
    assert "initiated by the subject" in text
    assert text.count("✓ ") >= 9 and "✗" not in text
    assert text.rstrip().endswith("journey complete")
