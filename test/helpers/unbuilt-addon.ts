import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

/**
 * A `--require` preload, written into `dir`, that makes every module whose name ends in `suffix` fail to
 * load as an addon npm never built does (MODULE_NOT_FOUND); with `say`, each refusal also writes that line
 * to stderr, so a test can tell the addon was asked for. Returns the preload's path.
 */
export async function unbuiltAddonPreload(dir: string, suffix: string, say?: string): Promise<string> {
  const preload = path.join(dir, `unbuilt-${path.basename(suffix, '.node')}.js`);
  const announce = say === undefined ? '' : `process.stderr.write(${JSON.stringify(`${say}\n`)});\n    `;
  await fsp.writeFile(
    preload,
    `const Module = require('node:module');
const load = Module._load;
Module._load = function (request, ...rest) {
  if (request.endsWith(${JSON.stringify(suffix)})) {
    ${announce}throw Object.assign(new Error("Cannot find module '" + request + "'"), { code: 'MODULE_NOT_FOUND' });
  }
  return load.call(this, request, ...rest);
};
`,
  );
  return preload;
}
