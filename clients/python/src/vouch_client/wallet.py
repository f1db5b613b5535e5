"""The wallet daemon's client: structured operations on its Unix socket, never a key.

The daemon (``vouch wallet serve``) holds the agent instance's key and credentials; it answers
JSON Lines on a socket only its own user can open. This client sends one request per line and
reads one answer per line: ``{"ok": …}`` or ``{"error": {"code", "message", "reason"}}``.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
from typing import Any, Dict, List, Optional, Sequence

from .errors import VouchError, WalletError
from .types import Exchange, Identity

#: The daemon's longest request line.
MAX_REQUEST = 1024 * 1024
#: The longest answer this client reads.
MAX_ANSWER = 16 * 1024 * 1024


class Wallet:
    """A connection to a wallet daemon's socket. Safe to share between threads (one request at
    a time); a context manager that closes the connection."""

    def __init__(self, socket_path: "str | os.PathLike[str]", timeout: float = 30.0) -> None:
        self._path = os.fspath(socket_path)
        self._timeout = timeout
        self._lock = threading.Lock()
        self._socket: Optional[socket.socket] = None
        self._reader: Any = None

    # -- the connection ------------------------------------------------------------------------

    def _connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self._timeout)
        try:
            sock.connect(self._path)
        except OSError as e:
            sock.close()
            raise VouchError(f"no wallet daemon at {self._path}: {e}") from e
        self._socket = sock
        self._reader = sock.makefile("rb")

    def close(self) -> None:
        """Closes the connection (a later call opens another)."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        if self._socket is not None:
            self._socket.close()
        self._socket, self._reader = None, None

    def __enter__(self) -> "Wallet":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def request(self, op: str, **fields: Any) -> Any:
        """Sends one request (``{"op": op, …fields}``); its ``ok`` value, or raises
        :class:`WalletError` with the daemon's code, message and reason."""
        line = json.dumps({"op": op, **fields}, separators=(",", ":")).encode() + b"\n"
        if len(line) > MAX_REQUEST:
            raise WalletError("too_large", f"a request is at most {MAX_REQUEST} bytes")
        with self._lock:
            # A connection kept open may have been closed by the daemon while it waited (idle,
            # or to make room for another): a request on it gets nothing back, and was never
            # read, so it is sent once more on a new connection.
            for fresh in ((False, True) if self._socket is not None else (True,)):
                if fresh:
                    self._close()
                    self._connect()
                assert self._socket is not None
                try:
                    self._socket.sendall(line)
                    answer = self._reader.readline(MAX_ANSWER + 1)
                except (BrokenPipeError, ConnectionResetError) as e:
                    if not fresh:
                        continue
                    self._close()
                    raise VouchError(f"the wallet daemon at {self._path} failed: {e}") from e
                except OSError as e:
                    self._close()
                    raise VouchError(f"the wallet daemon at {self._path} failed: {e}") from e
                if answer == b"" and not fresh:
                    continue
                break
            if not answer.endswith(b"\n"):
                self._close()
                raise VouchError("the wallet daemon closed the connection or answered too much")
        try:
            parsed = json.loads(answer)
        except ValueError as e:
            raise VouchError(f"the wallet daemon answered something not JSON: {e}") from e
        if not isinstance(parsed, dict):
            raise VouchError("the wallet daemon answered something not an object")
        if "error" in parsed:
            error = parsed["error"] or {}
            raise WalletError(
                str(error.get("code", "internal")),
                str(error.get("message", "")),
                error.get("reason"),
            )
        if "ok" not in parsed:
            raise VouchError("the wallet daemon's answer has neither ok nor error")
        return parsed["ok"]

    # -- the operations ------------------------------------------------------------------------

    def identity(self) -> Identity:
        """The instance's did:key and where its daemon takes exchanges."""
        return Identity.from_json(self.request("identity"))

    def agent_card(
        self,
        name: str,
        description: Optional[str] = None,
        url: Optional[str] = None,
        version: Optional[str] = None,
    ) -> Dict[str, Any]:
        """The instance's A2A agent card, with the Vouch identity extension (docs/A2A.md), for
        the agent to serve at ``/.well-known/agent-card.json``."""
        fields: Dict[str, Any] = {"name": name}
        for key, value in (("description", description), ("url", url), ("version", version)):
            if value is not None:
                fields[key] = value
        return dict(self.request("agent_card", **fields))

    def credentials(self, task: Optional[str] = None) -> List[Dict[str, Any]]:
        """The credentials held (all, or a task's), as signed."""
        fields = {} if task is None else {"task": task}
        return list(self.request("credentials", **fields))

    def add_credential(self, credential: Dict[str, Any], chain: Sequence[Dict[str, Any]] = ()) -> Any:
        """Keeps a credential issued to this instance, with its ancestors when it is a
        delegation. The daemon checks it is this instance's."""
        return self.request("add_credential", credential=credential, chain=list(chain))

    def exchange(
        self,
        peer: str,
        capabilities: Sequence[Dict[str, Any]],
        *,
        query: Optional[Dict[str, Any]] = None,
        domain: Optional[str] = None,
        present: Optional[Sequence[str]] = None,
    ) -> Exchange:
        """Asks the agent at ``peer`` (a libp2p address ending in ``/p2p/<peer id>``) to prove
        ``capabilities`` (``{"action", "resource", "arguments"}`` each), decides each, and sends
        it the signed decision. A rejection is a result (:attr:`Exchange.decisions` says why);
        an exchange that could not take place raises :class:`WalletError`."""
        fields: Dict[str, Any] = {"peer": peer, "capabilities": list(capabilities)}
        if query is not None:
            fields["query"] = query
        if domain is not None:
            fields["domain"] = domain
        if present is not None:
            fields["present"] = list(present)
        return Exchange.from_json(self.request("exchange", **fields))

    def answer(self, request: Dict[str, Any]) -> Dict[str, Any]:
        """Answers a capability request that came another way (HTTP, an A2A message) with a
        presentation of what its query selects, if the verifier authenticates."""
        return self.request("answer", request=request)

    def accept(self, decision: Dict[str, Any]) -> List[Dict[str, Any]]:
        """Takes the verifier's signed decision on a request answered with :meth:`answer`; the
        decisions, checked."""
        return list(self.request("accept", decision=decision)["decisions"])

    def delegate(
        self,
        parent: str,
        to: str,
        capabilities: Sequence[Dict[str, Any]],
        valid_until: Optional[str] = None,
    ) -> Dict[str, Any]:
        """Delegates capabilities within the credential ``parent`` (its id) to the sub-agent
        ``to`` (its did:key); the signed credential, the sub-agent's to keep."""
        fields: Dict[str, Any] = {"parent": parent, "to": to, "capabilities": list(capabilities)}
        if valid_until is not None:
            fields["valid_until"] = valid_until
        return self.request("delegate", **fields)

    def renew(self, credential_id: str) -> Dict[str, Any]:
        """Renews a credential held through the org's node."""
        return self.request("renew", id=credential_id)

    def binding_proof(self, definition: str) -> Dict[str, Any]:
        """The instance's proof of possession, for its operator to bind it to ``definition``."""
        return self.request("binding_proof", definition=definition)

    def request_approval(self, request: Dict[str, Any]) -> Dict[str, Any]:
        """Asks the agent's owner, through the org's node, to approve ``request`` (``{action,
        resource, arguments}``) after a decision answered ``needs_approval``: the pending
        request, whose ``id`` the owner approves (``vouch agent approve``)."""
        return self.request("request_approval", request=request)

    def approval_status(self, approval_id: str) -> Dict[str, Any]:
        """Where an approval request stands (``standing``); once ``approved``, the daemon holds
        the approval and presents it, once, with the request it approves."""
        return self.request("approval_status", id=approval_id)

    def sign_request(
        self,
        method: str,
        url: str,
        *,
        credential: str,
        action: str,
        arguments: Optional[Dict[str, Any]] = None,
        headers: Optional[Dict[str, str]] = None,
        body: Optional[bytes] = None,
        present: bool = False,
        signature_agent: Optional[str] = None,
    ) -> Dict[str, str]:
        """Has the daemon sign an HTTP request (RFC 9421) under a capability of ``credential``:
        the header fields to add to the request (``Content-Digest`` with a body,
        ``Vouch-Capability``, ``Signature-Input``, ``Signature``). ``headers`` are fields of the
        request the signature covers too (``content-type``). The daemon refuses a request the
        credential does not permit (``not_granted``, ``constraint_violated``…) and signs
        nothing it did not build itself; the key never leaves it. ``present``: carry the
        credential and its chain (``Vouch-Presentation``), as a session's first request must;
        later requests name the credential only, and a verifier that kept no chain for it
        refuses them ``not_holder``. ``signature_agent``: the URL of the instance's key
        directory (``https://…/.well-known/http-message-signatures-directory``), to sign in the
        Web Bot Auth profile as well (``Signature-Agent``, ``tag="web-bot-auth"``)."""
        fields: Dict[str, Any] = {
            "method": method.upper(),
            "url": url,
            "credential": credential,
            "action": action,
        }
        if arguments:
            fields["arguments"] = arguments
        if headers:
            fields["headers"] = [{"name": n, "value": v} for n, v in headers.items()]
        if body:
            fields["body"] = base64.b64encode(body).decode()
        if present:
            fields["present"] = True
        if signature_agent:
            fields["signature_agent"] = signature_agent
        signed = self.request("sign_request", **fields)
        return {h["name"]: h["value"] for h in signed["headers"]}

    def dpop_proof(
        self,
        method: str,
        url: str,
        *,
        access_token: Optional[str] = None,
        nonce: Optional[str] = None,
    ) -> Dict[str, str]:
        """Has the daemon make a DPoP proof (RFC 9449) of a request about to be sent:
        ``{"proof": <the DPoP header's value>, "jkt": <the instance key's RFC 7638
        thumbprint>}``. With ``access_token``, the proof binds it (``ath``); ``nonce`` is the
        server's ``DPoP-Nonce``. The daemon builds the proof itself; the key never leaves it."""
        fields: Dict[str, Any] = {"method": method.upper(), "url": url}
        if access_token is not None:
            fields["access_token"] = access_token
        if nonce is not None:
            fields["nonce"] = nonce
        made = self.request("dpop_proof", **fields)
        return {"proof": str(made["proof"]), "jkt": str(made["jkt"])}

    def access_token(
        self,
        resource: str,
        *,
        credential: Optional[str] = None,
        approved: Optional[Sequence[Dict[str, Any]]] = None,
    ) -> Dict[str, Any]:
        """Has the daemon get an OAuth access token for ``resource`` (RFC 8707: the API's URI)
        from its org's node by token exchange (RFC 8693): ``{"access_token", "token_type":
        "DPoP", "expires_in", "issued_token_type", "authorization_details"}``. The daemon
        presents the one credential held that reaches the resource (or ``credential``), with
        its chain, and ``approved`` requests (``{action, resource, arguments}``) with the
        approvals it holds of them; the token is bound to the instance key (send it with
        ``dpop_proof`` of each request, or ``vouch_client.calls.dpop_auth``)."""
        fields: Dict[str, Any] = {"resource": resource}
        if credential is not None:
            fields["credential"] = credential
        if approved:
            fields["approved"] = list(approved)
        return dict(self.request("access_token", **fields))

    def sign_httpx(
        self,
        request: Any,
        *,
        credential: str,
        action: str,
        arguments: Optional[Dict[str, Any]] = None,
        cover: Sequence[str] = ("content-type",),
        present: bool = False,
        signature_agent: Optional[str] = None,
    ) -> Any:
        """Signs an ``httpx.Request`` in place (its method, URL, body, and the fields of
        ``cover`` it has) and returns it, ready to send."""
        covered = {name: request.headers[name] for name in cover if name in request.headers}
        added = self.sign_request(
            request.method,
            str(request.url),
            credential=credential,
            action=action,
            arguments=arguments,
            headers=covered,
            body=request.content or None,
            present=present,
            signature_agent=signature_agent,
        )
        request.headers.update(added)
        return request
