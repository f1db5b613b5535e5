"""A2A agent cards: the daemon's card carries the Vouch extension, and an exchange started from
a card holds only if the agent that answered is the card's."""

from __future__ import annotations

import copy

import pytest

from vouch_client import (
    EXTENSION,
    VouchError,
    Wallet,
    exchange_from_card,
    fetch_card,
    vouch_identity,
)

REFUND = {
    "action": "call:testnet:refund",
    "resource": "https://testnet.example/refunds/42",
    "arguments": {"amount": {"value": 50, "unit": "EUR"}},
}


def test_the_card_advertises_the_instance_its_org_and_what_it_can_prove(testnet):
    with Wallet(testnet["prover"]["socket"]) as wallet:
        card = wallet.agent_card("refund desk", url="https://agent.example/a2a")
    assert card["name"] == "refund desk"
    assert card["supportedInterfaces"][0]["url"] == "https://agent.example/a2a"
    identity = vouch_identity(card)
    assert identity.instance == testnet["prover"]["did"]
    assert identity.organizations == [testnet["prover"]["org"]]
    assert testnet["prover"]["address"] in identity.addresses
    assert identity.credential_types == ["AgentCapabilityCredential"]
    assert {"action": "call:testnet:refund", "resource": "https://testnet.example/refunds/**"} in (
        identity.capabilities
    )
    assert card["capabilities"]["extensions"][0]["uri"] == EXTENSION


def test_an_exchange_from_a_card_checks_who_answered(testnet):
    with Wallet(testnet["prover"]["socket"]) as prover:
        card = prover.agent_card("refund desk")
    with Wallet(testnet["verifier"]["socket"]) as verifier:
        exchange = exchange_from_card(verifier, card, [REFUND])
        assert exchange.accepted and exchange.prover == testnet["prover"]["did"]

        # A card that names another instance at the prover's address: refused, whatever the
        # decisions said.
        lying = copy.deepcopy(card)
        lying["capabilities"]["extensions"][0]["params"]["instance"] = testnet["verifier"]["did"]
        with pytest.raises(VouchError, match="not the card's"):
            exchange_from_card(verifier, lying, [REFUND])


def test_a_card_without_a_vouch_identity_is_refused():
    with pytest.raises(VouchError):
        vouch_identity({"name": "x", "capabilities": {"extensions": []}})
    with pytest.raises(VouchError):
        vouch_identity(
            {"capabilities": {"extensions": [{"uri": EXTENSION, "params": {"instance": "did:web:x"}}]}}
        )


class _Dripping:
    """A server that answers with one byte now and then, for ever: a reader with only a
    per-read timeout never finishes."""

    def __init__(self, body: bytes) -> None:
        import socket
        import threading

        self._stop = threading.Event()
        self._server = socket.socket()
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(4)
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}/.well-known/agent-card.json"
        self._body = body
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self._server.settimeout(0.1)
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
            except OSError:
                continue
            with connection:
                answer = self._body
                for i in range(len(answer)):
                    if self._stop.wait(0.2):
                        return
                    try:
                        connection.sendall(answer[i : i + 1])
                    except OSError:
                        break

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._server.close()


def test_fetch_card_has_one_deadline_for_the_whole_read():
    body = b'{"name": "' + b"x" * 10_000 + b'"}'
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(body)
    server = _Dripping(head + body)
    try:
        with pytest.raises(VouchError, match="within 1"):
            fetch_card(server.url, timeout=1)
    finally:
        server.close()


def test_fetch_card_refuses_a_card_larger_than_its_bound():
    import http.server
    import threading

    class Large(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            body = b'{"x": "' + b"y" * (2 * 1024 * 1024) + b'"}'
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except OSError:
                pass

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Large)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.raises(VouchError, match="larger than"):
            fetch_card(f"http://127.0.0.1:{server.server_address[1]}/.well-known/agent-card.json")
    finally:
        server.shutdown()
        server.server_close()


def test_a_card_with_bad_fields_is_a_wallet_error(testnet):
    from vouch_client import WalletError

    with Wallet(testnet["prover"]["socket"]) as wallet:
        with pytest.raises(WalletError) as bad:
            wallet.agent_card("x", url="file:///etc/passwd")
    assert bad.value.code == "malformed"


def test_the_daemon_serves_the_card_and_an_exchange_starts_from_it(testnet):
    card = fetch_card(testnet["prover"]["card"])
    assert card["name"] == "refund desk"
    assert vouch_identity(card).instance == testnet["prover"]["did"]
    with Wallet(testnet["verifier"]["socket"]) as verifier:
        assert exchange_from_card(verifier, card, [REFUND]).accepted
    with pytest.raises(VouchError):
        fetch_card(testnet["prover"]["card"].replace("agent-card.json", "nothing.json"))
