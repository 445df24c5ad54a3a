import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Action } from '../context';
import { childEnv } from '../hooks';
import { DpkgExit, EXIT_ERROR, fsPath, OWN_PROG } from '../report';

/**
 * -b, -c, -e, -I, -f, -x, -X, --ctrl-tarfile, --fsys-tarfile: dpkg runs `dpkg-deb --ACTION -- ARGS` for
 * these (src/main/main.c execbackend), and so does overmerge-dpkg when dpkg-deb is installed. Without it
 * they are refused (overmerge's own `contents`, `info` and `build` commands do the common ones).
 */
export const debBackend: Action = async (ctx, args) => {
  const action = ctx.settings.action!.name;
  const program = findOnPath('dpkg-deb', ctx.io.env.PATH);
  if (!program) {
    throw new DpkgExit(`${OWN_PROG}: error: --${action} needs dpkg-deb, which is not installed (overmerge contents, info and build do the same for archives)\n`, EXIT_ERROR);
  }
  const child = spawn(program, [`--${action}`, '--', ...args.map(fsPath)], { env: childEnv(ctx), stdio: ['inherit', 'pipe', 'pipe'] });
  child.stdout.on('data', (b: Buffer) => ctx.io.stdout.write(b));
  child.stderr.on('data', (b: Buffer) => ctx.io.stderr.write(b));
  return new Promise<number>((resolve) => {
    child.on('error', () => resolve(2));
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 2)));
  });
};

function findOnPath(name: string, envPath: string | undefined): string | undefined {
  for (const dir of (envPath ?? '/usr/bin:/bin').split(':')) {
    if (dir === '') continue;
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // next
    }
  }
  return undefined;
}
