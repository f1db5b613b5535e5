"""ASGI middleware for a service that accepts only requests its callers' Vouch agents signed
(RFC 9421, through their wallet daemons) under a capability that permits them: Starlette,
FastAPI, and the MCP SDK's streamable HTTP servers alike.

    from vouch_client.asgi import SignedRequests

    app = SignedRequests(app, node="https://node.example.org", origin="https://api.example.org",
                         action=lambda body: "call:billing_api:refund")

The service says which action each request is (``action``; ``None`` for a request that needs
no capability, which then carries no Vouch identity) and how it reads the call's arguments
(``arguments``: the body's JSON object by default; :mod:`vouch_client.calls` has MCP's). What
the capability's constraints are checked against is the service's reading of the call, never
the agent's word. A request that is an action is read whole (at most ``max_body`` bytes), then
checked by the node
(``POST /1.0/requests/verify``): the signature, its freshness, nonce and body digest, then the
agent's capability for this method and URL with the call's arguments. A request the node permits
goes on to the application with ``scope["state"]["vouch"]`` set to its signer, credential and
action — the action the service said, and no other; any other is answered ``401`` (the signature, or who holds the credential) or ``403``
(the capability does not permit it) with the node's reason, and never reaches the application.
Nothing is passed through unchecked: a node that cannot be reached fails the request (``503``).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple, Union

from .calls import ActionOf, ArgumentsOf, json_object
from .errors import NodeError
from .node import Node

#: The largest body read by default.
MAX_BODY = 1024 * 1024

#: The reasons that say the signature, or the signer's holding of the credential, failed: the
#: caller is not authenticated (401); any other refusal is of a capability (403).
UNAUTHENTICATED = frozenset(
    {
        "malformed",
        "invalid_proof",
        "unresolvable_did",
        "replayed",
        "expired",
        "not_yet_valid",
        "not_holder",
        "request_mismatch",
        "domain_mismatch",
    }
)

class SignedRequests:
    """Checks every HTTP request to ``app`` with the node at ``node`` before ``app`` sees it.
    ``origin`` is the service's public origin (``https://api.example.org``): the URL the agent
    signed is rebuilt from it and the request's path and query, never from its ``Host``."""

    def __init__(
        self,
        app: Callable[..., Awaitable[None]],
        *,
        node: Union[str, Node],
        origin: str,
        action: ActionOf,
        arguments: ArgumentsOf = json_object,
        max_body: int = MAX_BODY,
    ) -> None:
        self.app = app
        self.node = node if isinstance(node, Node) else Node(node)
        self.origin = origin.rstrip("/")
        if not self.origin.startswith(("https://", "http://")):
            raise ValueError(f"origin is http(s)://host[:port], not {origin!r}")
        self.action = action
        self.arguments = arguments
        self.max_body = max_body

    async def __call__(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = await self._body(receive)
        if body is None:
            await _refuse(send, 413, "malformed", f"a body of at most {self.max_body} bytes")
            return
        wanted = self.action(body)
        if wanted is None:
            # The service says this request needs no capability: it goes on with no identity.
            scope = dict(scope)
            scope["state"] = {**scope.get("state", {}), "vouch": None}
            await self.app(scope, _replay(body, receive), send)
            return
        path = scope.get("raw_path") or scope["path"].encode()
        url = self.origin + path.decode("latin-1")
        if scope.get("query_string"):
            url += "?" + scope["query_string"].decode("latin-1")
        headers: List[Tuple[str, str]] = [
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]
        ]
        try:
            arguments = self.arguments(body)
            permitted = await asyncio.to_thread(
                self.node.verify_request, scope["method"], url, headers, body, arguments
            )
        except NodeError as refused:
            code = refused.body.get("code") if isinstance(refused.body, dict) else None
            if refused.status == 0 or code is None:
                await _refuse(send, 503, "unavailable", "the node could not be asked")
                return
            status = 401 if code in UNAUTHENTICATED else 403
            await _refuse(send, status, code, str(refused))
            return
        if permitted["action"] != wanted:
            # The capability permits what the agent named, and this request is another action.
            await _refuse(
                send, 403, "not_granted", f"signed for {permitted['action']}, not {wanted}"
            )
            return
        scope = dict(scope)
        scope["state"] = {**scope.get("state", {}), "vouch": permitted}
        await self.app(scope, _replay(body, receive), send)

    async def _body(self, receive: Any) -> Optional[bytes]:
        chunks: List[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return b"".join(chunks)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _replay(body: bytes, receive: Any) -> Callable[[], Awaitable[Dict[str, Any]]]:
    """A ``receive`` that gives the body read, then what the server says next (the client's
    disconnection)."""
    sent = False

    async def replayed() -> Dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        message: Dict[str, Any] = await receive()
        return message

    return replayed


async def _refuse(send: Any, status: int, code: str, message: str) -> None:
    body = json.dumps({"code": code, "message": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Signature realm="vouch"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
