// A test AO router: takes route registrations at POST /~router@1.0/routes the way HyperBEAM's
// dev_router.erl does with no registrar: the route is added only when a signer of the request
// is one of the route owners. Used by tests/router_cli.rs.
//
//   [PORT=N] node router.mjs OWNER_ADDRESS...
//
// The signature is checked with `http-message-signatures` (the RFC 9421 library AO's own
// ao-core-libs signs with), the body against its content-digest, and the multipart body is
// read as HyperBEAM's httpsig codec writes it: one part per nested message, its keys as the
// part's header fields, their types in `ao-types`. Prints `listening PORT` first; GET
// /~router@1.0/routes answers the routes added, as JSON.
import { createHash, createPublicKey, verify, constants } from 'node:crypto';
import { createServer } from 'node:http';
import { httpbis } from 'http-message-signatures';

const owners = process.argv.slice(2);
const routes = [];
let posts = 0;

const b64url = (bytes) => Buffer.from(bytes).toString('base64url');

// The keyid is the signer's RSA modulus; its address is the SHA-256 of it.
async function keyLookup(params) {
  const modulus = Buffer.from(params.keyid, 'base64url');
  const key = createPublicKey({ key: { kty: 'RSA', n: b64url(modulus), e: 'AQAB' }, format: 'jwk' });
  const address = b64url(createHash('sha256').update(modulus).digest());
  return {
    id: params.keyid,
    algs: ['rsa-pss-sha512'],
    verify: async (data, signature) => {
      const ok = verify('sha512', data, {
        key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO,
      }, signature);
      if (ok) signers.push(address);
      return ok;
    },
  };
}
let signers = [];

// `--B\r\n<part>\r\n--B--`: the parts' header fields as nested messages, typed by `ao-types`.
function nestedMessages(contentType, body) {
  const boundary = /boundary="?([^";]+)"?/.exec(contentType)?.[1];
  if (!boundary) throw new Error('not multipart');
  const text = body.toString('utf8');
  const end = `\r\n--${boundary}--`;
  if (!text.startsWith(`--${boundary}\r\n`) || !text.endsWith(end)) throw new Error('bad multipart framing');
  const parts = text.slice(boundary.length + 4, -end.length).split(`\r\n--${boundary}\r\n`);
  const messages = {};
  for (const part of parts) {
    const fields = Object.fromEntries(part.split('\r\n').map((line) => {
      const at = line.indexOf(': ');
      return [line.slice(0, at), line.slice(at + 2)];
    }));
    const name = /name="([^"]+)"/.exec(fields['content-disposition'] ?? '')?.[1];
    if (!name) throw new Error('a part has no name');
    const types = Object.fromEntries((fields['ao-types'] ?? '').split(',').filter(Boolean)
      .map((t) => t.trim().split('=')).map(([k, v]) => [k, JSON.parse(v)]));
    const message = {};
    for (const [k, v] of Object.entries(fields)) {
      if (k === 'content-disposition' || k === 'ao-types') continue;
      message[k] = types[k] === 'integer' ? Number.parseInt(v, 10) : v;
    }
    messages[name] = message;
  }
  return messages;
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const body = Buffer.concat(chunks);
    const answer = (status, text) => { res.writeHead(status, { 'content-type': 'text/plain' }); res.end(text); };
    if (req.method === 'GET' && req.url === '/~router@1.0/routes') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ routes, posts }));
      return;
    }
    if (req.method !== 'POST' || req.url !== '/~router@1.0/routes') return answer(404, 'not_found');
    posts += 1;
    try {
      signers = [];
      const verified = await httpbis.verifyMessage({ keyLookup }, {
        method: req.method, url: `http://${req.headers.host}${req.url}`, headers: req.headers,
      });
      const digest = `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
      if (!verified || req.headers['content-digest'] !== digest) return answer(400, 'invalid signature');
      if (!signers.some((s) => owners.includes(s))) return answer(400, 'not_authorized');
      const { route } = nestedMessages(req.headers['content-type'], body);
      if (req.headers.subject !== 'self' || req.headers.action !== 'register' || !route) {
        return answer(400, 'not a registration');
      }
      routes.push({ ...route, signers });
      answer(200, 'Route added.');
    } catch (e) {
      answer(400, `bad request: ${e.message}`);
    }
  });
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => console.log(`listening ${server.address().port}`));
