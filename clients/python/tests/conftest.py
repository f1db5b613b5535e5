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
        jsonschema.Draft202012Validator(SCHEMAS["ok"][op]).validate(answer)
        return answer

    monkeypatch.setattr(Wallet, "request", checked)


# The node's HTTP API, as the Rust types and the prose generate it (docs/openapi.yaml, kept equal
# to them by vouch-api's test): every body the node client sends must be what the route's
# request schema allows, and every answer it reads — a success, a report, a refusal — what the
# route's answer for that status allows. A status the document does not list for the route fails.
OPENAPI_URI = "urn:vouch:openapi"


def _openapi():
    import yaml
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    doc = yaml.safe_load(
        (Path(__file__).resolve().parents[3] / "docs" / "openapi.yaml").read_text()
    )
    registry = Registry().with_resource(
        OPENAPI_URI, Resource(contents=doc, specification=DRAFT202012)
    )
    return doc, registry


_OPENAPI = None


def _loaded():
    global _OPENAPI
    if _OPENAPI is None:
        _OPENAPI = _openapi()
    return _OPENAPI


def openapi_allows(value, at, media):
    """Whether ``value`` is what the content of ``at`` (a pointer into docs/openapi.yaml to a
    request body or an answer) allows, in any of its media types."""
    import jsonschema

    _, registry = _loaded()
    for m in media:
        validator = jsonschema.Draft202012Validator(
            {"$ref": f"{OPENAPI_URI}#{at}/content/{_token(m)}/schema"}, registry=registry
        )
        if validator.is_valid(value):
            return True
    return False


def _token(text):
    return text.replace("~", "~0").replace("/", "~1")


def _route(doc, method, path):
    """The document's template of ``path`` (``/1.0/exchanges/{id}``) and its operation."""
    segments = path.split("?", 1)[0].split("/")
    for template, ops in doc["paths"].items():
        parts = template.split("/")
        if len(parts) == len(segments) and all(
            p == s or (p.startswith("{") and p.endswith("}")) for p, s in zip(parts, segments)
        ):
            if method.lower() in ops:
                return template, ops[method.lower()]
    raise AssertionError(f"{method} {path}: no route of docs/openapi.yaml")


@pytest.fixture(autouse=True)
def node_calls_follow_the_openapi_document(monkeypatch):
    from vouch_client import NodeError
    from vouch_client.node import Node

    doc, _ = _loaded()
    valid = openapi_allows
    call = Node._call

    def checked(self, method, path, body=None, report=False):
        template, op = _route(doc, method, path)
        at = f"/paths/{_token(template)}/{method.lower()}"
        # What the document refuses (a test's deliberately wrong body), the node must refuse.
        allowed = True
        if body is not None:
            assert "requestBody" in op, f"{method} {template} takes no body"
            allowed = valid(body, f"{at}/requestBody", list(op["requestBody"]["content"]))
        try:
            answer = call(self, method, path, body, report)
        except NodeError as refused:
            if refused.status:
                status = str(refused.status)
                answers = op["responses"]
                assert status in answers, f"{method} {template}: {status} is not in the document"
                described, at_status = answers[status], f"{at}/responses/{status}"
                if "$ref" in described:
                    name = described["$ref"].rsplit("/", 1)[1]
                    described = doc["components"]["responses"][name]
                    at_status = f"/components/responses/{name}"
                media = list(described.get("content", {}))
                assert valid(refused.body, at_status, media), (
                    f"{method} {template}: a {status} the document does not describe: "
                    f"{json.dumps(refused.body)[:400]}"
                )
                assert allowed or 400 <= refused.status < 500, (method, template, refused)
            raise
        assert allowed, f"the node took a body the document refuses: {method} {template} {body}"
        statuses = [s for s in op["responses"] if s.startswith("2")]
        if report and isinstance(answer, dict) and answer.get("verified") is False:
            statuses.append("400")
        assert any(
            valid(answer, f"{at}/responses/{s}", list(op["responses"][s].get("content", {})))
            for s in statuses
        ), f"{method} {template}: an answer none of {statuses} describes: {json.dumps(answer)[:400]}"
        return answer

    monkeypatch.setattr(Node, "_call", checked)
