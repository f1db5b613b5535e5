// Canonical N-Quads (RDFC-1.0) of JSON-LD documents by jsonld.js (Digital Bazaar, with
// rdf-canonize), an implementation independent of Vouch's: the other side of the differential
// test in `core/tests/interop.rs`.
//
// Reads {"contexts": {url: document text}, "documents": [JSON-LD, ...]} on stdin and writes a JSON
// list with, for each document, its canonical N-Quads or {"error": message}. Offline: the loader
// serves exactly the contexts given and refuses any other URL.
'use strict';

const jsonld = require('jsonld');

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  const request = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const documentLoader = async (url) => {
    if (!Object.prototype.hasOwnProperty.call(request.contexts, url)) {
      throw new Error(`refused: not a bundled context: ${url}`);
    }
    return {contextUrl: null, documentUrl: url, document: JSON.parse(request.contexts[url])};
  };
  const answers = [];
  for (const document of request.documents) {
    try {
      answers.push(await jsonld.canonize(document, {
        algorithm: 'RDFC-1.0',
        format: 'application/n-quads',
        documentLoader,
        safe: true,
      }));
    } catch (error) {
      answers.push({error: String(error && error.message || error)});
    }
  }
  process.stdout.write(JSON.stringify(answers));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
