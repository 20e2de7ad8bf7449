// Checkpoint data items as AO's Node CU writes and finds them on Arweave.
//
// `node checkpoint-item.mjs build WALLET.json MEMORY META.json OUT` builds one the way the Node
// CU's saveCheckpoint does (servers/cu src/effects/ao-process.js and wasm.js): the memory
// gzipped at level 9, `SHA-256` the hex of the uncompressed memory, the Node CU's tags in its
// order (META: {process, module, nonce, timestamp, blockHeight, assignment?, hashChain?,
// epoch?}), signed with arbundles' ArweaveSigner; prints {id}.
//
// Otherwise each file named on the command line holds one item's bytes; prints one JSON line
// per item:
//   {file, id, verified, owner, tags: [{name, value}], memoryBytes, memorySha256}
// `verified` is arbundles 0.11.2's `DataItem.verify`; the memory is the data gunzipped with
// Node's zlib (the Node CU gunzips what `/raw/<id>` serves when `Content-Encoding` is gzip) and
// hashed with Node's crypto (hex, as the `SHA-256` tag is written). Used by tests/checkpoint_cli.rs.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as ab from 'arbundles';

const { DataItem } = ab;

async function build ([walletFile, memoryFile, metaFile, out]) {
  const jwk = JSON.parse(readFileSync(walletFile, 'utf8'));
  const memory = readFileSync(memoryFile);
  const meta = JSON.parse(readFileSync(metaFile, 'utf8'));
  const { gzipSync, constants } = await import('node:zlib');
  const data = gzipSync(memory, { level: constants.Z_BEST_COMPRESSION });
  const tags = [
    { name: 'Data-Protocol', value: 'ao' },
    { name: 'Variant', value: 'ao.TN.1' },
    { name: 'Type', value: 'Checkpoint' },
    { name: 'Module', value: meta.module.trim() },
    { name: 'Process', value: meta.process.trim() },
    { name: 'Nonce', value: String(meta.nonce) },
    { name: 'Timestamp', value: String(meta.timestamp) },
    { name: 'Block-Height', value: String(meta.blockHeight) },
    { name: 'Content-Type', value: 'application/octet-stream' },
    { name: 'SHA-256', value: createHash('sha256').update(memory).digest('hex') },
    { name: 'Content-Encoding', value: 'gzip' },
    { name: 'Unit-Identifier', value: randomUUID() },
    { name: 'Ordinate', value: String(meta.nonce) }
  ];
  // Falsy values are left out, as the Node CU leaves them out.
  if (meta.assignment) tags.push({ name: 'Assignment', value: meta.assignment });
  if (meta.hashChain) tags.push({ name: 'Hash-Chain', value: meta.hashChain });
  if (meta.epoch) tags.push({ name: 'Epoch', value: String(meta.epoch) });
  const signer = new ab.ArweaveSigner(jwk);
  const item = ab.createData(data, signer, { tags });
  await item.sign(signer);
  writeFileSync(out, item.getRaw());
  console.log(JSON.stringify({ id: item.id }));
}

if (process.argv[2] === 'build') {
  await build(process.argv.slice(3));
  process.exit(0);
}
for (const file of process.argv.slice(2)) {
  let line;
  try {
    const raw = readFileSync(file);
    const item = new DataItem(raw);
    const verified = await DataItem.verify(raw);
    const memory = gunzipSync(item.rawData);
    line = {
      file, id: item.id, verified, owner: item.owner, tags: item.tags,
      memoryBytes: memory.length,
      memorySha256: createHash('sha256').update(memory).digest('hex'),
    };
  } catch (e) {
    line = { file, error: String(e && e.message ? e.message : e) };
  }
  console.log(JSON.stringify(line));
}
