// Makes an ANS-104 bundle of already-signed data items with arbundles 0.11.2
// (`bundleAndSignData` keeps each item's signature), or reads one back.
//   node bundle-items.mjs make OUT ITEM...   writes OUT, prints {ids, verified}
//   node bundle-items.mjs check BUNDLE       prints {ids, verified, items: [verified...]}
// `verified` is `Bundle.verify()`; per item `DataItem.verify` of its bytes. Used by
// tests/verify_cli.rs.
import { readFileSync, writeFileSync } from 'node:fs';
import * as ab from 'arbundles';

const { DataItem, Bundle, bundleAndSignData } = ab;
const [mode, ...rest] = process.argv.slice(2);
if (mode === 'make') {
  const [out, ...files] = rest;
  const items = files.map((f) => {
    const item = new DataItem(readFileSync(f));
    // A parsed item is signed, but arbundles only knows it once its ID is set.
    item.rawId = item.rawId;
    return item;
  });
  const bundle = await bundleAndSignData(items, undefined);
  writeFileSync(out, bundle.getRaw());
  console.log(JSON.stringify({ ids: bundle.getIds(), verified: await bundle.verify() }));
} else if (mode === 'check') {
  const bundle = new Bundle(readFileSync(rest[0]));
  const items = [];
  for (const item of bundle.items) items.push(await DataItem.verify(item.getRaw()));
  let verified;
  try { verified = await bundle.verify(); } catch (e) { verified = false; }
  console.log(JSON.stringify({ ids: bundle.getIds(), verified, items }));
} else {
  console.error('usage: bundle-items.mjs make OUT ITEM... | check BUNDLE');
  process.exit(2);
}
