#!/usr/bin/env bash
# The main job, in a temporary folder. First the `vouch` CLI end to end: an org creates its did:vouch
# and issues its agent a capability credential; the agent delegates a narrower one to a sub-agent;
# the sub-agent presents both to a partner's verifier over a challenge; a tampered copy, an escalated
# delegation and a replay are rejected with their reasons. Then a local consortium of real nodes comes
# up (NODES, default 10), and DID updates (UPDATES, default 100) are timed until every node resolves
# them.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
# One build of everything, with the same features as the test command, so that both reuse it.
cargo build --workspace --all-targets --locked --quiet
VOUCH="$CARGO_TARGET_DIR/debug/vouch"
TESTNET="$CARGO_TARGET_DIR/debug/vouch-testnet"
WORK=$(mktemp -d)
trap '"$TESTNET" --dir "$WORK/testnet" down >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
say() { printf '\n== %s\n' "$*"; }
expect_rejected() { # runs a verification that must fail with exit code 1
  local code=0
  "$@" || code=$?
  [ "$code" -eq 1 ] || { echo "demo: expected a rejection (exit 1), got exit $code" >&2; exit 1; }
}

say "1. Keys, and the org's did:vouch (its update keys pre-rotated: only the next key's hash is published)"
"$VOUCH" key generate --out "$WORK/org.key.json" > /dev/null
"$VOUCH" key generate --out "$WORK/org-update-1.key.json" > /dev/null
"$VOUCH" key generate --out "$WORK/org-update-2.key.json" > /dev/null
ORG=$("$VOUCH" did create --key "$WORK/org.key.json" --update-key "$WORK/org-update-1.key.json" \
  --next-update-key "$WORK/org-update-2.key.json" --log "$WORK/org.did.jsonl" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["did"])')
AGENT=$("$VOUCH" key generate --out "$WORK/agent.key.json")
SUB=$("$VOUCH" key generate --out "$WORK/sub.key.json")
printf 'org       %s\nagent     %s\nsub-agent %s\n' "$ORG" "$AGENT" "$SUB"
"$VOUCH" did resolve "$ORG" --log "$WORK/org.did.jsonl" | grep -E '"(versionId|created|publicKeyMultibase)"'

say "2. The org issues the agent a 15-minute capability credential (eddsa-rdfc-2022)"
cat > "$WORK/agent.json" <<'JSON'
{ "name": "support-bot", "version": "1.4.2", "owner": "alice@acme.example",
  "model": "model-x-2026-10", "systemPrompt": "You are Acme's support agent.",
  "tools": [{"name": "refund", "parameters": {"amount": "integer"}}], "configuration": {"temperature": 0} }
JSON
cat > "$WORK/capabilities.json" <<'JSON'
[ { "action": "call:billing_api:refund", "resource": "https://billing.acme.example/refunds/**",
    "constraints": { "maxAmount": {"value": 50000, "unit": "EUR"}, "requiresApproval": true } },
  { "action": "read:tickets", "resource": "https://support.acme.example/tickets/*",
    "constraints": { "scope": "team_tickets" } } ]
JSON
"$VOUCH" credential issue --key "$WORK/org.key.json" --issuer-log "$WORK/org.did.jsonl" --to "$AGENT" --capabilities "$WORK/capabilities.json" \
  --agent "$WORK/agent.json" --principal urn:vouch:principal:p-7f3a --task ticket-4711 \
  --purpose "refund a duplicate charge" > "$WORK/agent.vc.json"
grep -E '"(id|issuer|validUntil|cryptosuite)"' "$WORK/agent.vc.json" | head -5

say "3. The agent delegates a narrower right to the sub-agent, signed with its own key"
cat > "$WORK/narrower.json" <<'JSON'
[ { "action": "call:billing_api:refund", "resource": "https://billing.acme.example/refunds/**",
    "constraints": { "maxAmount": {"value": 10000, "unit": "EUR"}, "requiresApproval": true } } ]
JSON
"$VOUCH" credential delegate --key "$WORK/agent.key.json" --parent "$WORK/agent.vc.json" --to "$SUB" \
  --capabilities "$WORK/narrower.json" > "$WORK/sub.vc.json"
grep -E '"(issuer|depth|parent)"' "$WORK/sub.vc.json"

say "4. The sub-agent presents both over the partner's challenge; the partner verifies"
CHALLENGE=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
"$VOUCH" presentation create --key "$WORK/sub.key.json" --challenge "$CHALLENGE" --domain partner.example \
  "$WORK/agent.vc.json" "$WORK/sub.vc.json" > "$WORK/vp.json"
"$VOUCH" presentation verify --challenge "$CHALLENGE" --domain partner.example --trust "$ORG" --did-log "$WORK/org.did.jsonl" < "$WORK/vp.json"

say "4b. A verifier told nothing trusts nothing: without --trust the same presentation is rejected (untrusted_issuer)"
expect_rejected "$VOUCH" presentation verify --challenge "$CHALLENGE" --domain partner.example --did-log "$WORK/org.did.jsonl" < "$WORK/vp.json"

say "5. A tampered copy (maxAmount raised in the delegated credential) is rejected"
sed 's/"value": 10000/"value": 90000/' "$WORK/sub.vc.json" > "$WORK/tampered.vc.json"
"$VOUCH" presentation create --key "$WORK/sub.key.json" --challenge "$CHALLENGE" --domain partner.example \
  "$WORK/agent.vc.json" "$WORK/tampered.vc.json" > "$WORK/vp-tampered.json"
expect_rejected "$VOUCH" presentation verify --challenge "$CHALLENGE" --domain partner.example --trust "$ORG" --did-log "$WORK/org.did.jsonl" < "$WORK/vp-tampered.json"

say "6. An escalated delegation: the CLI refuses to make it"
cat > "$WORK/wider.json" <<'JSON'
[ { "action": "call:billing_api:refund", "resource": "https://billing.acme.example/refunds/**",
    "constraints": { "maxAmount": {"value": 90000, "unit": "EUR"} } } ]
JSON
if "$VOUCH" credential delegate --key "$WORK/agent.key.json" --parent "$WORK/agent.vc.json" --to "$SUB" \
     --capabilities "$WORK/wider.json" > /dev/null; then
  echo "demo: an escalated delegation was made" >&2; exit 1
fi

say "7. ...and when the agent forges one with its own key anyway, the verifier rejects it"
python3 - "$WORK/sub.vc.json" > "$WORK/forged.unsigned.json" <<'PY'
import json, sys
vc = json.load(open(sys.argv[1]))
del vc["proof"]
vc["credentialSubject"]["capabilities"][0]["constraints"] = {"maxAmount": {"value": 90000, "unit": "EUR"}}
print(json.dumps(vc))
PY
"$VOUCH" credential sign --key "$WORK/agent.key.json" < "$WORK/forged.unsigned.json" > "$WORK/forged.vc.json"
"$VOUCH" presentation create --key "$WORK/sub.key.json" --challenge "$CHALLENGE" --domain partner.example \
  "$WORK/agent.vc.json" "$WORK/forged.vc.json" > "$WORK/vp-forged.json"
expect_rejected "$VOUCH" presentation verify --challenge "$CHALLENGE" --domain partner.example --trust "$ORG" --did-log "$WORK/org.did.jsonl" < "$WORK/vp-forged.json"

say "8. A replayed presentation (another challenge) is rejected"
expect_rejected "$VOUCH" presentation verify --challenge not-the-challenge --domain partner.example --trust "$ORG" --did-log "$WORK/org.did.jsonl" < "$WORK/vp.json"

say "9. The org rotates its issuing key (signed by the committed update key): credentials signed with the old key stop verifying"
"$VOUCH" key generate --out "$WORK/org-2.key.json" > /dev/null
"$VOUCH" key generate --out "$WORK/org-update-3.key.json" > /dev/null
"$VOUCH" did update --key "$WORK/org-2.key.json" --update-key "$WORK/org-update-2.key.json" \
  --next-update-key "$WORK/org-update-3.key.json" --log "$WORK/org.did.jsonl"
expect_rejected "$VOUCH" presentation verify --challenge "$CHALLENGE" --domain partner.example --trust "$ORG" --did-log "$WORK/org.did.jsonl" < "$WORK/vp.json"

say "10. A local consortium of ${NODES:=10} real nodes: each org's DID replicated to every node over libp2p"
"$TESTNET" --dir "$WORK/testnet" up --nodes "$NODES"

say "11. ${UPDATES:=100} DID updates published on node 0, timed until resolvable at their new version on every node"
"$TESTNET" --dir "$WORK/testnet" measure --updates "$UPDATES"

say "12. Partitions: 3 nodes cut off (both sides refuse each other's peers), work on both sides, healed; timed until every node holds everything"
"$TESTNET" --dir "$WORK/testnet" partition --cut 3 --rounds "${ROUNDS:=5}" --updates 10
"$TESTNET" --dir "$WORK/testnet" down

echo
echo "demo: every step behaved as expected"
