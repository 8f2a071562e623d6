#!/usr/bin/env node
// A native-CLI-compatible front for the official Solidity compiler's JS build (npm `solc`).
//
// py-solc-x (used by ape-solidity) and ezkl (via svm) expect a native `solc` binary; none exists on
// PyPI or Debian. They call only `solc --version` and `solc --standard-json [--base-path P]
// [--allow-paths ...]` with the standard-JSON input on stdin, so this script answers exactly those.
// Installed by `make toolchain` (tools/install_solc_shim.py); never edited per machine.
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require('solc');

function writeAll(fd, text) {
  // process.stdout.write + exit truncates large outputs at 64 KB: write synchronously, in a loop.
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
    }
  }
}

function argValue(args, name) {
  const i = args.indexOf(name);
  if (i >= 0 && i + 1 < args.length) return args[i + 1];
  const eq = args.find((a) => a.startsWith(name + '='));
  return eq ? eq.slice(name.length + 1) : null;
}

const args = process.argv.slice(2);
if (args.includes('--version')) {
  // Same shape as the native binary's answer; py-solc-x parses "Version: X.Y.Z".
  writeAll(1, 'solc, the solidity compiler commandline interface\nVersion: ' + solc.version() + '\n');
  process.exit(0);
}
if (!args.includes('--standard-json')) {
  writeAll(2, 'solc-shim: only --version and --standard-json are supported (got: ' + args.join(' ') + ')\n');
  process.exit(1);
}
const basePath = argValue(args, '--base-path') || process.cwd();
const allowed = [basePath, ...(argValue(args, '--allow-paths') || '').split(',').filter(Boolean)]
  .map((p) => path.resolve(p));
const input = fs.readFileSync(0, 'utf8');

function findImports(importPath) {
  const candidates = path.isAbsolute(importPath)
    ? [importPath]
    : allowed.map((root) => path.join(root, importPath));
  for (const file of candidates) {
    const resolved = path.resolve(file);
    if (!allowed.some((root) => resolved === root || resolved.startsWith(root + path.sep))) continue;
    if (fs.existsSync(resolved)) return { contents: fs.readFileSync(resolved, 'utf8') };
  }
  return { error: 'File not found inside the allowed paths: ' + importPath };
}

writeAll(1, solc.compile(input, { import: findImports }));
process.exit(0);
