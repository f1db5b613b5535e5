#!/usr/bin/env bash
# The W3C and CCG conformance suites against one Vouch node on loopback: Data Integrity EdDSA,
# the VC API verifier, VC Data Model 2.0, Bitstring Status List and DID Resolution. Prints one line
# per suite, `SUITE: passed/total`, and keeps mocha's full JSON results, with every request and
# answer, in a temporary folder whose path it prints. It reports; it does not gate: exit 0 whatever
# the tests say, non-zero only when it could not run (no binaries, no suites, a node or suite that
# did not start).
#
#   scripts/conformance.sh [--suites DIR] [--build]
#
#   --suites DIR  an existing install: DIR/suites/<suite> with its node_modules, as this script
#                 makes (DIR/HEADS.txt, when present, is compared with the pins below). Without
#                 it, the suites and their GitHub dependencies are cloned at the pinned commits
#                 into $VOUCH_CONFORMANCE_DIR (default ~/.cache/vouch-conformance) and installed
#                 with npm, once; that step needs GitHub (or VOUCH_CONFORMANCE_GITHUB, a base
#                 URL serving the same repositories) and the npm registry; the runs need neither.
#   --build       build the workspace first (as scripts/test.sh does); by default the binaries
#                 already in $CARGO_TARGET_DIR/debug are used.
#
# Needs Node.js ≥ 20 with npm, git, curl and openssl.
set -euo pipefail
cd "$(dirname "$0")/.."

suites_dir=""
build=0
while [ $# -gt 0 ]; do
  case "$1" in
    --suites)
      [ -d "${2:-}" ] || { echo "conformance: --suites needs an install's folder" >&2; exit 2; }
      suites_dir=$(cd "$2" && pwd); shift 2 ;;
    --build) build=1; shift ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "conformance: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

# The suites and the GitHub-only packages they depend on, at the commits this baseline was taken
# with: "owner/name commit". The suites name their dependencies without a commit (`github:owner/name`),
# so without pins every install would test against whatever those repositories hold that day.
SUITES=(
  "w3c/vc-di-eddsa-test-suite a62061b23892deb44dbad67a0315d403fdf09440"
  "w3c-ccg/vc-api-verifier-test-suite 41541eeb9c31215d32403f4fe32bb441fbbf141e"
  "w3c/vc-data-model-2.0-test-suite 6e075243825f50c79017de4a27089d329c093d0f"
  "w3c/vc-bitstring-status-list-test-suite 5cdc5625948470d1f3b8b615e0771c013dc9029e"
  "w3c-ccg/did-resolution-mocha-test-suite 2649fdf719beadbd3c684d358eea23c3c2e514fe"
)
DEPS=(
  "w3c/vc-test-suite-implementations a15c6cf73e588f93a5b532a02c051ad7b59777ab"
  "w3c-ccg/vc-test-suite-implementations 8fd6a18d907194e259c8e91983eac608735781dd"
  "w3c-ccg/data-integrity-test-suite-assertion 8d84d182f022f02049135f7d1ad3d5d0181e5560"
  # v1.11.0, the tag the DID Resolution suite names (its package-lock.json pins this commit).
  "w3c-ccg/mocha-w3c-interop-reporter 26e88301af994a78cdd9e0eb0115caa214cd51e9"
)

# The did:keys whose credentials the suites hand the verifier, found in their sources and vectors.
# The node verifies a credential that attests no action only from an issuer it trusts
# ([verification] trusted_issuers); without these every positive verification fails issuer_trust.
TRUSTED_ISSUERS=(
  # vc-di-eddsa: the key its vc-generator derives from the seed z1AYMku6… (tests/vc-generator/helpers.js)
  did:key:z6MktKwz7Ge1Yxzr4JHavN33wiwa8y81QdcMRLXQsrH9T53b
  # data-integrity-test-suite-assertion: the proof-chain fixtures (inputs/eddsa-rdfc-2022/*), issuer
  # and the second signer
  did:key:z6MkhWqdDBPojHA7cprTGTt5yHv5yUi1B8cnXn8ReLumkw6E
  did:key:z6MktgKTsu1QhX6QPbyqG6geXdw6FQCZBPq7uQpieWbiQiG7
  # vc-data-model-2.0: the key that signs its presentations and their credentials (tests/input, helpers)
  did:key:z6MkpJySvETLnxhQG9DzEdmKJtysBDjuuTeDfUj1uNNCUqcj
  did:key:z6Mkska8oQD7QQQWxqa7L5ai4mH98HfAdSwomPFYKuqNyE2y
  # vc-api-verifier: the Ed25519Signature2020 vector's key (its issuer is an https URL, so it asks
  # only for the proof check)
  did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2
)

for tool in node npm git curl openssl; do
  command -v "$tool" >/dev/null || { echo "conformance: $tool is needed" >&2; exit 2; }
done

# ---------------------------------------------------------------------------------------------
# The suites: an existing install, or one made here from GitHub at the pins.

heads() { for entry in "${DEPS[@]}" "${SUITES[@]}"; do echo "${entry/\//+}"; done; }

# clone REPO COMMIT DIR: that one commit, shallow (GitHub serves any reachable commit by its id).
clone() {
  git init -q "$3"
  git -C "$3" fetch -q --depth 1 "${VOUCH_CONFORMANCE_GITHUB:-https://github.com}/$1.git" "$2"
  git -C "$3" -c advice.detachedHead=false checkout -q FETCH_HEAD
}

install_suites() {
  local dest=$1
  echo "conformance: installing the suites in $dest (GitHub and the npm registry)" >&2
  rm -rf "$dest/deps" "$dest/suites" "$dest/HEADS.txt"
  mkdir -p "$dest/deps" "$dest/suites"
  local entry repo commit
  for entry in "${DEPS[@]}"; do
    read -r repo commit <<<"$entry"
    clone "$repo" "$commit" "$dest/deps/${repo/\//+}"
  done
  for entry in "${SUITES[@]}"; do
    read -r repo commit <<<"$entry"
    clone "$repo" "$commit" "$dest/suites/${repo#*/}"
  done
  # The DID Resolution suite's lock pins its GitHub packages as git+ssh URLs, which need a GitHub
  # SSH key; its dependencies are resolved again below, GitHub ones from the clones.
  rm -f "$dest/suites/did-resolution-mocha-test-suite/package-lock.json"
  # Every `github:owner/name[#ref]` dependency becomes `file:` the clone at its pin.
  DEST="$dest" node -e '
    const fs = require("fs"), dest = process.env.DEST;
    for (const suite of fs.readdirSync(dest + "/suites")) {
      const file = `${dest}/suites/${suite}/package.json`, pkg = JSON.parse(fs.readFileSync(file));
      for (const field of ["dependencies", "devDependencies"]) {
        for (const [name, spec] of Object.entries(pkg[field] || {})) {
          const github = /^github:([^/#]+)\/([^#]+)/.exec(spec);
          if (github) {
            const local = `${dest}/deps/${github[1]}+${github[2]}`;
            if (!fs.existsSync(local)) throw new Error(`${suite}: ${name} ${spec} is not pinned`);
            pkg[field][name] = "file:" + local;
          } else if (/^(git\+|git:|https?:)/.test(spec)) {
            throw new Error(`${suite}: ${name} ${spec} is not pinned`);
          }
        }
      }
      fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + "\n");
    }'
  # --install-links copies the file: dependencies instead of linking them, so that app-root-path
  # (in vc-test-suite-implementations) finds the suite's root above node_modules.
  local suite pids=()
  for suite in "$dest"/suites/*; do
    (cd "$suite" && npm install --install-links --no-audit --no-fund >install.log 2>&1) &
    pids+=($!)
  done
  local pid failed=0
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  [ "$failed" -eq 0 ] || { echo "conformance: npm install failed (see $dest/suites/*/install.log)" >&2; exit 2; }
  heads >"$dest/HEADS.txt"
}

if [ -z "$suites_dir" ]; then
  suites_dir=${VOUCH_CONFORMANCE_DIR:-$HOME/.cache/vouch-conformance}
  mkdir -p "$suites_dir"
  # Installed once per set of pins: HEADS.txt is written last, so a broken install is redone.
  if ! cmp -s <(heads) "$suites_dir/HEADS.txt" 2>/dev/null; then
    install_suites "$suites_dir"
  fi
elif [ -f "$suites_dir/HEADS.txt" ] && ! diff <(heads | sort) <(sort "$suites_dir/HEADS.txt") >/dev/null; then
  # An install made elsewhere may hold other commits (or lack the reporter's clone): say so.
  echo "conformance: warning: $suites_dir/HEADS.txt differs from the pins:" >&2
  diff <(heads | sort) <(sort "$suites_dir/HEADS.txt") >&2 || true
fi
for entry in "${SUITES[@]}"; do
  name=${entry%% *}; name=${name#*/}
  [ -x "$suites_dir/suites/$name/node_modules/.bin/mocha" ] \
    || { echo "conformance: $suites_dir/suites/$name is not installed (no node_modules/.bin/mocha)" >&2; exit 2; }
done

# ---------------------------------------------------------------------------------------------
# The node's binaries.

if [ "$build" -eq 1 ]; then
  source scripts/setup.sh
  cargo build --workspace --all-targets --locked
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vouch-target}"
NODE_BIN="$CARGO_TARGET_DIR/debug/vouch-node"
[ -x "$NODE_BIN" ] || { echo "conformance: no $NODE_BIN (build first, or pass --build)" >&2; exit 2; }
# Which build the figures are of: the binary's date, and the tree it was presumably built from.
tree=$(git rev-parse --short HEAD 2>/dev/null || echo "no git")
[ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] || tree="$tree with uncommitted changes"
echo "node: $NODE_BIN, built $(date -u -r "$NODE_BIN" +%Y-%m-%dT%H:%M:%SZ); tree $tree"

# ---------------------------------------------------------------------------------------------
# One node, alone, and a front for it (below).

work=$(mktemp -d -t vouch-conformance.XXXXXX)
pids=()
suite_pid=""
stop() {
  local pid
  for pid in $suite_pid "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT
trap 'exit 130' INT TERM

free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}
node_port=$(free_port)
front_port=$(free_port)
tls_port=$(free_port)
http_url="http://127.0.0.1:$front_port"
https_url="https://127.0.0.1:$tls_port"

# public_url is the TLS front's: the node names its status lists under it, and the Bitstring
# suite fetches them with a loader that knows https only. The per-client rate limit is lifted: every
# request comes from 127.0.0.1, and a 429 would fail a test for the harness's sake, not the node's.
{
  cat <<TOML
data_dir = "data"
[http]
listen = "127.0.0.1:$node_port"
public_url = "$https_url"
client_requests_per_sec = 100000
client_burst = 100000
[p2p]
# Alone, on loopback, on a port of its own: no consortium, nothing to meet.
listen = ["/ip4/127.0.0.1/tcp/0"]
[verification]
TOML
  printf 'trusted_issuers = ['
  printf '"%s", ' "${TRUSTED_ISSUERS[@]}" | sed 's/, $//'
  printf ']\n'
} >"$work/node.toml"

"$NODE_BIN" --config "$work/node.toml" init --json >"$work/identity.json"
org_did=$(node -p 'require(process.argv[1]).did' "$work/identity.json")
token=$(tr -d '\n' <"$work/data/admin.token")
RUST_LOG=${RUST_LOG:-warn} "$NODE_BIN" --config "$work/node.toml" run >"$work/node.log" 2>&1 &
pids+=($!)

# A front for the node, in Node.js, that logs every exchange (exchanges.jsonl: the request and the
# node's answer, so a failing test's cause can be read) and terminates TLS. The node serves plain
# HTTP; the VC 2.0 suite takes the VC API's {verifiableCredential} answer only over https (over
# http it reads the body raw), and the Bitstring suite fetches status lists over https only. A
# self-signed certificate is enough: both accept any. The other suites use the front's plain port.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$work/tls.key" -out "$work/tls.crt" 2>/dev/null
cat >"$work/front.cjs" <<'JS'
// Passes every request, unchanged, to the node's HTTP port, and logs it with the answer.
const fs = require('fs'), http = require('http'), https = require('https');
const [cert, key, tlsPort, plainPort, nodePort, logFile] = process.argv.slice(2);
const cut = buffers => Buffer.concat(buffers).toString('utf8').slice(0, 20000);
function pass(req, res) {
  const asked = [], answered = [];
  req.on('data', chunk => asked.push(chunk));
  const upstream = http.request(
    {host: '127.0.0.1', port: nodePort, method: req.method, path: req.url, headers: req.headers},
    answer => {
      res.writeHead(answer.statusCode, answer.headers);
      answer.on('data', chunk => answered.push(chunk));
      // Synchronously, so the log is whole when a suite's last answer arrives.
      answer.on('end', () => fs.appendFileSync(logFile, JSON.stringify({
        method: req.method, url: req.url, status: answer.statusCode,
        type: answer.headers['content-type'], request: cut(asked), response: cut(answered)}) + '\n'));
      answer.pipe(res);
    });
  upstream.on('error', e => { res.writeHead(502, {'content-type': 'text/plain'}); res.end(String(e)); });
  req.pipe(upstream);
}
https.createServer({cert: fs.readFileSync(cert), key: fs.readFileSync(key)}, pass)
  .listen(Number(tlsPort), '127.0.0.1');
http.createServer(pass).listen(Number(plainPort), '127.0.0.1');
JS
: >"$work/exchanges.jsonl"
node "$work/front.cjs" "$work/tls.crt" "$work/tls.key" "$tls_port" "$front_port" "$node_port" \
  "$work/exchanges.jsonl" >"$work/front.log" 2>&1 &
pids+=($!)

for _ in $(seq 100); do
  curl -sf "$http_url/health" >/dev/null && curl -skf "$https_url/health" >/dev/null && break
  sleep 0.1
done
curl -skf "$https_url/health" >/dev/null \
  || { echo "conformance: the node did not start (see $work/node.log, $work/front.log)" >&2; exit 2; }

# ---------------------------------------------------------------------------------------------
# Each suite's manifest (localConfig.cjs) names only this node, so no public implementation is
# tried. It is read from APP_ROOT_PATH, so the install itself is left as it is. The issuer
# endpoints carry the admin token; the node issues only as its org, so that is the issuer id.

manifest() {
  local suite=$1
  mkdir -p "$work/config/$suite"
  cat >"$work/config/$suite/localConfig.cjs"
}
auth="headers: {Authorization: 'Bearer $token'}"

# vc-di-eddsa: one issuer per cryptosuite (a suite takes the first endpoint with its tag), one
# verifier for both.
manifest vc-di-eddsa-test-suite <<JS
module.exports = {implementations: [{
  name: 'Vouch', implementation: 'Vouch identity node',
  issuers: [
    {id: '$org_did', endpoint: '$http_url/credentials/issue', $auth, tags: ['eddsa-rdfc-2022'],
     options: {type: 'DataIntegrityProof', cryptosuite: 'eddsa-rdfc-2022'}},
    {id: '$org_did', endpoint: '$http_url/credentials/issue', $auth, tags: ['eddsa-jcs-2022'],
     options: {type: 'DataIntegrityProof', cryptosuite: 'eddsa-jcs-2022'}}],
  verifiers: [{id: 'urn:vouch:verifier', endpoint: '$http_url/credentials/verify',
    tags: ['eddsa-rdfc-2022', 'eddsa-jcs-2022']}]
}]};
JS

# vc-api-verifier: verifiers only (the 'JWT' tag would call a public issuer).
manifest vc-api-verifier-test-suite <<JS
module.exports = {implementations: [{
  name: 'Vouch', implementation: 'Vouch identity node',
  verifiers: [{id: 'urn:vouch:verifier', endpoint: '$http_url/credentials/verify', tags: ['vc-api']}]
}]};
JS

# vc-data-model-2.0: through the TLS front (see above).
manifest vc-data-model-2.0-test-suite <<JS
module.exports = {implementations: [{
  name: 'Vouch', implementation: 'Vouch identity node',
  issuers: [{id: '$org_did', endpoint: '$https_url/credentials/issue', $auth, tags: ['vc2.0'],
    options: {type: 'DataIntegrityProof', cryptosuite: 'eddsa-rdfc-2022'}}],
  verifiers: [{id: 'urn:vouch:verifier', endpoint: '$https_url/credentials/verify', tags: ['vc2.0']}],
  vpVerifiers: [{id: 'urn:vouch:verifier', endpoint: '$https_url/presentations/verify', tags: ['vc2.0']}]
}]};
JS

# vc-bitstring-status-list: the suite sends no status entry; the node adds one when asked.
manifest vc-bitstring-status-list-test-suite <<JS
module.exports = {implementations: [{
  name: 'Vouch', implementation: 'Vouch identity node',
  issuers: [{id: '$org_did', endpoint: '$https_url/credentials/issue', $auth, tags: ['BitstringStatusList'],
    options: {credentialStatus: {type: 'BitstringStatusListEntry', statusPurpose: 'revocation'}}}],
  verifiers: [{id: 'urn:vouch:verifier', endpoint: '$https_url/credentials/verify', tags: ['BitstringStatusList']}]
}]};
JS

# did-resolution: the suite reads the first resolver only. `notFound`/`deactivated` are left out:
# at this commit the suite puts the whole list into the URL ("/[object Object]").
manifest did-resolution-mocha-test-suite <<JS
module.exports = {implementations: [{
  name: 'Vouch', implementation: 'Vouch identity node',
  didResolvers: [{id: 'urn:vouch:resolver', endpoint: '$http_url/1.0/identifiers', tags: ['did-resolution'],
    supportedDids: {valid: [{did: '$org_did', resolutionOptions: {}}]}}]
}]};
JS

# ---------------------------------------------------------------------------------------------
# The runs. Totals come from a dry run: a failed "before all" hook counts as one failure in a real
# run and its tests are not run (nor counted). The suites' own reporter writes HTML; mocha's JSON
# reporter gives counts a script can read. --no-config/--no-package: the suites' .mocharc.yaml and
# package.json name their own reporters.

mkdir -p "$work/results"
could_not_run=0
summary() {
  node -e '
    const [run, dry] = process.argv.slice(1).map(f => require(f));
    const total = dry.stats.tests - dry.stats.pending;   // it.skip is no test of the node
    const hooks = run.failures.filter(t => /"(before|after)( all| each)?" hook/.test(t.title));
    const failed = run.failures.length - hooks.length;
    const skipped = run.stats.pending - dry.stats.pending;   // this.skip() while running
    const notRun = total - run.stats.passes - failed - skipped;
    const more = [`${failed} failed`];
    if (skipped) more.push(`${skipped} skipped by the suite`);
    if (notRun > 0) more.push(`${notRun} not run (${hooks.length} hook${hooks.length === 1 ? "" : "s"} failed)`);
    console.log(`${run.stats.passes}/${total}  (${more.join(", ")})`);
  ' "$1" "$2"
}
# In the suite's folder, with its manifest; in the background and waited for, so that an
# interruption stops it with the rest (`stop` ends suite_pid).
# NODE_TLS_REJECT_UNAUTHORIZED=0: the suites' own HTTP client takes the self-signed front, but
# Node's fetch, which some of their loaders use, does not. --preserve-symlinks (as the suites' npm
# test has it) goes in NODE_OPTIONS: given to mocha, it would run the tests in a child process of
# its own, which stopping mocha leaves running.
run_mocha() {
  env -C "$suites_dir/suites/$name" APP_ROOT_PATH="$work/config/$name" \
    NODE_TLS_REJECT_UNAUTHORIZED=0 NODE_NO_WARNINGS=1 NODE_OPTIONS=--preserve-symlinks \
    node_modules/.bin/mocha tests/ --no-config --no-package --timeout 15000 --reporter json "$@" &
  suite_pid=$!
  # mocha exits with the number of failures: only a missing report means it did not run.
  wait "$suite_pid" || true
  suite_pid=""
}
for entry in "${SUITES[@]}"; do
  name=${entry%% *}; name=${name#*/}
  out="$work/results/$name"
  first=$(($(wc -l <"$work/exchanges.jsonl") + 1))
  run_mocha --dry-run --reporter-option output="$out.dry.json" >"$out.dry.log" 2>&1
  # Every test must name this node: one that does not comes from a public manifest, which the
  # suite would call over the Internet (our localConfig.cjs was not read).
  if node -e '
       const {tests} = require(process.argv[1]);
       process.exit(tests.length && tests.every(t => t.fullTitle.includes("Vouch")) ? 0 : 1);
     ' "$out.dry.json" 2>/dev/null; then
    run_mocha --reporter-option output="$out.json" >"$out.log" 2>&1
  else
    echo "conformance: the dry run did not list this node's tests only (see $out.dry.log)" >"$out.log"
  fi
  if line=$(summary "$out.json" "$out.dry.json" 2>/dev/null); then
    echo "$name: $line"
  else
    echo "$name: did not run (see $out.log)"
    could_not_run=1
  fi
  tail -n "+$first" "$work/exchanges.jsonl" >"$out.exchanges.jsonl"
  # The failures, readable: title, then the first line of the error.
  node -e '
    for (const t of require(process.argv[1]).failures) {
      console.log(`- ${t.fullTitle}\n    ${String(t.err.message || "").split("\n")[0].slice(0, 300)}`);
    }
  ' "$out.json" >"$out.failures.txt" 2>/dev/null || true
done

echo "results: $work/results (NAME.json: mocha's JSON report; NAME.failures.txt: the failing tests;"
echo "         NAME.exchanges.jsonl: every request of the suite and the node's answer)"
exit "$could_not_run"
