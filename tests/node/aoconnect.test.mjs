// AO's own JavaScript client against a running aocu node: the definition of done of issue 4.
//
// Environment (set by tests/aoconnect.rs):
//   MU_URL, CU_URL, GATEWAY_URL  the node (all three may be the same URL)
//   AOCU_MODULE_ID               the 43-character ID of the AOS module the node holds
//   AOCU_SCHEDULER               optional: the node's scheduler address; when unset it is read
//                                from the CU's `GET /` (`address`)
//
// It generates a fresh Arweave RSA-4096 wallet, checks the node's gateway the way AO's libraries
// look things up (module tags, the scheduler's `Scheduler-Location`), spawns a process, sends
// Eval messages, reads every result, pages through `results`, and dry-runs. Any mismatch ends the
// run with exit status 1 and a message that says what was expected and what came back.

import assert from 'node:assert/strict';
import Arweave from 'arweave';
import { connect, createDataItemSigner } from '@permaweb/aoconnect';
import { connect as schedulerUtils } from '@permaweb/ao-scheduler-utils';

const EVALS = 10;
const ID = /^[A-Za-z0-9_-]{43}$/;

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set`);
  return value;
}

const trimSlash = (url) => url.replace(/\/+$/, '');

/** Run one step; on failure say which step failed, then rethrow. */
async function step(name, fn) {
  const started = Date.now();
  try {
    const value = await fn();
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
    return value;
  } catch (err) {
    err.message = `${name}: ${err.message}`;
    throw err;
  }
}

/** The text of an AO `Output`: AOS answers `{data, prompt, ...}`; some modules a bare string. */
function outputText(output) {
  if (output !== null && typeof output === 'object') return output.data === undefined ? undefined : String(output.data);
  return output === undefined ? undefined : String(output);
}

/** Check the shape every CU result has and that evaluation did not fail. */
function checkResult(what, res) {
  assert.ok(res && typeof res === 'object', `${what}: not an object: ${JSON.stringify(res)}`);
  assert.ok(res.error === undefined, `${what}: the CU answered an error: ${JSON.stringify(res)}`);
  assert.ok(Array.isArray(res.Messages), `${what}: Messages is not an array: ${JSON.stringify(res)}`);
  assert.ok(Array.isArray(res.Spawns), `${what}: Spawns is not an array: ${JSON.stringify(res)}`);
  assert.ok(res.Error === undefined || res.Error === null || res.Error === '',
    `${what}: evaluation failed: ${JSON.stringify(res.Error)}`);
}

/** The Lua for Eval number k (1-based): add k to a global and return it. */
const evalCode = (k) => `Counter = (Counter or 0) + ${k}\nreturn Counter`;
/** What Eval k returns: 1 + 2 + ... + k. */
const expectedAfter = (k) => String((k * (k + 1)) / 2);

async function main() {
  const MU_URL = trimSlash(env('MU_URL'));
  const CU_URL = trimSlash(env('CU_URL'));
  const GATEWAY_URL = trimSlash(env('GATEWAY_URL'));
  const moduleId = env('AOCU_MODULE_ID');
  assert.match(moduleId, ID, 'AOCU_MODULE_ID is not a 43-character ID');

  const arweave = Arweave.init({});
  const jwk = await step('generate an Arweave RSA-4096 wallet', () => arweave.wallets.generate());
  const wallet = await arweave.wallets.jwkToAddress(jwk);
  const signer = createDataItemSigner(jwk);

  const scheduler = process.env.AOCU_SCHEDULER || await step('read the node address (CU GET /)', async () => {
    const res = await fetch(`${CU_URL}/`, { headers: { Accept: 'application/json' } });
    assert.equal(res.status, 200, `GET ${CU_URL}/ answered ${res.status}`);
    const body = await res.json();
    assert.match(String(body.address), ID, `GET / has no address: ${JSON.stringify(body)}`);
    return body.address;
  });

  // The gateway as ao-scheduler-utils uses it: the scheduler's Scheduler-Location record.
  const su = schedulerUtils({ GRAPHQL_URL: `${GATEWAY_URL}/graphql`, cacheSize: 0 });
  await step('gateway: the scheduler has a Scheduler-Location', async () => {
    assert.equal(await su.validate(scheduler), true, `no Scheduler-Location for ${scheduler}`);
    const raw = await su.raw(scheduler);
    assert.equal(trimSlash(raw?.url ?? ''), MU_URL, `Scheduler-Location Url is ${raw?.url}`);
  });

  const ao = connect({ MODE: 'legacy', MU_URL, CU_URL, GATEWAY_URL });

  // What spawn asks first (aoconnect's own query, as it sends it), checked here so that a
  // failure names the gateway rather than aoconnect's schema validation.
  await step('gateway: the module and its AO tags', async () => {
    const res = await fetch(`${GATEWAY_URL}/graphql`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        query: `query GetTransactions ($transactionIds: [ID!]!) {
          transactions(ids: $transactionIds) {
            edges { node { owner { address } tags { name value } block { id height timestamp } } }
          }
        }`,
        variables: { transactionIds: [moduleId] },
      }),
    });
    assert.equal(res.status, 200, `POST /graphql answered ${res.status}: ${await res.clone().text()}`);
    const node = (await res.json())?.data?.transactions?.edges?.[0]?.node;
    assert.ok(node, `the gateway does not know module ${moduleId}`);
    const tag = (name) => node.tags.find((t) => t.name === name)?.value;
    assert.equal(tag('Data-Protocol'), 'ao');
    assert.equal(tag('Type'), 'Module');
    for (const name of ['Module-Format', 'Input-Encoding', 'Output-Encoding']) {
      assert.ok(tag(name), `the module has no ${name} tag`);
    }
  });

  // spawn: aoconnect first reads the module's tags from GATEWAY_URL/graphql.
  const processId = await step('spawn', () => ao.spawn({
    module: moduleId,
    scheduler,
    signer,
    tags: [{ name: 'Name', value: 'aoconnect-test' }],
  }));
  assert.match(processId, ID, `spawn returned ${processId}`);

  // The gateway also knows the process (ao-scheduler-utils looks up its Scheduler tag this way).
  await step('gateway: the process and its tags', async () => {
    const res = await fetch(`${GATEWAY_URL}/graphql`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        query: `query ($ids: [ID!]!) {
          transactions(ids: $ids, tags: [{ name: "Data-Protocol", values: ["ao"] }]) {
            edges { node { id owner { address } tags { name value } } }
          }
        }`,
        variables: { ids: [processId] },
      }),
    });
    assert.equal(res.status, 200, `POST /graphql answered ${res.status}: ${await res.clone().text()}`);
    const node = (await res.json())?.data?.transactions?.edges?.[0]?.node;
    assert.ok(node, `the gateway does not know process ${processId}`);
    assert.equal(node.id, processId);
    assert.equal(node.owner?.address, wallet);
    const tag = (name) => node.tags.find((t) => t.name === name)?.value;
    assert.equal(tag('Type'), 'Process');
    assert.equal(tag('Module'), moduleId);
    assert.equal(tag('Scheduler'), scheduler);
  });

  const messageIds = [];
  for (let k = 1; k <= EVALS; k++) {
    const id = await step(`message ${k} (Eval)`, () => ao.message({
      process: processId,
      signer,
      tags: [{ name: 'Action', value: 'Eval' }],
      data: evalCode(k),
    }));
    assert.match(id, ID, `message ${k} returned ${id}`);
    messageIds.push(id);
  }
  assert.equal(new Set(messageIds).size, EVALS, 'message IDs are not distinct');

  for (let k = 1; k <= EVALS; k++) {
    await step(`result of message ${k}`, async () => {
      const res = await ao.result({ process: processId, message: messageIds[k - 1] });
      checkResult(`result ${k}`, res);
      assert.equal(outputText(res.Output), expectedAfter(k),
        `result ${k}: Output ${JSON.stringify(res.Output)}, expected data ${expectedAfter(k)}`);
    });
  }

  // results: the spawn (slot 0) and the Evals, in slot order, with cursors that page.
  const all = await step('results (ASC)', async () => {
    const { edges } = await ao.results({ process: processId, sort: 'ASC', limit: 100 });
    assert.equal(edges.length, EVALS + 1, `expected ${EVALS + 1} results (spawn + Evals), got ${edges.length}`);
    edges.forEach((edge, i) => {
      checkResult(`results[${i}]`, edge.node);
      if (i > 0) {
        assert.equal(outputText(edge.node.Output), expectedAfter(i),
          `results[${i}]: Output ${JSON.stringify(edge.node.Output)}, expected data ${expectedAfter(i)}`);
      }
    });
    assert.equal(new Set(edges.map((e) => e.cursor)).size, edges.length, 'results cursors are not distinct');
    return edges;
  });

  await step('results (DESC) is the reverse', async () => {
    const { edges } = await ao.results({ process: processId, sort: 'DESC', limit: 100 });
    assert.deepEqual(edges.map((e) => e.cursor), all.map((e) => e.cursor).reverse());
  });

  await step('results pages: limit, then from (exclusive) and to (inclusive)', async () => {
    const first = await ao.results({ process: processId, sort: 'ASC', limit: 4 });
    assert.deepEqual(first.edges.map((e) => e.cursor), all.slice(0, 4).map((e) => e.cursor));
    const rest = await ao.results({ process: processId, sort: 'ASC', from: first.edges[3].cursor, limit: 100 });
    assert.deepEqual(rest.edges.map((e) => e.cursor), all.slice(4).map((e) => e.cursor));
    const middle = await ao.results({ process: processId, from: all[2].cursor, to: all[5].cursor, limit: 100 });
    assert.deepEqual(middle.edges.map((e) => e.cursor), all.slice(3, 6).map((e) => e.cursor));
  });

  // dryrun: sees the latest state, and persists nothing. Owner is the process owner so that
  // AOS runs the Eval (it ignores Evals from anyone else); aoconnect's default Owner is "1234".
  const sum = expectedAfter(EVALS);
  await step('dryrun sees the latest state', async () => {
    const res = await ao.dryrun({
      process: processId,
      Owner: wallet,
      tags: [{ name: 'Action', value: 'Eval' }],
      data: 'return Counter',
    });
    checkResult('dryrun', res);
    assert.equal(outputText(res.Output), sum, `dryrun Output ${JSON.stringify(res.Output)}, expected data ${sum}`);
  });

  await step('a dryrun that changes state persists nothing', async () => {
    const dry = await ao.dryrun({
      process: processId,
      Owner: wallet,
      tags: [{ name: 'Action', value: 'Eval' }],
      data: 'Counter = Counter + 1000\nreturn Counter',
    });
    checkResult('mutating dryrun', dry);
    assert.equal(outputText(dry.Output), String(Number(sum) + 1000));
    const id = await ao.message({ process: processId, signer, tags: [{ name: 'Action', value: 'Eval' }], data: 'return Counter' });
    const res = await ao.result({ process: processId, message: id });
    checkResult('result after the dryrun', res);
    assert.equal(outputText(res.Output), sum, `after a dryrun, Output ${JSON.stringify(res.Output)}, expected data ${sum}`);
  });

  console.log(`aoconnect: all checks passed (process ${processId})`);
}

main().catch((err) => {
  console.error(`aoconnect test FAILED: ${err.message}`);
  if (process.env.AOCU_TEST_VERBOSE) console.error(err.stack);
  process.exit(1);
});
