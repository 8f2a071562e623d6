// Writes frontend/src/generated/contracts.js, the contracts' ABIs and enums for the web UI, from ape's compiled
// artifacts (.build/__local__.json, written by `ape compile`): nothing about the contracts is typed twice.
// - ABIs: the compiled contract types' ABIs, reduced to the functions and events frontend/src/contract-calls.js
//   names, without the fields viem does not read (the bundle carries only what the pages use); a name the
//   compiled ABI lacks fails the build.
// - Enums: the ABIs give enum values as uint8 with an `internalType` such as `enum IRoundManager.Phase`, not the
//   member names, so those come from the enum definitions in the Solidity source the artifacts were compiled from
//   (kept in the manifest), parsed by the official compiler (solc-js, parsing only).
// Run by frontend/build.mjs; `node frontend/gen-contracts.mjs [--manifest PATH] [--out PATH]` runs it alone.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import solc from 'solc';
import { CALLS, RULE_VERIFIER, eventsOf, functionsOf } from './src/contract-calls.js';

const here = dirname(fileURLToPath(import.meta.url));
const ROOT = join(here, '..');
export const MANIFEST = join(ROOT, '.build', '__local__.json');
export const OUTPUT = join(here, 'src', 'generated', 'contracts.js');
const CONTRACTS = Object.keys(CALLS); // ConsortiumRegistry, RoundManager, PredictionRegistry, IHalo2Verifier
const COMPILE = 'run `ape compile` (or `make frontend`, `make install`) first';
const shown = (path) => (relative(ROOT, path).startsWith('..') ? path : relative(ROOT, path));

/** A build failure with a message that says what to do; build.mjs prints it without a stack. */
export class BuildError extends Error {}

function loadManifest(path) {
  if (!existsSync(path)) {
    throw new BuildError(`the compiled contracts are missing (${shown(path)}): ${COMPILE}`);
  }
  const manifest = JSON.parse(readFileSync(path, 'utf8'));
  for (const name of CONTRACTS) {
    if (!manifest.contractTypes?.[name]) {
      throw new BuildError(`${shown(path)} holds no compiled ${name}: ${COMPILE}`);
    }
  }
  return manifest;
}

const stripEnd = (text) => text.replace(/\s+$/, ''); // ape stores a source with a final newline added

/**
 * Parses the sources `sourceIds` and those they import, as the manifest holds them (each must still match the file
 * on disk); returns their enums as `Container.Name` -> member names.
 */
function enumsOf(manifest, sourceIds) {
  const enums = new Map();
  const queue = [...sourceIds];
  const seen = new Set();
  while (queue.length) {
    const id = queue.shift();
    if (seen.has(id)) continue;
    seen.add(id);
    const content = manifest.sources?.[id]?.content;
    if (content === undefined) throw new BuildError(`the compiled manifest lacks the source ${id}: ${COMPILE}`);
    const onDisk = join(ROOT, id);
    if (!existsSync(onDisk) || stripEnd(readFileSync(onDisk, 'utf8')) !== stripEnd(content)) {
      throw new BuildError(`the compiled contracts are out of date: ${id} changed since \`ape compile\`: ${COMPILE}`);
    }
    const input = { language: 'Solidity', sources: { [id]: { content } }, settings: { stopAfter: 'parsing', outputSelection: { '*': { '': ['ast'] } } } };
    const out = JSON.parse(solc.compile(JSON.stringify(input)));
    const errors = (out.errors ?? []).filter((e) => e.severity === 'error');
    if (errors.length) throw new BuildError(`cannot parse ${id}: ${errors.map((e) => e.formattedMessage).join('\n')}`);
    for (const node of out.sources[id].ast.nodes) {
      if (node.nodeType === 'ImportDirective') queue.push(node.absolutePath);
      if (node.nodeType === 'EnumDefinition') enums.set(node.name, node.members.map((m) => m.name));
      if (node.nodeType === 'ContractDefinition') {
        for (const sub of node.nodes) {
          if (sub.nodeType === 'EnumDefinition') enums.set(`${node.name}.${sub.name}`, sub.members.map((m) => m.name));
        }
      }
    }
  }
  return enums;
}

/** The `enum X.Y` internal types anywhere in `items` (parameters, struct components). */
function enumTypes(items) {
  const found = new Set();
  const visit = (params) => {
    for (const p of params ?? []) {
      if (p.internalType?.startsWith('enum ')) found.add(p.internalType.slice('enum '.length));
      visit(p.components);
    }
  };
  for (const item of items) { visit(item.inputs); visit(item.outputs); }
  return found;
}

/** `abi` reduced to the named functions and events, in the ABI's order; a missing name fails the build. */
function pick(contract, abi, functions, events) {
  for (const [type, names] of [['function', functions], ['event', events]]) {
    for (const name of names) {
      const matches = abi.filter((x) => x.type === type && x.name === name);
      if (matches.length !== 1) {
        throw new BuildError(`${contract} has ${matches.length ? 'overloads of' : 'no'} ${type} \`${name}\` in its compiled ABI, `
          + 'which the UI uses: update frontend/src/contract-calls.js to the contract (or run `ape compile`)');
      }
    }
  }
  return abi.filter((x) => (x.type === 'function' && functions.includes(x.name)) || (x.type === 'event' && events.includes(x.name)))
    .map(slim);
}

/** An ABI item without what viem does not read (solc's `internalType`s, false flags, empty names): a smaller bundle. */
function slim(item) {
  const param = ({ internalType, components, indexed, name, ...p }) => ({
    ...(name && { name }), ...p, ...(indexed && { indexed }), ...(components && { components: components.map(param) }),
  });
  const { anonymous, inputs, outputs, ...rest } = item;
  return { ...rest, ...(anonymous && { anonymous }), ...(inputs && { inputs: inputs.map(param) }), ...(outputs && { outputs: outputs.map(param) }) };
}

/** The generated module's text. */
export function generate(manifest) {
  const types = CONTRACTS.map((name) => manifest.contractTypes[name]);
  const abis = Object.fromEntries(CONTRACTS.map((name, i) => [name, pick(name, types[i].abi, functionsOf(name), eventsOf(name))]));
  const definitions = enumsOf(manifest, types.map((t) => t.sourceId));
  const enums = new Map(); // short name -> [qualified name, members]
  for (const qualified of [...enumTypes(types.flatMap((t) => t.abi))].sort()) {
    const members = definitions.get(qualified);
    if (!members) throw new BuildError(`no definition of enum ${qualified} in the compiled sources: ${COMPILE}`);
    const short = qualified.split('.').at(-1);
    if (enums.has(short) && enums.get(short)[0] !== qualified) {
      throw new BuildError(`two enums are named ${short} (${enums.get(short)[0]}, ${qualified}): the UI's enum exports need distinct names`);
    }
    enums.set(short, [qualified, members]);
  }
  const rules = enums.get('AggregationRule')?.[1] ?? [];
  const unmapped = rules.filter((r) => !Object.hasOwn(RULE_VERIFIER, r)).concat(Object.keys(RULE_VERIFIER).filter((r) => !rules.includes(r)));
  if (unmapped.length) {
    throw new BuildError(`RULE_VERIFIER in frontend/src/contract-calls.js and IRoundManager.AggregationRule (${rules.join(', ')}) `
      + `disagree on ${unmapped.join(', ')}: give each rule its RoundManager verifier getter (null: no proof)`);
  }
  const lines = [
    '// GENERATED FILE: do not edit. Written by frontend/gen-contracts.mjs (run by `node frontend/build.mjs`)',
    '// from ape\'s compiled artifacts (.build/__local__.json): the ABI items named in frontend/src/contract-calls.js,',
    '// and the enums those ABIs use, with member names from the compiled Solidity source.',
    '',
    '/** Each contract type\'s ABI, reduced to the functions and events the UI uses (keys as in config.json\'s contracts). */',
    `export const abis = ${JSON.stringify(abis, null, 2)};`,
  ];
  for (const [short, [qualified, members]] of enums) {
    lines.push('', `/** ${qualified}: member names by value. */`, `export const ${short} = ${JSON.stringify(members)};`);
  }
  return `${lines.join('\n')}\n`;
}

/** Writes the generated module (only when its text changes); returns its path. */
export function writeContracts(manifestPath = MANIFEST, output = OUTPUT) {
  const text = generate(loadManifest(manifestPath));
  mkdirSync(dirname(output), { recursive: true });
  if (!existsSync(output) || readFileSync(output, 'utf8') !== text) writeFileSync(output, text);
  return output;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { manifest: { type: 'string', default: MANIFEST }, out: { type: 'string', default: OUTPUT } } });
  try {
    console.log(`wrote ${shown(writeContracts(values.manifest, values.out))}`);
  } catch (e) {
    if (!(e instanceof BuildError)) throw e;
    console.error(`frontend: ${e.message}`);
    process.exit(1);
  }
}
