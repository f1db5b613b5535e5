"""How a call is read from an HTTP request's body, the same way by the agent that signs it and the
service that checks it: the action it is and the arguments its capability's constraints are
checked against."""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, Optional

#: A reading of a call: from a request's body, the action (``None``: no capability needed).
ActionOf = Callable[[bytes], Optional[str]]
#: A reading of a call: from a request's body, its arguments.
ArgumentsOf = Callable[[bytes], Dict[str, Any]]


def json_object(body: bytes) -> Dict[str, Any]:
    """The body's JSON object, or an empty one."""
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def mcp_action(prefix: str) -> ActionOf:
    """The action of an MCP request (JSON-RPC over streamable HTTP): ``tools/call`` of tool
    ``t`` is ``{prefix}:{t}`` (``call:billing_api`` and ``refund`` make
    ``call:billing_api:refund``); anything else (``initialize``, ``tools/list``, notifications)
    needs no capability."""

    def action(body: bytes) -> Optional[str]:
        call = json_object(body)
        if call.get("method") != "tools/call":
            return None
        name = (call.get("params") or {}).get("name")
        return f"{prefix}:{name}" if isinstance(name, str) else f"{prefix}:"

    return action


def mcp_arguments(body: bytes) -> Dict[str, Any]:
    """The arguments of an MCP ``tools/call``: its ``params.arguments``."""
    arguments = (json_object(body).get("params") or {}).get("arguments")
    return arguments if isinstance(arguments, dict) else {}


def signing_auth(
    wallet: Any,
    *,
    credential: str,
    action: ActionOf,
    arguments: ArgumentsOf = json_object,
    origin: Optional[str] = None,
    signature_agent: Optional[str] = None,
    cover: tuple = ("content-type",),
    auth_base: Any = None,
) -> Any:
    """An ``httpx`` authentication that has ``wallet``'s daemon sign each request that is an
    action (``action`` of its body; a request that is none is sent as it is) under
    ``credential``, with the call's ``arguments`` as the service reads them. The first request
    carries the credential and its chain (``Vouch-Presentation``); later ones name it only; a
    service that kept none (``401 not_holder``) gets the request again, presented. ``origin``:
    the service's public origin, when this client reaches it at another address (a local port, a
    tunnel): the URL signed is the one the service rebuilds. ``auth_base``: the ``Auth`` class
    of the HTTP library in use (``httpx.Auth`` by default; ``httpx2.Auth`` for MCP 2's client).
    The daemon's socket is asked synchronously: a millisecond or two per request."""
    if auth_base is None:
        import httpx

        auth_base = httpx.Auth

    class VouchAuth(auth_base):  # type: ignore[misc, valid-type]
        requires_request_body = True
        requires_response_body = True

        def __init__(self) -> None:
            self.presented = False

        def _sign(self, request: Any, wanted: str, present: bool) -> None:
            body = bytes(request.content or b"")
            url = str(request.url)
            if origin is not None:
                url = origin.rstrip("/") + request.url.raw_path.decode("ascii")
            for name in ("signature", "signature-input", "vouch-presentation"):
                if name in request.headers:
                    del request.headers[name]
            added = wallet.sign_request(
                request.method,
                url,
                credential=credential,
                action=wanted,
                arguments=arguments(body),
                headers={n: request.headers[n] for n in cover if n in request.headers},
                body=body or None,
                present=present,
                signature_agent=signature_agent,
            )
            request.headers.update(added)

        def auth_flow(self, request: Any) -> Any:
            wanted = action(bytes(request.content or b""))
            if wanted is None:
                yield request
                return
            present = not self.presented
            self._sign(request, wanted, present)
            response = yield request
            if response.status_code == 401 and not present:
                if json_object(response.content).get("code") == "not_holder":
                    self._sign(request, wanted, True)
                    present = True
                    response = yield request
            if present and response.status_code < 400:
                self.presented = True

    return VouchAuth()


def dpop_auth(
    wallet: Any, access_token: str, *, origin: Optional[str] = None, auth_base: Any = None
) -> Any:
    """An ``httpx`` authentication that sends ``access_token`` (a token bound to the instance
    key, from ``Wallet.access_token``) as ``Authorization: DPoP …`` with a fresh DPoP proof of
    each request made by ``wallet``'s daemon (RFC 9449: the method, the URL without its query,
    the token's hash). A server that asks for a nonce (``401`` with ``DPoP-Nonce``) gets the
    request again with it. ``origin`` and ``auth_base`` as for ``signing_auth``."""
    if auth_base is None:
        import httpx

        auth_base = httpx.Auth

    class DpopAuth(auth_base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            self.nonce: Optional[str] = None

        def _prove(self, request: Any) -> None:
            url = str(request.url)
            if origin is not None:
                url = origin.rstrip("/") + request.url.raw_path.decode("ascii")
            made = wallet.dpop_proof(request.method, url, access_token=access_token, nonce=self.nonce)
            request.headers["authorization"] = f"DPoP {access_token}"
            request.headers["dpop"] = made["proof"]

        def auth_flow(self, request: Any) -> Any:
            self._prove(request)
            response = yield request
            nonce = response.headers.get("dpop-nonce")
            if response.status_code == 401 and nonce and nonce != self.nonce:
                self.nonce = nonce
                self._prove(request)
                yield request

    return DpopAuth()
