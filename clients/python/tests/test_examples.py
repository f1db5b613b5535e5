"""The examples (`examples/python`), run as a newcomer would run them, against the testnet."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "python"


def run(script: str, testnet) -> list:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), testnet["path"]],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_a_tool_call_runs_only_after_an_exchange_accepts_it(testnet):
    assert run("gated_refund.py", testnet) == [
        "refund 42 of 1200 EUR: issued",
        "refund 43 of 9000 EUR: refused (constraint_violated)",
        "delete order 42: refused (not_granted)",
    ]


def test_an_mcp_tool_runs_only_for_a_call_signed_under_a_capability(testnet):
    pytest.importorskip("mcp")
    lines = run("call_refund_tool.py", testnet)
    signer = testnet["prover"]["did"]
    assert lines[0] == f"refund 42, 1200 EUR: refund of 1200 EUR on order 42 issued for {signer}", lines
    assert lines[1] == f"refund 43, 300 EUR: refund of 300 EUR on order 43 issued for {signer}", lines
    assert lines[2] == "refund 44, 9000 EUR: the daemon refused to sign (constraint_violated)", lines
    assert lines[3] == "refund 45 unsigned: 401 request_mismatch", lines


def test_an_oauth_mcp_server_takes_a_token_for_what_its_capability_covers(testnet):
    pytest.importorskip("mcp")
    lines = run("call_refund_oauth.py", testnet)
    signer = testnet["prover"]["did"]
    assert lines == [
        "token: DPoP, 1 capability, call:testnet:refund up to 5000 EUR",
        f"refund 42, 1200 EUR: refund of 1200 EUR on order 42 issued for {signer}",
        "refund 44, 9000 EUR: 403 insufficient_scope",
        "refund 45, token without proof: 401 invalid_dpop_proof",
    ], lines
