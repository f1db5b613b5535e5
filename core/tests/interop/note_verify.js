// Signed notes checked the way c2sp.org/signed-note and c2sp.org/tlog-cosignature describe them,
// with Node's own Ed25519 (OpenSSL): the other side of the checkpoint test in
// `core/tests/interop.rs`, written from the specifications, not from Vouch's code.
//
// Reads {"note": text, "keys": [{"name", "type": 1 | 4, "key": base64 of the raw 32-byte key}]}
// on stdin and writes, for each signature line of the note, {"name", "known", "verified",
// "time"}: known when a key of that name has the line's key ID, verified when its signature
// holds over the message its type signs (the note text for 0x01; "cosignature/v1\ntime <t>\n"
// and the text for 0x04, with t the big-endian u64 before the signature).
'use strict';

const crypto = require('crypto');

const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');

function keyId(name, type, key) {
  const hash = crypto.createHash('sha256');
  hash.update(Buffer.from(name + '\n', 'utf8'));
  hash.update(Buffer.from([type]));
  hash.update(key);
  return hash.digest().subarray(0, 4);
}

function verify(key, message, signature) {
  const publicKey = crypto.createPublicKey({
    key: Buffer.concat([SPKI_ED25519, key]),
    format: 'der',
    type: 'spki',
  });
  return crypto.verify(null, message, publicKey, signature);
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  const request = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const note = request.note;
  const split = note.lastIndexOf('\n\n');
  const text = Buffer.from(note.slice(0, split + 1), 'utf8');
  const lines = note.slice(split + 2).split('\n').filter((line) => line.length > 0);
  const answers = lines.map((line) => {
    const match = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!match) {
      return {error: `not a signature line: ${line}`};
    }
    const [, name, encoded] = match;
    const blob = Buffer.from(encoded, 'base64');
    const id = blob.subarray(0, 4);
    const answer = {name, known: false, verified: false, time: null};
    for (const candidate of request.keys) {
      const key = Buffer.from(candidate.key, 'base64');
      if (candidate.name !== name || !keyId(name, candidate.type, key).equals(id)) {
        continue;
      }
      answer.known = true;
      if (candidate.type === 1) {
        answer.verified = verify(key, text, blob.subarray(4));
      } else if (candidate.type === 4 && blob.length === 4 + 8 + 64) {
        const time = blob.readBigUInt64BE(4);
        const message = Buffer.concat([Buffer.from(`cosignature/v1\ntime ${time}\n`, 'utf8'), text]);
        answer.verified = verify(key, message, blob.subarray(12));
        answer.time = Number(time);
      }
    }
    return answer;
  });
  process.stdout.write(JSON.stringify(answers));
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack || error));
  process.exit(1);
});
