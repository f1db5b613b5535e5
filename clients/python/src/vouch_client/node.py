"""The node's HTTP API, for an agent or a partner without a node: DID resolution and the
verification service (VC API shapes)."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, List, Optional, Tuple

from .errors import NodeError
from .types import Exchange, Resolution, Verification

#: The largest answer this client reads.
MAX_ANSWER = 16 * 1024 * 1024


class Node:
    """A Vouch node's public HTTP API at ``base`` (``http://host:port``)."""

    def __init__(self, base: str, timeout: float = 30.0) -> None:
        parsed = urllib.parse.urlsplit(base)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"a node's base URL is http(s)://host:port, not {base!r}")
        self.base = base.rstrip("/")
        self._timeout = timeout

    def _call(
        self,
        method: str,
        path: str,
        body: Optional[Dict[str, Any]] = None,
        report: bool = False,
    ) -> Any:
        """``report``: a verification report that says not verified comes with 400 (the VC
        API's way): it is the answer, not an error."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("accept", "application/json, application/ld+json;q=0.9, */*;q=0.1")
        if data is not None:
            request.add_header("content-type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                return _json(response.read(MAX_ANSWER + 1), response.status)
        except urllib.error.HTTPError as e:
            raw = e.read(MAX_ANSWER + 1)
            try:
                parsed: Any = json.loads(raw)
            except ValueError:
                parsed = raw.decode(errors="replace")
            if report and e.code == 400 and isinstance(parsed, dict) and "verified" in parsed:
                return parsed
            title = parsed.get("detail") or parsed.get("title") if isinstance(parsed, dict) else None
            raise NodeError(e.code, str(title or e.reason), parsed) from None
        except (urllib.error.URLError, OSError) as e:
            raise NodeError(0, f"the node at {self.base} could not be reached: {e}") from e

    def resolve(self, did: str) -> Resolution:
        """Resolves a DID (did:vouch, did:key) at its latest version. A DID that does not
        resolve raises :class:`NodeError` with the resolution result as its body."""
        path = "/1.0/identifiers/" + urllib.parse.quote(did, safe=":")
        return Resolution.from_json(self._call("GET", path))

    def verify_presentation(
        self, presentation: Dict[str, Any], challenge: str, domain: str
    ) -> Verification:
        """Verifies a presentation with the node's documents, status lists and trust policy:
        proofs, challenge, domain, holder binding, chains, status. A failed verification is a
        result with the reasons, not an error."""
        return Verification.from_json(
            self._call(
                "POST",
                "/1.0/presentations/verify",
                {
                    "verifiablePresentation": presentation,
                    "options": {"challenge": challenge, "domain": domain},
                },
                report=True,
            )
        )

    def open_exchange(
        self, capabilities: List[Dict[str, Any]], query: Optional[Dict[str, Any]] = None
    ) -> Tuple[str, Dict[str, Any]]:
        """Opens a capability exchange with the node as verifier (for a service without a
        wallet of its own): its id, and the signed request for the prover's wallet to answer
        (:meth:`Wallet.answer`). Answered once, within a minute."""
        body: Dict[str, Any] = {"capabilities": capabilities}
        if query is not None:
            body["query"] = query
        opened = self._call("POST", "/1.0/exchanges", body)
        return str(opened["exchangeId"]), opened["request"]

    def complete_exchange(self, exchange_id: str, response: Dict[str, Any]) -> Exchange:
        """Gives the node the prover's response to an exchange it opened: its decision on
        each capability, signed and recorded in the node's audit log. A response given twice, or
        late, raises :class:`NodeError` (403 ``replayed``)."""
        path = "/1.0/exchanges/" + urllib.parse.quote(exchange_id, safe="")
        decided = self._call("POST", path, response)
        subject = (decided.get("decision") or {}).get("credentialSubject") or {}
        return Exchange.from_json(
            {
                "prover": subject.get("id", ""),
                "decisions": decided.get("decisions", []),
                "decision": decided.get("decision", {}),
                "acknowledged": True,
            }
        )

    def verify_request(
        self,
        method: str,
        url: str,
        headers: List[Tuple[str, str]],
        body: Optional[bytes] = None,
        arguments: Optional[Dict[str, Any]] = None,
    ) -> Dict[str, str]:
        """Asks the node whether a request an agent signed (RFC 9421) may be acted on: its
        signature, then its capability, with ``arguments`` as the service reads the call. The
        signer, credential and action (``{"signer", "credential", "action"}``), or
        :class:`NodeError` with the refusal's ``code`` in its body (``not_holder``: send the
        presentation; ``constraint_violated``, ``revoked``, ``invalid_proof``…)."""
        fields: Dict[str, Any] = {
            "method": method,
            "url": url,
            "headers": [{"name": n, "value": v} for n, v in headers],
        }
        if body:
            fields["body"] = base64.b64encode(body).decode()
        if arguments:
            fields["arguments"] = arguments
        permitted = self._call("POST", "/1.0/requests/verify", fields)
        return {k: str(permitted[k]) for k in ("signer", "credential", "action")}

    def verify_credential(self, credential: Dict[str, Any]) -> Verification:
        """Verifies one credential with the node's documents, status lists and trust policy."""
        return Verification.from_json(
            self._call(
                "POST",
                "/1.0/credentials/verify",
                {"verifiableCredential": credential},
                report=True,
            )
        )


def _json(raw: bytes, status: int) -> Any:
    if len(raw) > MAX_ANSWER:
        raise NodeError(status, f"the node answered more than {MAX_ANSWER} bytes")
    try:
        return json.loads(raw)
    except ValueError as e:
        raise NodeError(status, f"the node answered something not JSON: {e}") from e
