import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { byteString, toText } from '../../src/dpkg/bytes';
import { formatVersion } from '../../src/control/version';
import type { ByteString } from '../../src/dpkg/bytes';
import { readEntries } from '../../src/dpkg/status-file';
import { runCli } from '../helpers/run-cli';
import { withTempDir } from '../helpers/temp';

/**
 * dpkg's database in the layers: a live system that ran dpkg (or apt) over its image keeps a complete
 * `status` in the upper layer and the info files of what it installed or upgraded. Reconcile decides dpkg's
 * packages as it decides overmerge's — a package whose `.list` is in the upper layer was touched live —
 * and rewrites the upper layer's status as the new image's with the kept packages' stanzas. Layers here
 * are plain folders: reconcile reads layer folders, mounted or not.
 */

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

interface Pkg {
  name: string;
  version: string;
  files: Record<string, string>;
  conffiles?: string[];
  scripts?: string[];
}

function stanza(p: Pkg, contents: Record<string, string>): string {
  const lines = [`Package: ${p.name}`, 'Status: install ok installed', 'Priority: optional', 'Section: misc', 'Maintainer: tests <tests@overmerge.invalid>', 'Architecture: all', `Version: ${p.version}`];
  if (p.conffiles?.length) lines.push('Conffiles:', ...p.conffiles.map((c) => ` /${c} ${md5(contents[c])}`));
  lines.push(`Description: ${p.name} ${p.version}`);
  return `${lines.join('\n')}\n`;
}

async function write(root: string, rel: string, content: string): Promise<void> {
  await fsp.mkdir(path.dirname(path.join(root, rel)), { recursive: true });
  await fsp.writeFile(path.join(root, rel), content);
}

/** A layer: package files (`installed`: which packages' files it holds), status (`status`: which stanzas), info files. */
async function layer(root: string, opts: { status: Pkg[]; installed: Pkg[]; info: Pkg[] }): Promise<void> {
  await fsp.mkdir(path.join(root, 'var/lib/dpkg/info'), { recursive: true });
  for (const p of opts.installed) for (const [f, c] of Object.entries(p.files)) await write(root, f, c);
  await write(root, 'var/lib/dpkg/status', opts.status.map((p) => stanza(p, p.files)).join('\n'));
  for (const p of opts.info) {
    const dirs = new Set<string>();
    for (const f of Object.keys(p.files)) for (let d = path.dirname(f); d !== '.'; d = path.dirname(d)) dirs.add(d);
    const list = ['/.', ...[...dirs].sort().map((d) => `/${d}`), ...Object.keys(p.files).map((f) => `/${f}`)];
    await write(root, `var/lib/dpkg/info/${p.name}.list`, `${list.join('\n')}\n`);
    const sums = Object.entries(p.files).filter(([f]) => !p.conffiles?.includes(f));
    await write(root, `var/lib/dpkg/info/${p.name}.md5sums`, sums.map(([f, c]) => `${md5(c)}  ${f}\n`).join(''));
    for (const s of p.scripts ?? []) await write(root, `var/lib/dpkg/info/${p.name}.${s}`, '#!/bin/sh\n');
  }
}

const base15: Pkg = { name: 'base', version: '1.5', files: { 'usr/bin/base': 'base 1.5\n', 'etc/base.conf': 'conf 1.5\n' }, conffiles: ['etc/base.conf'], scripts: ['postinst'] };
const base2: Pkg = { name: 'base', version: '2.0', files: { 'usr/bin/base': 'base 2\n', 'etc/base.conf': 'conf 2\n' }, conffiles: ['etc/base.conf'] };
const tool1: Pkg = { name: 'tool', version: '1.0', files: { 'usr/bin/tool': 'tool 1\n' } };
const tool2: Pkg = { name: 'tool', version: '2.0', files: { 'usr/bin/tool': 'tool 2\n' } };
const old: Pkg = { name: 'old', version: '1.0', files: { 'usr/bin/old': 'old\n' } };
const mine: Pkg = { name: 'mine', version: '1.0', files: { 'usr/bin/mine': 'mine\n' } };

test("dpkg's packages: touched live or the old image's, the new image's or kept; status rewritten as the image's plus the kept stanzas", async () => {
  await withTempDir('reconcile-dpkg', async (dir) => {
    const [lower, upper] = [path.join(dir, 'image-v2'), path.join(dir, 'upper')];
    await layer(lower, { status: [base2, tool1], installed: [base2, tool1], info: [base2, tool1] });
    // The live system: its status holds the old image's `old` (never touched) and what it did itself.
    await layer(upper, { status: [base15, mine, old, tool2], installed: [base15, tool2, mine], info: [base15, tool2, mine] });
    await write(upper, 'etc/base.conf', 'conf 1.5, edited\n');

    const dry = await runCli(['--json', 'overlay', 'reconcile', '--upper', upper, '--lower', lower]);
    assert.equal(dry.status, 0, dry.stderr);
    const j = JSON.parse(dry.stdout) as {
      packages: Array<{ name: string; db: string; verdict: string; rows: string }>;
      removals: Array<{ path: string; reason: string }>;
      notes: Array<{ kind: string; path: string }>;
      dpkg: { status: string; kept: string[]; dropped: string[] };
    };
    assert.deepEqual(j.packages.map((p) => `${p.db} ${p.name} ${p.verdict} ${p.rows}`), ['dpkg base image-newer image', 'dpkg mine upper-only upper', 'dpkg tool upper-newer upper']);
    assert.deepEqual(j.dpkg, { status: 'write', kept: ['dpkg:mine:all', 'dpkg:tool:all'], dropped: ['dpkg:old:all'] });
    assert.deepEqual(
      j.removals.filter((r) => r.reason === 'package-file').map((r) => r.path),
      ['usr/bin/base', 'var/lib/dpkg/info/base.list', 'var/lib/dpkg/info/base.md5sums', 'var/lib/dpkg/info/base.postinst'],
      "base's upgrade is in the image: its binary and its info files go",
    );
    assert.deepEqual(j.notes.map((n) => `${n.kind} ${n.path}`), ['modified-conffile etc/base.conf']);

    const r = await runCli(['overlay', 'reconcile', '--upper', upper, '--lower', lower, '--apply']);
    assert.equal(r.status, 0, r.stderr);
    const text = byteString(await fsp.readFile(path.join(upper, 'var/lib/dpkg/status')));
    const after = readEntries(text, 'status', 'status').entries.map(({ entry }) => `${toText(entry.name)} ${toText(formatVersion(entry.version!) as ByteString)}`);
    assert.deepEqual(after, ['base 2.0', 'mine 1.0', 'tool 2.0']);
    assert.equal(await fsp.readFile(path.join(upper, 'etc/base.conf'), 'utf8'), 'conf 1.5, edited\n');
    await assert.rejects(fsp.lstat(path.join(upper, 'usr/bin/base')));
    assert.equal(await fsp.readFile(path.join(upper, 'usr/bin/tool'), 'utf8'), 'tool 2\n');
    const query = spawnSync('dpkg-query', ['--admindir', path.join(upper, 'var/lib/dpkg'), '-W', '-f', '${Package} ${Version} ${db:Status-Abbrev}\\n'], { encoding: 'utf8' });
    if (!query.error) {
      assert.equal(query.status, 0, query.stderr);
      assert.equal(query.stdout, 'base 2.0 ii \nmine 1.0 ii \ntool 2.0 ii \n', 'dpkg-query reads the rewritten status');
    }
  });
});
