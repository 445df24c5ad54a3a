import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../helpers/run-cli';
import { fsWritesIn, importCycles, sourceFiles } from '../helpers/source-scan';

/**
 * The layout's promises, checked on the sources: every filesystem write goes through src/fs (so every
 * change to a root is made by code written to be undone and journaled, and the lock, staging and admin
 * folders use the same primitives), and src/ has no import cycle.
 */

const SRC = path.join(REPO_ROOT, 'src');

/**
 * Modules (or folders, ending in '/') outside src/fs that may write, each with its reason. Keep it short: a
 * write that is part of the engine belongs in src/fs.
 */
const ALLOWED_WRITERS: Record<string, string> = {
  'build/':
    'build-time tools run by `npm run build`, never on a user\'s root: they write the start-up packs into dist/ and drive bin/overmerge in a scratch root of their own to find what a transaction loads',
  'demo/':
    'the demo is a driver, like the tests: it makes its own temporary folder and fixture trees there; every change it shows to a root is made by bin/overmerge',
};

const allowed = (f: string): boolean => Object.keys(ALLOWED_WRITERS).some((a) => (a.endsWith('/') ? f.startsWith(a) : f === a));

describe('architecture', () => {
  it('writes to the filesystem only through src/fs (exceptions named, with their reason)', () => {
    const writes = sourceFiles(SRC, SRC)
      .filter((f) => !f.startsWith(`fs${path.sep}`) && !allowed(f))
      .flatMap((f) => fsWritesIn(path.join(SRC, f), `src/${f}`));
    assert.deepEqual(
      writes.map((w) => `${w.file}:${w.line}: ${w.call}`),
      [],
      'move these writes into a module of src/fs (or name the module in ALLOWED_WRITERS, with the reason)',
    );
    for (const a of Object.keys(ALLOWED_WRITERS)) {
      assert.ok(sourceFiles(SRC, SRC).some((f) => (a.endsWith('/') ? f.startsWith(a) : f === a)), `ALLOWED_WRITERS names ${a}, which does not exist`);
    }
  });

  it('has no import cycle in src/', () => {
    const cycles = importCycles(sourceFiles(SRC, SRC), SRC);
    assert.deepEqual(cycles, [], `import cycles:\n${cycles.map((c) => `  ${c.join(' ↔ ')}`).join('\n')}`);
  });
});
