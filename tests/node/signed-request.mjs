// Signs a request with AO's own HTTP-signature client, @permaweb/ao-core-libs (RFC 9421,
// rsa-pss-sha512, the signer aoconnect's mainnet mode uses), and sends it to a node. Used by
// tests/operator_http.rs (`POST /~meta@1.0/info`) and tests/simple_pay_http.rs.
//
//   node signed-request.mjs URL JWK_FILE MODE METHOD PATH key=value...
//
// MODE: `send` (sign and send once), `replay` (send, then send the very same bytes again),
// `tamper` (sign, then change the first field's value before sending). Prints one JSON line
// per request sent: {status, body}.
import { readFileSync } from 'node:fs';
import core from '@permaweb/ao-core-libs';

const [url, jwkFile, mode, method, path, ...pairs] = process.argv.slice(2);
const jwk = JSON.parse(readFileSync(jwkFile, 'utf8'));
const fields = Object.fromEntries(pairs.map((p) => {
  const at = p.indexOf('=');
  return [p.slice(0, at), p.slice(at + 1)];
}));

const realFetch = globalThis.fetch;
const sent = [];
globalThis.fetch = async (target, init) => {
  if (mode === 'tamper') {
    const headers = new Headers(init.headers);
    const first = Object.keys(fields)[0];
    headers.set(first, `${headers.get(first)}0`);
    init = { ...init, headers };
  }
  sent.push([target, init]);
  return realFetch(target, init);
};

const report = async (response) => {
  console.log(JSON.stringify({ status: response.status, body: await response.text() }));
};

const { request } = core.init({ jwk, url });
await report(await request({ path, method, ...fields }));
if (mode === 'replay') {
  const [target, init] = sent[0];
  await report(await realFetch(target, init));
}
