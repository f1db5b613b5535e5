#!/usr/bin/env bash
# The main job, in a temporary folder. First the `vouch` CLI end to end: an org creates its did:vouch
# and issues its agent a capability credential; the agent delegates a narrower one to a sub-agent;
# the sub-agent presents both to a partner's verifier over a challenge; a tampered copy, an escalated
# delegation and a replay are rejected with their reasons. Then a local consortium of real nodes comes
# up (NODES, default 10); node 0 registers an agent, issues it task credentials, renews one,
# registers a delegation, and each revocation level (and a suspension) refuses exactly what it should
# on the last node; then DID updates and each revocation level (UPDATES, default 100) are timed until
# every node sees them; finally every node's audit log is witnessed by the others and verified.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
# One build of everything, with the same features as the test command, so that both reuse it.
cargo build --workspace --all-targets --locked --quiet
VOUCH="$CARGO_TARGET_DIR/debug/vouch"
TESTNET="$CARGO_TARGET_DIR/debug/vouch-testnet"
BROWSER="$CARGO_TARGET_DIR/debug/vouch-browser"
source scripts/chromium.sh
WORK=$(mktemp -d)
# The wallet daemons stopped (and waited for: they hold their wallets' databases).
stop_daemons() {
  [ -f "$WORK/daemons.pid" ] || return 0
  while read -r pid; do kill "$pid" 2>/dev/null || true; done < "$WORK/daemons.pid"
  while read -r pid; do while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done; done < "$WORK/daemons.pid"
  rm -f "$WORK/daemons.pid"
}
trap 'stop_daemons; "$TESTNET" --dir "$WORK/testnet" down >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
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

say "4. The sub-agent presents both over the partner's challenge; the partner verifies (offline, with no node: the credentials carry no status entries, which the verifier must be told to allow)"
CHALLENGE=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
"$VOUCH" presentation create --key "$WORK/sub.key.json" --challenge "$CHALLENGE" --domain partner.example \
  "$WORK/agent.vc.json" "$WORK/sub.vc.json" > "$WORK/vp.json"
"$VOUCH" presentation verify --allow-unregistered --challenge "$CHALLENGE" --domain partner.example --trust "$ORG" --did-log "$WORK/org.did.jsonl" < "$WORK/vp.json"

echo "   without --allow-unregistered the same presentation is rejected: no revocation could ever reach it (status_missing)"
expect_rejected "$VOUCH" presentation verify --challenge "$CHALLENGE" --domain partner.example --trust "$ORG" --did-log "$WORK/org.did.jsonl" < "$WORK/vp.json" > /dev/null

say "4b. A verifier told nothing trusts nothing: without --trust the same presentation is rejected (untrusted_issuer)"
expect_rejected "$VOUCH" presentation verify --allow-unregistered --challenge "$CHALLENGE" --domain partner.example --did-log "$WORK/org.did.jsonl" < "$WORK/vp.json"

say "5. A tampered copy (maxAmount raised in the delegated credential) is rejected"
sed 's/"value": 10000/"value": 90000/' "$WORK/sub.vc.json" > "$WORK/tampered.vc.json"
"$VOUCH" presentation create --key "$WORK/sub.key.json" --challenge "$CHALLENGE" --domain partner.example \
  "$WORK/agent.vc.json" "$WORK/tampered.vc.json" > "$WORK/vp-tampered.json"
expect_rejected "$VOUCH" presentation verify --allow-unregistered --challenge "$CHALLENGE" --domain partner.example --trust "$ORG" --did-log "$WORK/org.did.jsonl" < "$WORK/vp-tampered.json"

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
expect_rejected "$VOUCH" presentation verify --allow-unregistered --challenge "$CHALLENGE" --domain partner.example --trust "$ORG" --did-log "$WORK/org.did.jsonl" < "$WORK/vp-forged.json"

say "8. A replayed presentation (another challenge) is rejected"
expect_rejected "$VOUCH" presentation verify --allow-unregistered --challenge not-the-challenge --domain partner.example --trust "$ORG" --did-log "$WORK/org.did.jsonl" < "$WORK/vp.json"

say "9. The org rotates its issuing key (signed by the committed update key): credentials signed with the old key stop verifying"
"$VOUCH" key generate --out "$WORK/org-2.key.json" > /dev/null
"$VOUCH" key generate --out "$WORK/org-update-3.key.json" > /dev/null
"$VOUCH" did update --key "$WORK/org-2.key.json" --update-key "$WORK/org-update-2.key.json" \
  --next-update-key "$WORK/org-update-3.key.json" --log "$WORK/org.did.jsonl"
expect_rejected "$VOUCH" presentation verify --allow-unregistered --challenge "$CHALLENGE" --domain partner.example --trust "$ORG" --did-log "$WORK/org.did.jsonl" < "$WORK/vp.json"

say "10. A local consortium of ${NODES:=10} real nodes: each org's DID replicated to every node over libp2p"
"$TESTNET" --dir "$WORK/testnet" up --nodes "$NODES"

NODE="$CARGO_TARGET_DIR/debug/vouch-node"
node_field() { python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["nodes"][int(sys.argv[2])][sys.argv[3]])' "$WORK/testnet/testnet.json" "$@"; }
C0=$(node_field 0 config); N0=$(node_field 0 http); NL=$(node_field $((NODES - 1)) http)
admin() { "$NODE" --config "$C0" admin "$@"; }
json_field() { python3 -c 'import json,sys; v=json.load(sys.stdin)
for k in sys.argv[1:]: v=v[k]
print(v)' "$@"; }
# Waits (at most 10 s) until node $1's verification service answers the presentation in file $2
# with $3: `verified`, or the reason code it must refuse it for; prints the answer's gist.
expect_on() {
  python3 - "$@" <<'PY'
import json, sys, time, urllib.request
node, vp, want = sys.argv[1], json.load(open(sys.argv[2])), sys.argv[3]
body = json.dumps({"verifiablePresentation": vp, "options": {"challenge": "demo", "domain": "partner.example"}}).encode()
deadline, seen = time.time() + 10, None
while time.time() < deadline:
    request = urllib.request.Request(node + "/1.0/presentations/verify", body, {"content-type": "application/json"})
    try:
        answer = json.load(urllib.request.urlopen(request))
    except urllib.error.HTTPError as e:
        answer = json.load(e)
    reasons = sorted({e["reason"] for e in answer.get("errors", [])})
    seen = "verified" if answer.get("verified") else ",".join(reasons)
    if seen == want:
        print(f"   {node}: {seen}")
        sys.exit(0)
    time.sleep(0.05)
sys.exit(f"demo: {node} answered {seen}, expected {want}")
PY
}
present() { # present HOLDER_KEY OUT CREDENTIAL...
  local key=$1 out=$2; shift 2
  "$VOUCH" presentation create --key "$key" --challenge demo --domain partner.example --suite eddsa-jcs-2022 "$@" > "$out"
}

say "10b. The life of an agent, through node 0; every verdict by the last node's verification service ($NL)"
echo "You are Acme's support agent." > "$WORK/prompt.txt"
DEF=$(admin agent register --name support-bot --version 1.4.2 --owner alice@acme.example \
  --model model-x-2026-10 --prompt "$WORK/prompt.txt" | json_field did)
echo "   agent definition $DEF (its document: per-part hashes, never the prompt)"
for a in a1 a2 s1; do "$VOUCH" key generate --out "$WORK/$a.key.json" > /dev/null; done
A1=$("$VOUCH" key did --key "$WORK/a1.key.json"); A2=$("$VOUCH" key did --key "$WORK/a2.key.json"); S1=$("$VOUCH" key did --key "$WORK/s1.key.json")
for a in a1 a2; do
  "$VOUCH" agent binding-proof --key "$WORK/$a.key.json" --definition "$DEF" --node "$N0" > "$WORK/$a.proof.json"
  admin agent bind "$DEF" "$WORK/$a.proof.json" > /dev/null
done
echo "   instances bound on their proofs of possession: $A1, $A2"
CAP='{"action": "call:billing_api:refund", "resource": "https://billing.acme.example/refunds/**"}'
issue() { admin issue --instance "$1" --task "$2" --purpose "demo task $2" --principal alice@customer.example --capability "$CAP"; }
issue "$A1" ticket-1 > "$WORK/t1.vc.json"
issue "$A1" ticket-2 > "$WORK/t2.vc.json"
issue "$A1" ticket-3 > "$WORK/t3.vc.json"
issue "$A2" ticket-1 > "$WORK/a2t1.vc.json"
issue "$A2" ticket-4 > "$WORK/a2t4.vc.json"
grep -E '"(principal|statusListIndex)"' "$WORK/t1.vc.json" | head -3
"$VOUCH" credential renew --key "$WORK/a1.key.json" --credential "$WORK/t1.vc.json" --node "$N0" > "$WORK/t1r.vc.json"
echo "   renewed: count $(json_field credentialSubject renewal count < "$WORK/t1r.vc.json"), fresh status entries"
cat > "$WORK/eu.json" <<'JSON'
[ { "action": "call:billing_api:refund", "resource": "https://billing.acme.example/refunds/eu/**" } ]
JSON
"$VOUCH" credential delegate --key "$WORK/a1.key.json" --parent "$WORK/t1r.vc.json" --to "$S1" \
  --capabilities "$WORK/eu.json" --suite eddsa-jcs-2022 --node "$N0" > "$WORK/s1.vc.json"
echo "   delegated to $S1 through the node: its own status entries"
present "$WORK/a1.key.json" "$WORK/vp-t1.json" "$WORK/t1r.vc.json"
present "$WORK/s1.key.json" "$WORK/vp-s1.json" "$WORK/t1r.vc.json" "$WORK/s1.vc.json"
present "$WORK/a1.key.json" "$WORK/vp-t2.json" "$WORK/t2.vc.json"
present "$WORK/a1.key.json" "$WORK/vp-t3.json" "$WORK/t3.vc.json"
present "$WORK/a2.key.json" "$WORK/vp-a2t1.json" "$WORK/a2t1.vc.json"
present "$WORK/a2.key.json" "$WORK/vp-a2t4.json" "$WORK/a2t4.vc.json"
for vp in t1 s1 t2 t3 a2t1 a2t4; do expect_on "$NL" "$WORK/vp-$vp.json" verified; done

echo "   chain: the sub-agent's delegation and its subtree; its parent still verifies"
admin revoke --level chain "$(json_field id < "$WORK/s1.vc.json")" > /dev/null
expect_on "$NL" "$WORK/vp-s1.json" revoked; expect_on "$NL" "$WORK/vp-t1.json" verified
echo "   credential: ticket-2's credential; ticket-3's still verifies"
admin revoke --level credential "$(json_field id < "$WORK/t2.vc.json")" > /dev/null
expect_on "$NL" "$WORK/vp-t2.json" revoked; expect_on "$NL" "$WORK/vp-t3.json" verified
echo "   suspension of ticket-3, then lifted"
SUSPENSION=$(admin suspend --level task ticket-3 | json_field suspension)
expect_on "$NL" "$WORK/vp-t3.json" suspended
admin lift "$SUSPENSION" > /dev/null
expect_on "$NL" "$WORK/vp-t3.json" verified
echo "   task: ticket-1, every instance's credential for it; ticket-4 still verifies"
admin revoke --level task ticket-1 > /dev/null
expect_on "$NL" "$WORK/vp-t1.json" revoked; expect_on "$NL" "$WORK/vp-a2t1.json" revoked
expect_on "$NL" "$WORK/vp-a2t4.json" verified
echo "   agent: instance $A1, every credential it holds; the other instance of the definition still verifies"
admin revoke --level agent "$A1" > /dev/null
expect_on "$NL" "$WORK/vp-t3.json" revoked; expect_on "$NL" "$WORK/vp-a2t4.json" verified
if issue "$A1" ticket-5 > /dev/null 2>&1; then echo "demo: a revoked instance got a credential" >&2; exit 1; fi
echo "   a revoked instance gets nothing new; the signed revocation events, as the last node holds them:"
curl -s "$NL/1.0/revocations" | python3 -c 'import json,sys
for e in sorted(json.load(sys.stdin)["events"], key=lambda e: e["toe"]):
    (kind, ev), = e["events"].items()
    print("  ", e["toe"], kind.rsplit("/", 1)[1], ev["level"], ev["subject"], ev["credentials"], "credential(s)")'

say "11. ${UPDATES:=100} DID updates published on node 0, timed until resolvable at their new version on every node"
"$TESTNET" --dir "$WORK/testnet" measure --updates "$UPDATES"

say "12. Partitions: 3 nodes cut off (both sides refuse each other's peers), work on both sides, healed; timed until every node holds everything"
"$TESTNET" --dir "$WORK/testnet" partition --cut 3 --rounds "${ROUNDS:=5}" --updates 10

say "13. The audit logs, witnessed: each node signs a checkpoint, every other member checks it against the last it saw and cosigns; each log is then verified from its first entry"
"$TESTNET" --dir "$WORK/testnet" witness --rounds 3
for i in $(seq 0 $((NODES - 1))); do
  CONSORTIUM="$(dirname "$(node_field "$i" config)")/data/consortium.json"
  printf '   node-%s: ' "$i"
  "$VOUCH" audit verify --node "$(node_field "$i" http)" --consortium "$CONSORTIUM" --quorum $((NODES - 1)) | paste -sd ' '
done

say "14. The capability exchange across three orgs: org A's agent asks org B's agent to act, each proving itself to the other over libp2p (Noise identity = its did:key); org C's node verifies over HTTP"
C1=$(node_field 1 config); N1=$(node_field 1 http); C2=$(node_field 2 config); N2=$(node_field 2 http)
X="$WORK/exchange"; mkdir -p "$X"
# agent_of CONFIG URL NAME: a new agent definition of that node's org and an instance bound to it
# on its proof of possession; prints the instance's did:key.
agent_of() {
  local config=$1 url=$2 name=$3 def
  echo "You are $name." > "$X/$name.prompt"
  def=$("$NODE" --config "$config" admin agent register --name "$name" --version 1 --owner ops@org.example \
    --model model-x-2026-10 --prompt "$X/$name.prompt" | json_field did)
  "$VOUCH" key generate --out "$X/$name.key.json"
  "$VOUCH" agent binding-proof --key "$X/$name.key.json" --definition "$def" --node "$url" > "$X/$name.proof.json"
  "$NODE" --config "$config" admin agent bind "$def" "$X/$name.proof.json" > /dev/null
}
# The consortium's genesis hash: the root a daemon checks its node's answers against.
GENESIS=$(admin consortium show | json_field genesis)
# serve NAME NODE_URL [--ephemeral]: the agent's wallet daemon, verifying with its org's node (the
# members it trusts checked against $GENESIS); its key sealed (Argon2id), or made in memory and
# never written (a short-lived sub-agent).
serve() {
  local name=$1 url=$2 key=()
  if [ "${3:-}" = --ephemeral ]; then
    key=(--ephemeral)
  else
    echo "passphrase of $name" > "$X/$name.pass"
    "$VOUCH" wallet seal --key "$X/$name.key.json" --out "$X/$name.sealed" --passphrase-file "$X/$name.pass" > /dev/null
    key=(--sealed-key "$X/$name.sealed" --passphrase-file "$X/$name.pass")
  fi
  "$VOUCH" wallet serve --wallet "$X/$name.wallet" "${key[@]}" --socket "$X/$name.sock" --node "$url" \
    --consortium "$GENESIS" > /dev/null 2> "$X/$name.log" &
  echo $! >> "$WORK/daemons.pid"
  for _ in $(seq 100); do grep -q "exchanges at" "$X/$name.log" 2>/dev/null && break; sleep 0.1; done
  sed -n 's/^exchanges at //p' "$X/$name.log"
}
# verdicts: the lines `accepted …` / `rejected …: reason` of an exchange, whatever its exit code.
verdicts() { "$@" | grep -E '^(accepted|rejected) ' || true; }
expect_verdicts() { # expect_verdicts "WANTED LINES" COMMAND...
  local want=$1; shift
  local got; got=$(verdicts "$@")
  printf '%s\n' "$got" | sed 's/^/   /'
  [ "$got" = "$want" ] || { printf 'demo: expected\n%s\n' "$want" >&2; exit 1; }
}
XA=$(agent_of "$C0" "$N0" refund-agent); XB=$(agent_of "$C1" "$N1" billing-agent)
printf '   org A %s: agent %s\n   org B %s: agent %s\n' "$(node_field 0 did)" "$XA" "$(node_field 1 did)" "$XB"
REFUND='{"action": "call:billing_api:refund", "resource": "https://billing.b.example/refunds/**", "constraints": {"maxAmount": {"value": 5000, "unit": "EUR"}}}'
TICKETS='{"action": "read:tickets", "resource": "https://support.c.example/tickets/**"}'
"$NODE" --config "$C0" admin issue --instance "$XA" --task order-1234 --purpose "refund order 1234" \
  --principal carol@customer.example --capability "$REFUND" --capability "$TICKETS" > "$X/xa.vc.json"
"$NODE" --config "$C1" admin issue --instance "$XB" --task billing --purpose "run billing" \
  --principal billing@b.example --capability '{"action": "verify:exchange", "resource": "https://billing.b.example/**"}' > "$X/xb.vc.json"
# wait_list CREDENTIAL NODE: until the node holds the status list the credential names (gossip).
wait_list() {
  local path; path=$(python3 -c 'import json,sys; u=json.load(open(sys.argv[1]))["credentialStatus"][0]["statusListCredential"]; print(u[u.index("/1.0/status-lists/"):])' "$1")
  for _ in $(seq 200); do curl -sf "$2$path" > /dev/null && return; sleep 0.05; done
  echo "demo: $2 never held the status list of $1" >&2; exit 1
}
# C's node issues itself its verifier credential (a did:key of the node, under org C) on its
# first exchange; each verifier's credential's list must reach the prover's node.
curl -sf -X POST "$N2/1.0/exchanges" -H 'content-type: application/json' \
  -d '{"capabilities": [{"action": "read:tickets", "resource": "https://support.c.example/tickets/1"}]}'  \
  | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["request"]["verifierPresentation"]["verifiableCredential"][0]))' > "$X/xc.vc.json"
wait_list "$X/xb.vc.json" "$N0"; wait_list "$X/xa.vc.json" "$N1"; wait_list "$X/xc.vc.json" "$N0"
PA=$(serve refund-agent "$N0"); PB=$(serve billing-agent "$N1")
"$VOUCH" wallet add --socket "$X/refund-agent.sock" "$X/xa.vc.json" > /dev/null
"$VOUCH" wallet add --socket "$X/billing-agent.sock" "$X/xb.vc.json" > /dev/null
echo "   daemons: A at $PA"
echo "            B at $PB"
refund_of() { printf '{"action": "call:billing_api:refund", "resource": "https://billing.b.example/refunds/%s", "arguments": {"amount": {"value": %s, "unit": "EUR"}}}' "$1" "$2"; }
ask_b() { "$VOUCH" wallet exchange --socket "$X/billing-agent.sock" --peer "$1" "${@:2}"; }

echo "   B asks A (A first checks B's presentation: its org is a member, its credential not revoked, the request fresh) to prove two refunds:"
expect_verdicts "accepted call:billing_api:refund https://billing.b.example/refunds/1234
rejected call:billing_api:refund https://billing.b.example/refunds/1235: constraint_violated" \
  ask_b "$PA" --capability "$(refund_of 1234 1200)" --capability "$(refund_of 1235 9000)"

echo "   A delegates to its sub-agent (an ephemeral daemon: its key made in memory, never written) refunds up to 10 EUR,"
echo "   signed in A's daemon (A's key never leaves it); B asks the sub-agent:"
PS=$(serve sub "$N0" --ephemeral); XS=$("$VOUCH" wallet identity --socket "$X/sub.sock" | json_field did)
echo '[{"action": "call:billing_api:refund", "resource": "https://billing.b.example/refunds/**", "constraints": {"maxAmount": {"value": 1000, "unit": "EUR"}}}]' > "$X/narrow.json"
"$VOUCH" wallet delegate --socket "$X/refund-agent.sock" --parent "$(json_field id < "$X/xa.vc.json")" --to "$XS" \
  --capabilities "$X/narrow.json" > "$X/sub.bundle.json"
"$VOUCH" wallet add --socket "$X/sub.sock" "$X/sub.bundle.json" > /dev/null
expect_verdicts "accepted call:billing_api:refund https://billing.b.example/refunds/77
rejected call:billing_api:refund https://billing.b.example/refunds/78: constraint_violated" \
  ask_b "$PS" --capability "$(refund_of 77 800)" --capability "$(refund_of 78 1200)"

echo "   A proves to org C's node over HTTP, without libp2p: the node asks in the name of the relying party"
echo "   (https://billing.b.example); A's daemon checks that the node's presentation signs exactly what it shows,"
echo "   signs the same, and presents only credentials with a capability for what is asked; C decides each:"
expect_verdicts "accepted call:billing_api:refund https://billing.b.example/refunds/8
rejected call:billing_api:refund https://billing.b.example/refunds/9: constraint_violated" \
  "$VOUCH" wallet prove --socket "$X/refund-agent.sock" --node "$N2" \
  --capability "$(refund_of 8 1200)" --capability "$(refund_of 9 6000)"

echo "   A's payouts need its owner's approval of each one: A's org registers the owner (ops@org.example), who"
echo "   registers a passkey from the link the node gives (in a browser: headless Chromium, a virtual authenticator"
echo "   standing for their device); A gets a payout credential with requiresApproval; B asks for 3,000 EUR:"
"$VOUCH" key generate --out "$X/owner.key.json" > /dev/null
ENROL=$(admin owner ops@org.example --key "$("$VOUCH" key did --key "$X/owner.key.json")" | json_field enrol url)
"$BROWSER" --device "$X/owner-device.json" enrol "$ENROL" | sed 's/^/   on the page: /'
payout_of() { printf '{"action": "call:billing_api:payout", "resource": "https://billing.b.example/payouts/%s", "arguments": {"amount": {"value": %s, "unit": "EUR"}}}' "$1" "$2"; }
"$NODE" --config "$C0" admin issue --instance "$XA" --task payouts --purpose "pay out refunds" \
  --principal carol@customer.example --capability '{"action": "call:billing_api:payout", "resource": "https://billing.b.example/payouts/**", "constraints": {"maxAmount": {"value": 5000, "unit": "EUR"}, "requiresApproval": true}}' \
  > "$X/xa-payouts.vc.json"
wait_list "$X/xa-payouts.vc.json" "$N1"
"$VOUCH" wallet add --socket "$X/refund-agent.sock" "$X/xa-payouts.vc.json" > /dev/null
expect_verdicts "rejected call:billing_api:payout https://billing.b.example/payouts/7: needs_approval" ask_b "$PA" --capability "$(payout_of 7 3000)"
echo "   A's daemon asks its node for the owner's approval of exactly that payout; the owner opens the approval"
echo "   page, sees the payout and approves it with their passkey:"
"$VOUCH" wallet request-approval --socket "$X/refund-agent.sock" --request "$(payout_of 7 3000)" > "$X/pending.json"
PENDING=$(json_field id < "$X/pending.json")
PAGE=$(json_field page < "$X/pending.json")
printf '   page: %s\n' "$PAGE"
"$BROWSER" --device "$X/owner-device.json" approve "$PAGE" | sed 's/^/   on the page: /'
"$VOUCH" wallet approval --socket "$X/refund-agent.sock" "$PENDING" > "$X/approved.json"
printf '   %s: a VouchApprovalCredential for A, bound to the hash of the payout, by %s, 5 minutes\n' \
  "$(json_field standing < "$X/approved.json")" "$(json_field approval credentialSubject method < "$X/approved.json")"
echo "   B asks again: A presents the approval with the payout it approves; then once more — an approval is used once:"
for _ in $(seq 100); do
  got=$(verdicts ask_b "$PA" --capability "$(payout_of 7 3000)")
  case "$got" in accepted*) break ;; esac
  sleep 0.05
done
printf '   %s\n' "$got"
case "$got" in accepted*) ;; *) echo "demo: the approved payout was not accepted" >&2; exit 1 ;; esac
expect_verdicts "rejected call:billing_api:payout https://billing.b.example/payouts/7: needs_approval" ask_b "$PA" --capability "$(payout_of 7 3000)"

echo "   org A revokes task order-1234 at its node; B's next decision on A:"
admin revoke --level task order-1234 > /dev/null
REVOKED_AT=$(date +%s%N)
for _ in $(seq 100); do
  got=$(verdicts ask_b "$PA" --capability "$(refund_of 1234 1200)")
  case "$got" in *revoked*) break ;; esac
  sleep 0.05
done
printf '   %s (%s ms after the revocation)\n' "$got" $(( ($(date +%s%N) - REVOKED_AT) / 1000000 ))
case "$got" in *": revoked") ;; *) echo "demo: the revoked task was not rejected" >&2; exit 1 ;; esac
got=$(verdicts ask_b "$PS" --capability "$(refund_of 77 800)"); echo "   and on the sub-agent, below it: $got"
case "$got" in *": revoked") ;; *) echo "demo: the sub-agent's chain was not rejected" >&2; exit 1 ;; esac

echo "   both wallets' audit logs (the daemons stopped), each verified under its instance key from its first entry:"
stop_daemons
for name in refund-agent billing-agent; do
  "$VOUCH" audit export --wallet "$X/$name.wallet" --key "$X/$name.key.json" --checkpoint "$X/$name.checkpoint" > "$X/$name.audit.jsonl"
  DID=$("$VOUCH" key did --key "$X/$name.key.json")
  KEY=${DID#did:key:}
  printf '   %s: ' "$name"
  "$VOUCH" audit verify --export "$X/$name.audit.jsonl" --checkpoint "$X/$name.checkpoint" --origin "$DID/audit" --log-key "$KEY" | paste -sd ' '
  python3 -c 'import json,sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["event"] in ("decided", "exchange_requested"):
        print("     ", e["seq"], e["event"], e.get("action", ""), e.get("decision", ""), e.get("reason", ""))' "$X/$name.audit.jsonl"
done

say "15. From the agent frameworks: two agents as wallet daemons (vouch-testnet agents); a Python agent's refund tool runs only after an exchange accepts it, the same in TypeScript, an MCP tool that takes a call only with a proof for that very call, and one that speaks only OAuth"
"$TESTNET" --dir "$WORK/testnet" agents
source scripts/python-env.sh
if [ ! -d clients/typescript/node_modules/typescript ]; then
  npm ci --prefix clients/typescript --no-audit --no-fund --silent
fi
npm run build --prefix clients/typescript --silent
AGENTS="$WORK/testnet/agents.json"
expect() { # expect WHAT EXPECTED-OUTPUT COMMAND…: runs it, prints its output, fails unless it is that.
  local what=$1 want=$2; shift 2
  local got; got=$("$@")
  printf '%s\n' "$got" | sed 's/^/   /'
  [ "$got" = "$want" ] || { echo "demo: $what said otherwise" >&2; exit 1; }
}
GATED=$'refund 42 of 1200 EUR: issued\nrefund 43 of 9000 EUR: refused (constraint_violated)\ndelete order 42: refused (not_granted)'
echo "   Python (examples/python/gated_refund.py):"
expect "the Python agent" "$GATED" "$VOUCH_VENV/bin/python" examples/python/gated_refund.py "$AGENTS"
echo "   TypeScript (examples/typescript/gated_refund.mjs):"
expect "the TypeScript agent" "$GATED" node examples/typescript/gated_refund.mjs "$AGENTS"
echo "   MCP over streamable HTTP (examples/python/call_refund_tool.py calling examples/python/mcp_refund_tool.py;"
echo "   each tool call signed by the agent's daemon, RFC 9421, checked by the node before the tool runs):"
PROVER_DID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["prover"]["did"])' "$AGENTS")
expect "the MCP tool" "refund 42, 1200 EUR: refund of 1200 EUR on order 42 issued for $PROVER_DID
refund 43, 300 EUR: refund of 300 EUR on order 43 issued for $PROVER_DID
refund 44, 9000 EUR: the daemon refused to sign (constraint_violated)
refund 45 unsigned: 401 request_mismatch" \
  "$VOUCH_VENV/bin/python" examples/python/call_refund_tool.py "$AGENTS"

echo "   MCP with OAuth (examples/python/call_refund_oauth.py calling examples/python/mcp_refund_oauth.py): a token"
echo "   from the agent's node by token exchange (RFC 8693), bound to its key by DPoP (RFC 9449), checked by"
echo "   PyJWT, joserfc and the node's introspection (RFC 7662); then org A revokes the agent's task:"
PROVER_TASK=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["prover"]["task"])' "$AGENTS")
expect "the OAuth MCP tool" "token: DPoP, 1 capability, call:testnet:refund up to 5000 EUR
refund 42, 1200 EUR: refund of 1200 EUR on order 42 issued for $PROVER_DID
refund 44, 9000 EUR: 403 insufficient_scope
refund 45, token without proof: 401 invalid_dpop_proof
refund 46 after the task's revocation: 401 invalid_token" \
  "$VOUCH_VENV/bin/python" examples/python/call_refund_oauth.py "$AGENTS" \
  "$NODE" --config "$WORK/testnet/node-0/node.toml" admin revoke --level task "$PROVER_TASK"

"$TESTNET" --dir "$WORK/testnet" down

echo
echo "demo: every step behaved as expected"
