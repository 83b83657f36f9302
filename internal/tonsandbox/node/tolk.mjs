// tolk.mjs: compiles one Tolk contract with the pinned @ton/tolk-js and
// prints {"codeBoc64", "codeHashHex", "tolkVersion"} as one JSON line.
//
//   node tolk.mjs path/to/contract.tolk
//
// Imports are read relative to the contract's directory; @stdlib/ comes
// from the compiler package itself.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { runTolkCompiler, getTolkCompilerVersion } from '@ton/tolk-js';

const file = process.argv[2];
if (!file) {
  console.error('usage: node tolk.mjs contract.tolk');
  process.exit(2);
}
const dir = dirname(resolve(file));
const entry = resolve(file).slice(dir.length + 1);
const result = await runTolkCompiler({
  entrypointFileName: entry,
  fsReadCallback: (path) => readFileSync(resolve(dir, path), 'utf-8'),
  withStackComments: false,
});
if (result.status === 'error') {
  console.error(result.message);
  process.exit(1);
}
process.stdout.write(
  JSON.stringify({ codeBoc64: result.codeBoc64, codeHashHex: result.codeHashHex, tolkVersion: await getTolkCompilerVersion() }) + '\n',
);
