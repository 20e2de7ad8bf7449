// Reads checkpoint data items as AO's Node CU would find them on Arweave: each file named on
// the command line holds one item's bytes. Prints one JSON line per item:
//   {file, id, verified, owner, tags: [{name, value}], memoryBytes, memorySha256}
// `verified` is arbundles 0.11.2's `DataItem.verify`; the memory is the data gunzipped with
// Node's zlib (the Node CU gunzips what `/raw/<id>` serves when `Content-Encoding` is gzip) and
// hashed with Node's crypto (hex, as the `SHA-256` tag is written). Used by tests/checkpoint_cli.rs.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import * as ab from 'arbundles';

const { DataItem } = ab;
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
