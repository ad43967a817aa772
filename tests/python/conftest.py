"""Shared helpers of the Python module's tests: where the CLI and the sources are, and running the CLI."""
import os
import subprocess
from pathlib import Path

import pytest

SOURCE_DIR = Path(os.environ.get("CQUANT_SOURCE_DIR", Path(__file__).resolve().parents[2]))
CLI = os.environ.get("CQUANT_CLI", str(SOURCE_DIR / "build" / "cquant"))
GOLDEN = SOURCE_DIR / "tests" / "golden" / "torch"
MODELS = SOURCE_DIR / "models"


def run_cli(*args):
    """Runs build/cquant with args; fails the test with its stderr when it exits non-zero."""
    p = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True)
    assert p.returncode == 0, f"cquant {' '.join(map(str, args))}: {p.stderr}"
    return p.stdout


@pytest.fixture(scope="session")
def cli():
    if not os.path.exists(CLI):
        pytest.skip(f"{CLI} not built")
    return run_cli
