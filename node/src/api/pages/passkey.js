"use strict";
// The owner's side of the node's passkey ceremonies (docs/PROTOCOL.md, "Approvals"). The page
// asks the node for a challenge opened for one thing — this enrolment link, or this decision on
// this request — has the browser's authenticator answer it, and posts the answer back. Nothing
// is decided here: the node decides, on the authenticator's signature.

function say(text, kind) {
  const outcome = document.getElementById("outcome");
  outcome.textContent = text;
  outcome.dataset.kind = kind;
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    credentials: "omit",
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(`${answer.code || response.status}: ${answer.message || response.statusText}`);
  }
  return answer;
}

async function enrol() {
  const token = location.hash.slice(1);
  if (!token) {
    throw new Error("this link has no token: ask the node's operator for a new one");
  }
  const started = await post("/1.0/passkeys/enrolments", { token });
  const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(started.options.publicKey);
  const credential = await navigator.credentials.create({ publicKey });
  const done = await post(
    `/1.0/passkeys/enrolments/${encodeURIComponent(started.ceremony)}`,
    credential.toJSON(),
  );
  // The link is used: its token leaves the address bar and the history.
  history.replaceState(null, "", location.pathname);
  document.getElementById("enrol").disabled = true;
  say(`Passkey registered for ${done.owner} (${done.passkeys} in all).`, "enrolled");
}

async function decide(decision) {
  const approval = document.body.dataset.approval;
  const path = `/1.0/approvals/${encodeURIComponent(approval)}/passkey`;
  const started = await post(path, { decision });
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(started.options.publicKey);
  const credential = await navigator.credentials.get({ publicKey });
  const decided = await post(`${path}/${encodeURIComponent(started.ceremony)}`, credential.toJSON());
  for (const button of document.querySelectorAll("button[data-decision]")) {
    button.disabled = true;
  }
  document.body.dataset.standing = "decided";
  document.getElementById("standing").textContent =
    decided.standing === "approved"
      ? "Approved. The agent holds an approval of this request, usable once."
      : "Refused.";
  say(decided.standing === "approved" ? "You approved this request." : "You refused this request.",
    decided.standing);
}

function act(work) {
  return () => {
    say("Waiting for your passkey…", "busy");
    work().catch((error) => say(error.message, "error"));
  };
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("enrol")?.addEventListener("click", act(enrol));
  for (const button of document.querySelectorAll("button[data-decision]")) {
    button.addEventListener("click", act(() => decide(button.dataset.decision)));
  }
});
