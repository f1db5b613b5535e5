"""An MCP server that knows nothing of Vouch: an OAuth 2.1 resource server, as the MCP
authorization specification makes every MCP server, that accepts the DPoP-bound access tokens a
Vouch node issues by token exchange (docs/OAUTH.md), and runs its `refund` tool only when the
token's `authorization_details` cover the call.

Everything here is others' code and the server's own rules, nothing of vouch_client:

- the MCP Python SDK's authorization support: `AuthSettings`, a `TokenVerifier`, the
  `RequireAuthMiddleware` it puts before the endpoint, and its RFC 9728 protected resource
  metadata, pointing at the node (with the DPoP and `authorization_details` fields);
- PyJWT checks the access token (RFC 9068: `typ` `at+jwt`, `EdDSA`, the org's key from the
  node's JWK Set, issuer, audience, expiry);
- joserfc checks the DPoP proof (RFC 9449: its signature under the key in its header, that key's
  RFC 7638 thumbprint against the token's `cnf.jkt`); the gate checks its claims (method, URI,
  time, the token's hash, each `jti` once);
- the node's introspection (RFC 7662) says whether what the token rests on was revoked since.

The SDK takes `Bearer` tokens only: the gate, outermost, checks the DPoP binding and hands the
SDK the token as a bearer. A call its token does not cover is `403 insufficient_scope`.

    VOUCH_NODE=http://127.0.0.1:8080 python mcp_refund_oauth.py 127.0.0.1:8766

The server's public origin is `https://testnet.example` (the testnet's refund capabilities are
for `https://testnet.example/refunds/**`) and its MCP endpoint `/refunds/mcp`, the resource its
tokens are for: here it listens on a local port, as behind the TLS proxy that serves that name.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

import httpx
import jwt
import uvicorn
from joserfc import jws
from joserfc.jwk import OKPKey
from mcp.server import MCPServer
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver.exceptions import ToolError
from typing_extensions import TypedDict

ORIGIN = "https://testnet.example"
PATH = "/refunds/mcp"
RESOURCE = ORIGIN + PATH
ACTION = "call:testnet:refund"
CAPABILITY = "https://w3id.org/vouch/oauth/capability"
APPROVED = "https://w3id.org/vouch/oauth/approved-request"
#: How far a proof's `iat` may be from this server's clock, and how long a `jti` is kept.
PROOF_WINDOW = 60
#: The most `jti`s kept at once; beyond, proofs are refused until some expire.
MAX_SEEN = 65536
#: The largest request body read.
MAX_BODY = 1024 * 1024


# --- whether a token's authorization_details cover a call -------------------------------------


def action_covers(pattern: str, action: str) -> bool:
    """Vouch's action rule: segment by segment, a final `*` covering one or more segments."""
    want, have = pattern.split(":"), action.split(":")
    if want[-1] == "*":
        return len(have) > len(want) - 1 and have[: len(want) - 1] == want[:-1]
    return want == have


def location_covers(pattern: str, resource: str) -> bool:
    """Vouch's resource rule: same origin, path segment by segment, `*` one segment, a final
    `**` one or more."""
    def split(uri: str) -> Tuple[str, List[str]]:
        scheme, _, rest = uri.partition("://")
        authority, _, path = rest.partition("/")
        return f"{scheme.lower()}://{authority.lower()}", [s for s in path.split("/") if s] if path else []

    (p_origin, p), (r_origin, r) = split(pattern), split(resource)
    if p_origin != r_origin:
        return False
    for i, segment in enumerate(p):
        if segment == "**":
            return len(r) > i
        if i >= len(r) or (segment != "*" and segment != r[i]):
            return False
    return len(r) == len(p)


def constraints_hold(constraints: Dict[str, Any], arguments: Dict[str, Any]) -> bool:
    """The constraints this server knows how to hold a call to; any other fails closed."""
    for name, value in constraints.items():
        if name == "maxAmount":
            amount = arguments.get("amount") or {}
            if amount.get("unit") != value.get("unit") or not isinstance(amount.get("value"), (int, float)):
                return False
            if amount["value"] > value.get("value", -1):
                return False
        else:
            return False
    return True


def covered(details: List[Dict[str, Any]], action: str, resource: str, arguments: Dict[str, Any]) -> bool:
    for detail in details:
        actions, locations = detail.get("actions") or [], detail.get("locations") or []
        if detail.get("type") == CAPABILITY:
            if any(action_covers(a, action) for a in actions) and any(
                location_covers(l, resource) for l in locations
            ) and constraints_hold(detail.get("constraints") or {}, arguments):
                return True
        elif detail.get("type") == APPROVED:
            if actions == [action] and locations == [resource] and detail.get("arguments") == arguments:
                return True
    return False


# --- the DPoP gate --------------------------------------------------------------------------


def b64url_sha256(text: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()


class Refused(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


class DpopGate:
    """ASGI middleware before the MCP app: every request to the endpoint carries
    `Authorization: DPoP <token>` and one `DPoP` proof, both checked, the token active at the
    node, and a tool call covered by the token; the SDK then sees the token as a bearer."""

    def __init__(self, app: Any, *, node: str) -> None:
        self.app = app
        self.node = node.rstrip("/")
        metadata = httpx.get(f"{self.node}/.well-known/oauth-authorization-server", timeout=10).json()
        self.issuer = metadata["issuer"]
        self.introspection = metadata["introspection_endpoint"].replace(self.issuer, self.node, 1)
        self.keys = jwt.PyJWKClient(metadata["jwks_uri"].replace(self.issuer, self.node, 1))
        self.seen: Dict[str, float] = {}

    def token(self, token: str) -> Dict[str, Any]:
        """The access token's claims, checked by PyJWT."""
        try:
            if jwt.get_unverified_header(token).get("typ") != "at+jwt":
                raise jwt.InvalidTokenError("not an access token (typ at+jwt)")
            key = self.keys.get_signing_key_from_jwt(token)
            return jwt.decode(
                token,
                key,
                algorithms=["EdDSA"],
                audience=RESOURCE,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "jti", "client_id", "cnf"]},
            )
        except jwt.PyJWTError as e:
            raise Refused(401, "invalid_token", str(e))

    def proof(self, proof: str, method: str, token: str, jkt: str) -> None:
        """The DPoP proof, its signature and thumbprint checked by joserfc."""
        try:
            header = jws.extract_compact(proof.encode()).protected
            if header.get("typ") != "dpop+jwt" or header.get("alg") != "EdDSA":
                raise ValueError("typ dpop+jwt, alg EdDSA")
            if "d" in (header.get("jwk") or {}):
                raise ValueError("a private key in the header")
            key = OKPKey.import_key(header["jwk"])
            claims = json.loads(jws.deserialize_compact(proof, key, algorithms=["EdDSA"]).payload)
            thumbprint = key.thumbprint()
        except Exception as e:  # joserfc's errors, and a header that is no key
            raise Refused(401, "invalid_dpop_proof", f"the proof: {e}")
        now = time.time()
        for name, want in (("htm", method), ("htu", RESOURCE), ("ath", b64url_sha256(token))):
            if claims.get(name) != want:
                raise Refused(401, "invalid_dpop_proof", f"{name} is not this request's")
        if not isinstance(claims.get("iat"), int) or abs(claims["iat"] - now) > PROOF_WINDOW:
            raise Refused(401, "invalid_dpop_proof", "iat is not now")
        if thumbprint != jkt:
            raise Refused(401, "invalid_dpop_proof", "the proof is not made with the token's key")
        self.seen = {j: t for j, t in self.seen.items() if t > now}
        jti = claims.get("jti")
        if not isinstance(jti, str) or jti in self.seen or len(self.seen) >= MAX_SEEN:
            raise Refused(401, "invalid_dpop_proof", "the proof was used before")
        self.seen[jti] = now + 2 * PROOF_WINDOW

    async def active(self, token: str) -> bool:
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.post(self.introspection, data={"token": token})
        return answer.status_code == 200 and answer.json().get("active") is True

    async def __call__(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != PATH:
            return await self.app(scope, receive, send)
        headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_BODY:
                return await answer(send, 413, "invalid_request", "the body is too large")
        try:
            authorization = [v for k, v in headers if k == "authorization"]
            proofs = [v for k, v in headers if k == "dpop"]
            if len(authorization) != 1 or not authorization[0].startswith("DPoP "):
                raise Refused(401, "invalid_token", "a DPoP-bound access token is required")
            if len(proofs) != 1:
                raise Refused(401, "invalid_dpop_proof", "one DPoP proof is required")
            token = authorization[0][len("DPoP "):]
            claims = self.token(token)
            self.proof(proofs[0], scope["method"], token, (claims.get("cnf") or {}).get("jkt", ""))
            if not await self.active(token):
                raise Refused(401, "invalid_token", "the token is not active at its issuer")
            call = json.loads(body) if body else {}
            if isinstance(call, dict) and call.get("method") == "tools/call":
                params = call.get("params") or {}
                action = f"call:testnet:{params.get('name')}"
                arguments = params.get("arguments") or {}
                if not covered(claims.get("authorization_details") or [], action, RESOURCE, arguments):
                    raise Refused(403, "insufficient_scope", f"the token does not cover {action} with these arguments")
        except Refused as refused:
            return await answer(send, refused.status, refused.error, refused.description)
        except ValueError:
            return await answer(send, 400, "invalid_request", "the body is not JSON")
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in (b"authorization", b"dpop")]
        headers.append((b"authorization", f"Bearer {token}".encode()))
        sent = False

        async def replay() -> Dict[str, Any]:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app({**scope, "headers": headers}, replay, send)


async def answer(send: Any, status: int, error: str, description: str) -> None:
    challenge = f'DPoP algs="EdDSA", error="{error}", resource_metadata="{ORIGIN}/.well-known/oauth-protected-resource{PATH}"'
    body = json.dumps({"error": error, "error_description": description}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"www-authenticate", challenge.encode()),
        (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": body})


# --- the MCP server -------------------------------------------------------------------------


class Verifier:
    """The SDK's token verifier: the gate checked the token and its binding; this reads it
    again (PyJWT) for the SDK's `AccessToken`."""

    def __init__(self, gate: Optional[DpopGate] = None) -> None:
        self.gate = gate

    async def verify_token(self, token: str) -> Optional[AccessToken]:
        if self.gate is None:
            return None
        try:
            claims = self.gate.token(token)
        except Refused:
            return None
        return AccessToken(token=token, client_id=claims["client_id"], scopes=[],
                           expires_at=claims["exp"], resource=claims["aud"], subject=claims["sub"],
                           claims=claims)


class Amount(TypedDict):
    value: int
    unit: str


def build(node: str) -> Any:
    """The MCP server's HTTP application, behind the DPoP gate."""
    verifier = Verifier()
    server = MCPServer(
        "refunds",
        token_verifier=verifier,
        auth=AuthSettings(issuer_url=node, resource_server_url=RESOURCE, required_scopes=[],
                          validate_token_resource=True),
    )

    @server.tool()
    def refund(order: str, amount: Amount) -> str:
        """Issues a refund of `amount` on `order`, for the agent a Vouch node's token names."""
        token = get_access_token()
        if token is None:  # never reached past the gate and the SDK's middleware
            raise ToolError("refused: no access token")
        claims = token.claims or {}
        return f"refund of {amount['value']} {amount['unit']} on order {order} issued for {claims.get('client_id')}"

    app = server.streamable_http_app(streamable_http_path=PATH)
    replace_resource_metadata(app, node)
    gate = DpopGate(app, node=node)
    verifier.gate = gate
    return gate


def replace_resource_metadata(app: Any, node: str) -> None:
    """The SDK's RFC 9728 metadata, with what it does not say: DPoP-bound tokens only, EdDSA
    proofs."""
    from mcp.server.auth.handlers.metadata import ProtectedResourceMetadataHandler
    from mcp.server.auth.routes import cors_middleware
    from mcp.shared.auth import ProtectedResourceMetadata
    from starlette.routing import Route

    metadata = ProtectedResourceMetadata(
        resource=RESOURCE,
        authorization_servers=[node],
        bearer_methods_supported=["header"],
        dpop_signing_alg_values_supported=["EdDSA"],
        dpop_bound_access_tokens_required=True,
    )
    handler = ProtectedResourceMetadataHandler(metadata)
    routes = app.router.routes
    for i, route in enumerate(routes):
        path = getattr(route, "path", "")
        if path.startswith("/.well-known/oauth-protected-resource"):
            routes[i] = Route(path, endpoint=cors_middleware(handler.handle, ["GET", "OPTIONS"]),
                              methods=["GET", "OPTIONS"])


if __name__ == "__main__":
    host, port = (sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:8766").rsplit(":", 1)
    node = os.environ.get("VOUCH_NODE", "http://127.0.0.1:8080")
    uvicorn.run(build(node), host=host, port=int(port), log_level="warning")
