#!/usr/bin/env bash
# The main job: an end-to-end run of the `vouch` CLI in a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --locked --quiet --bin vouch
VOUCH="$CARGO_TARGET_DIR/debug/vouch"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "1. Keys: an issuer and an agent"
ISSUER=$("$VOUCH" key generate --out "$WORK/issuer.key.json")
AGENT=$("$VOUCH" key generate --out "$WORK/agent.key.json")
echo "issuer $ISSUER"
echo "agent  $AGENT"

say "2. The issuer signs a credential (eddsa-rdfc-2022, then eddsa-jcs-2022)"
cat > "$WORK/unsigned.json" <<JSON
{
  "@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"],
  "id": "urn:uuid:6a1b4ad2-4a43-4b8a-9f52-0d2b1f4f0a11",
  "type": ["VerifiableCredential", "ExampleAgentCredential"],
  "issuer": "$ISSUER",
  "validFrom": "2026-01-01T00:00:00Z",
  "credentialSubject": { "id": "$AGENT", "role": "support-agent" }
}
JSON
for suite in eddsa-rdfc-2022 eddsa-jcs-2022; do
  "$VOUCH" credential sign --key "$WORK/issuer.key.json" --suite $suite < "$WORK/unsigned.json" > "$WORK/signed-$suite.json"
  "$VOUCH" credential verify < "$WORK/signed-$suite.json"
done

say "3. A tampered copy is rejected, with its reason"
sed 's/support-agent/admin/' "$WORK/signed-eddsa-rdfc-2022.json" > "$WORK/tampered.json"
if "$VOUCH" credential verify < "$WORK/tampered.json"; then
  echo "demo: the tampered credential verified" >&2; exit 1
fi
echo "demo: done"
