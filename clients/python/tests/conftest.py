"""A real testnet for the client's tests: two nodes (`vouch-testnet up`) and two wallet daemons
(`vouch-testnet agents`), on loopback, in a temporary folder; stopped at the end.

The binaries come from ``VOUCH_BIN_DIR``, else the shared target folder's debug build
(``scripts/test.sh`` builds them first).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest


def refund(amount: int, resource: str = "https://testnet.example/refunds/42") -> dict:
    """The capability a refund call needs: the prover's credential grants up to 5,000 EUR."""
    return {
        "action": "call:testnet:refund",
        "resource": resource,
        "arguments": {"amount": {"value": amount, "unit": "EUR"}},
    }


def bin_dir() -> Path:
    explicit = os.environ.get("VOUCH_BIN_DIR")
    if explicit:
        return Path(explicit)
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.expanduser("~/.cache/vouch-target")
    return Path(target) / "debug"


@pytest.fixture(scope="session")
def testnet():
    testnet_bin = bin_dir() / "vouch-testnet"
    if not testnet_bin.exists():
        pytest.fail(f"{testnet_bin} not found: build the workspace first (scripts/test.sh does)")
    with tempfile.TemporaryDirectory(prefix="vouch-py-") as folder:
        run = lambda *args: subprocess.run(  # noqa: E731
            [str(testnet_bin), "--dir", folder, *args],
            check=True,
            capture_output=True,
            text=True,
            timeout=300,
        )
        try:
            run("up", "--nodes", "2", "--suite", "eddsa-jcs-2022")
            run("agents")
            path = os.path.join(folder, "agents.json")
            with open(path) as f:
                agents = json.load(f)
            agents["path"] = path
            yield agents
        finally:
            subprocess.run(
                [str(testnet_bin), "--dir", folder, "down"], capture_output=True, timeout=60
            )
