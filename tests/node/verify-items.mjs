// Verifies ANS-104 data items with AO's JavaScript libraries: each file named on the command
// line holds one item's bytes. For each, prints one JSON line
//   {"file", "arbundles": bool, "arweave": bool, "id"}
// where `arbundles` is `DataItem.verify` (the check AO's MU and SU tooling apply) and `arweave`
// is arweave-js' RSA-PSS verification of the raw signature over the item's deep hash.
import { readFileSync } from 'node:fs';
import Arweave from 'arweave';
import { DataItem } from '@dha-team/arbundles';

for (const file of process.argv.slice(2)) {
  const bytes = readFileSync(file);
  let line = { file, arbundles: false, arweave: false, id: null };
  try {
    line.arbundles = await DataItem.verify(bytes);
    const item = new DataItem(bytes);
    const data = await item.getSignatureData();
    line.arweave = await Arweave.crypto.verify(item.owner, data, item.rawSignature);
    line.id = item.id;
  } catch (e) {
    line.error = String(e);
  }
  console.log(JSON.stringify(line));
}
