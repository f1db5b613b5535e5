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


# The daemon's socket protocol, as the Rust types generate it (docs/schemas/daemon.json, kept equal
# to them by vouch-api's test): every request a test sends through the client, and every refusal
# it gets back, must be what the schema allows, and a request the schema refuses the daemon must
# refuse as malformed — the client, the schema and the daemon cannot drift apart unseen.
SCHEMAS = json.loads(
    (Path(__file__).resolve().parents[3] / "docs" / "schemas" / "daemon.json").read_text()
)


@pytest.fixture(autouse=True)
def requests_follow_the_protocol(monkeypatch):
    import jsonschema

    from vouch_client import WalletError
    from vouch_client.wallet import Wallet

    request_schema = jsonschema.Draft202012Validator(SCHEMAS["request"])
    answer_schema = jsonschema.Draft202012Validator(SCHEMAS["answer"])
    send = Wallet.request

    def checked(self, op, **fields):
        # What the schema refuses (a test's deliberately wrong request), the daemon must refuse
        # as malformed: the two agree on what a request is.
        allowed = request_schema.is_valid({"op": op, **fields})
        try:
            answer = send(self, op, **fields)
        except WalletError as refused:
            error = {"code": refused.code, "message": refused.message}
            if refused.reason is not None:
                error["reason"] = refused.reason
            answer_schema.validate({"error": error})
            assert allowed or refused.code == "malformed", (op, fields, refused)
            raise
        assert allowed, f"the daemon took a request the schema refuses: {op} {fields}"
        return answer

    monkeypatch.setattr(Wallet, "request", checked)
