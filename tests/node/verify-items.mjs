// Verifies ANS-104 data items with AO's JavaScript libraries; each file named on the command
// line holds one item's bytes. Prints one JSON line per item:
//   {file, id, signature_type, owner, verified, arbundles, arweave}
// `verified` (also as `arbundles`) is arbundles 0.11.2's `DataItem.verify`, the check AO's MU
// and SU tooling apply; `arweave` is arweave-js' RSA-PSS verification of the raw signature over
// the item's deep hash (type 1 only; false for other types). Used by tests/ans104.rs.
import { readFileSync } from 'node:fs';
import Arweave from 'arweave';
import * as ab from 'arbundles';

const { DataItem } = ab;
for (const file of process.argv.slice(2)) {
  const raw = readFileSync(file);
  let line;
  try {
    const item = new DataItem(raw);
    const verified = await DataItem.verify(raw);
    let arweave = false;
    if (item.signatureType === 1) {
      const data = await item.getSignatureData();
      arweave = await Arweave.crypto.verify(item.owner, data, item.rawSignature);
    }
    line = {
      file, id: item.id, signature_type: item.signatureType, owner: item.owner,
      verified, arbundles: verified, arweave,
    };
  } catch (e) {
    line = { file, error: String(e && e.message ? e.message : e) };
  }
  console.log(JSON.stringify(line));
}
