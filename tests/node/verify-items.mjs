// Reads ANS-104 items (file paths as arguments) and prints, per item, what arbundles 0.11.2
// says of it: one JSON line {file, id, signature_type, owner, verified}. Used by
// tests/ans104.rs to check items that aocu signed against AO's reference library.
import fs from 'node:fs';
import * as ab from 'arbundles';

const { DataItem } = ab;
for (const file of process.argv.slice(2)) {
  const raw = fs.readFileSync(file);
  let line;
  try {
    const item = new DataItem(raw);
    const verified = await DataItem.verify(raw);
    line = { file, id: item.id, signature_type: item.signatureType, owner: item.owner, verified };
  } catch (e) {
    line = { file, error: String(e && e.message ? e.message : e) };
  }
  console.log(JSON.stringify(line));
}
