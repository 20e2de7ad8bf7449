// Reference evaluator for WeaveDrive tests: runs a process's messages through
// AO's own JavaScript loader (@permaweb/ao-loader) with the WeaveDrive
// extension (@permaweb/weavedrive), building the loader options and threading
// memory the way AO's Node CU does (servers/cu: loadModule.js
// setModuleOptionsWith, effects/worker/evaluate.js loadInstance/mergeOutput,
// effects/wasm.js bootstrapWasmInstanceWith). A Rust test compares aocu's
// results with the lines this prints.
//
// Usage: node --experimental-wasm-memory64 weavedrive-reference.mjs CASE.json
//
// CASE.json: { "wasm": "/abs/module.wasm", "gateway": "http://127.0.0.1:PORT",
//   "process": {Id, Owner, Tags}, "module": {Id, Owner, Tags},
//   "messages": [ {Id, Owner, From, Target, Data, Tags, Module, "Block-Height", Timestamp, ...} ],
//   "timeoutSeconds": 150 (optional) }
//
// Prints one JSON line per message on stdout:
//   {"ok":true,"Output":...,"Error":...|null,"Messages":[...],"Spawns":[...],"Assignments":[...]}
//   {"ok":false,"error":"<message>"}   (evaluation threw or rejected; "timeout" if it never settled)
// Exit status 0 once every message has a line; 2 on a bad case file or a loader that cannot start.

import { readFile } from 'node:fs/promises'
import AoLoader from '@permaweb/ao-loader'
import WeaveDrive from '@permaweb/weavedrive'

const WASM_64_FORMAT = 'wasm64-unknown-emscripten-draft_2024_02_15'
const DEFAULT_MEMORY_LIMIT = 1024 * 1024 * 1024
const DEFAULT_COMPUTE_LIMIT = 9e12

// The loader swaps these during evaluation and leaves them swapped when handle() throws.
const realLog = console.log
const realRandom = Math.random

const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')
const die = (msg) => { process.stderr.write(`weavedrive-reference: ${msg}\n`); process.exit(2) }

// Same shape as the CU's parseTags: one value, or an array for repeated names.
function parseTags (tags) {
  const map = {}
  for (const { name, value } of tags || []) (map[name] ||= []).push(value)
  for (const k of Object.keys(map)) if (map[k].length === 1) map[k] = map[k][0]
  return map
}

// What the `bytes` package's parse() does (1024-based units), after the CU's replace('-', '').
function parseBytes (val) {
  if (typeof val === 'number') return val
  const m = /^((-|\+)?(\d+(?:\.\d+)?)) *(kb|mb|gb|tb|pb)$/i.exec(val)
  const units = { b: 1, kb: 1 << 10, mb: 1 << 20, gb: 1 << 30, tb: 2 ** 40, pb: 2 ** 50 }
  const n = m ? parseFloat(m[1]) : parseInt(val, 10)
  if (Number.isNaN(n)) return undefined
  return Math.floor(units[m ? m[4].toLowerCase() : 'b'] * n)
}

function moduleOptionsFor (kase) {
  const processTags = parseTags(kase.process.Tags)
  const moduleTags = parseTags(kase.module.Tags)
  const memoryTag = processTags['Memory-Limit'] ?? moduleTags['Memory-Limit']
  const computeTag = processTags['Compute-Limit'] ?? moduleTags['Compute-Limit']
  const extNames = [].concat(moduleTags.Extension ?? [])
  const extensions = {}
  for (const ext of extNames) {
    extensions[ext] = kase.module.Tags
      .filter((t) => t.name.startsWith(ext))
      .map((t) => ({ name: t.name.substring(ext.length + 1), value: t.value }))
  }
  return {
    format: moduleTags['Module-Format'],
    inputEncoding: moduleTags['Input-Encoding'],
    outputEncoding: moduleTags['Output-Encoding'],
    memoryLimit: (memoryTag && parseBytes(String(memoryTag).replace('-', ''))) || DEFAULT_MEMORY_LIMIT,
    computeLimit: (computeTag && parseInt(computeTag)) || DEFAULT_COMPUTE_LIMIT,
    extensions,
    mode: processTags['Availability-Type'] ?? moduleTags['Availability-Type'] ?? 'Assignments',
    spawn: { id: kase.process.Id, owner: kase.process.Owner, tags: kase.process.Tags },
    module: { id: kase.module.Id, owner: kase.module.Owner, tags: kase.module.Tags },
    blockHeight: 100,
    // loadInstance merges the extension apis in; for wasm64 the CU always adds WeaveDrive.
    WeaveDrive,
    ARWEAVE: kase.gateway
  }
}

const errorText = (e) =>
  e instanceof Error ? e.message : typeof e === 'string' ? e : JSON.stringify(e) ?? String(e)

// Unhandled rejections (e.g. "HALT: FILE NOT FOUND" thrown inside Asyncify.handleAsync,
// whose handle() promise then never settles) fail the message being evaluated.
let failCurrent = null
process.on('unhandledRejection', (reason) => { if (failCurrent) failCurrent(reason) })

const caseFile = process.argv[2]
if (!caseFile) die('usage: node --experimental-wasm-memory64 weavedrive-reference.mjs CASE.json')
let kase
try { kase = JSON.parse(await readFile(caseFile, 'utf8')) } catch (e) { die(`cannot read ${caseFile}: ${errorText(e)}`) }
for (const k of ['wasm', 'gateway', 'process', 'module', 'messages']) if (!kase[k]) die(`case file lacks "${k}"`)
const timeoutMs = (kase.timeoutSeconds ?? 150) * 1000

let wasmModule
try { wasmModule = await WebAssembly.compile(await readFile(kase.wasm)) } catch (e) { die(`cannot compile ${kase.wasm}: ${errorText(e)}`) }

// bootstrapWasmInstanceWith: a fresh options object each time (the loader mutates it).
const newInstance = () => AoLoader(
  (info, receiveInstance) => WebAssembly.instantiate(wasmModule, info).then(receiveInstance),
  moduleOptionsFor(kase)
)

const env = {
  Process: { Id: kase.process.Id, Owner: kase.process.Owner, Tags: kase.process.Tags },
  Module: { Id: kase.module.Id, Owner: kase.module.Owner, Tags: kase.module.Tags }
}

let handle = null
let memory = null
for (const message of kase.messages) {
  let timer
  try {
    if (!handle) handle = await newInstance()
    const result = await new Promise((resolve, reject) => {
      failCurrent = reject
      timer = setTimeout(() => reject(new Error('timeout')), timeoutMs)
      // The CU hands the loader a view of the previous Memory (null for a fresh process).
      const mem = memory == null ? null : ArrayBuffer.isView(memory) ? memory : new Uint8Array(memory)
      Promise.resolve().then(() => handle(mem, message, env)).then(resolve, reject)
    })
    // mergeOutput: an Error result, or old modules' buffer-allocation failure, keeps the
    // previous memory; an Error result also drops the instance.
    const out = typeof result.Output === 'string' ? result.Output
      : (result.Output && typeof result.Output === 'object') ? (result.Output?.data?.output ?? '') : ''
    if (result.Error) handle = null
    else if (!(typeof out === 'string' && out.endsWith('not enough memory for buffer allocation'))) {
      memory = result.Memory ?? memory
    }
    emit({
      ok: true,
      Output: result.Output ?? null,
      Error: result.Error ?? null,
      Messages: result.Messages ?? [],
      Spawns: result.Spawns ?? [],
      Assignments: result.Assignments ?? []
    })
  } catch (e) {
    // The instance may be stuck mid-Asyncify: start a new one from the previous memory.
    handle = null
    emit({ ok: false, error: errorText(e) })
  } finally {
    clearTimeout(timer)
    failCurrent = null
    console.log = realLog
    Math.random = realRandom
  }
}

// Pending WeaveDrive retries or a stuck evaluation must not keep node running.
process.stdout.write('', () => process.exit(0))
