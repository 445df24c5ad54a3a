import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type { Argv } from 'yargs';
import type { Command } from '../../src/cli/command';
import { globalOptions } from '../../src/cli/global';
import { commands } from '../../src/cli/registry';
import { REPO_ROOT } from '../helpers/run-cli';
import { gate } from '../helpers/gate';

// yargs 18 is ESM-only; Node >= 20.19 loads it through require(esm), as src/cli/main.ts does.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const yargs = require('yargs') as typeof import('yargs').default;

const MAN = path.join(REPO_ROOT, 'man', 'overmerge.1');
const README = path.join(REPO_ROOT, 'README.md');
const QUICK_START = ['npm ci && npm run demo', 'npm ci && npm test'];

/** The man page as a reader sees it: roff's `\-` is a hyphen, font escapes are gone. */
function manText(): string {
  return readFileSync(MAN, 'utf8')
    .replace(/\\-/g, '-')
    .replace(/\\f[BIRP]/g, '')
    .replace(/\\&/g, '');
}

function readme(): string {
  return readFileSync(README, 'utf8');
}

function commandName(c: Command<unknown>): string {
  const spec = Array.isArray(c.command) ? c.command[0] : c.command;
  return spec.split(' ')[0];
}

/** Names of the positionals in a yargs command spec (`install <archives..>` → archives). */
function positionals(c: Command<unknown>): Set<string> {
  const spec = Array.isArray(c.command) ? c.command[0] : c.command;
  return new Set([...spec.matchAll(/[<[]([^\]>.]+)(?:\.\.)?[\]>]/g)].map((m) => m[1]));
}

/** Long option names (and one-letter aliases) a yargs builder declares, yargs' own help/version left out. */
function optionNames(build: (y: Argv) => Argv, except: Set<string> = new Set()): string[] {
  // getOptions() is public at runtime but missing from @types/yargs.
  const parser = build(yargs([])) as unknown as { getOptions(): { key: Record<string, unknown> } };
  return Object.keys(parser.getOptions().key).filter((k) => !['help', 'version'].includes(k) && !except.has(k));
}

/** How a command name counts as documented in the man page: a `.B name` line or a bold `\fBname` item. */
function manMentionsCommand(raw: string, name: string): boolean {
  const roffName = name.replace(/-/g, '\\-');
  const esc = roffName.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
  return new RegExp(`^\\.B[IR]? "?${esc}[ "]|^\\.B[IR]? "?${esc}$|\\\\fB${esc}\\\\f`, 'm').test(raw);
}

test('man page: groff -man -ww -z prints nothing', (t) => {
  if (gate(t, { tools: ['groff'] })) return;
  const r = spawnSync('groff', ['-man', '-ww', '-z', MAN], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(`${r.stdout}${r.stderr}`, '', 'groff warnings on man/overmerge.1');
});

test('man page: has the sections a man page needs', () => {
  const raw = readFileSync(MAN, 'utf8');
  assert.match(raw, /^\.TH OVERMERGE 1 /m);
  for (const section of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'COMMANDS', 'OPTIONS', 'ENVIRONMENT', 'FILES', '"EXIT STATUS"|EXIT STATUS', 'EXAMPLES', '"SEE ALSO"|SEE ALSO']) {
    assert.match(raw, new RegExp(`^\\.SH (${section})$`, 'm'), `missing .SH ${section}`);
  }
});

test('every registered command is in the man page and the README', () => {
  const raw = readFileSync(MAN, 'utf8');
  const doc = readme();
  assert.ok(commands.length > 0);
  assert.ok(!manMentionsCommand(raw, 'no-such-command'), 'the man page check accepts anything');
  for (const c of commands as Command<unknown>[]) {
    const name = commandName(c);
    assert.ok(manMentionsCommand(raw, name), `man/overmerge.1 does not document the command '${name}' (as .B ${name} or \\fB${name})`);
    assert.ok(doc.includes(`overmerge ${name}`), `README.md does not mention \`overmerge ${name}\``);
  }
});

test('every subcommand of a command group, and its options, is in the man page and the README', () => {
  const raw = readFileSync(MAN, 'utf8');
  const man = manText();
  const doc = readme();
  const groups = (commands as Command<unknown>[]).filter((c) => (c.subcommands ?? []).length > 0);
  assert.ok(groups.length > 0, 'expected at least one command group (overlay)');
  for (const g of groups) {
    for (const sub of g.subcommands as Command<unknown>[]) {
      const name = `${commandName(g)} ${commandName(sub)}`;
      assert.ok(manMentionsCommand(raw, name), `man/overmerge.1 does not document '${name}' (as .B ${name} or \\fB${name})`);
      assert.ok(doc.includes(`overmerge ${name}`), `README.md does not mention \`overmerge ${name}\``);
      for (const opt of optionNames(sub.builder, positionals(sub))) {
        const flag = opt.length === 1 ? `-${opt}` : `--${opt}`;
        assert.ok(new RegExp(`${flag}(?![a-z-])`).test(man), `man/overmerge.1 does not document ${flag} of '${name}'`);
      }
    }
  }
});

test('every global option is in the man page and the README', () => {
  const man = manText();
  const doc = readme();
  const names = optionNames(globalOptions);
  assert.ok(names.includes('root') && names.includes('db'), `unexpected global options: ${names.join(' ')}`);
  for (const name of names) {
    const flag = name.length === 1 ? `-${name}` : `--${name}`;
    assert.ok(new RegExp(`${flag}(?![a-z-])`).test(man), `man/overmerge.1 does not document ${flag}`);
    assert.ok(new RegExp(`${flag}(?![a-z-])`).test(doc), `README.md does not document ${flag}`);
  }
});

test("every command's own options are in the man page", () => {
  const man = manText();
  for (const c of commands as Command<unknown>[]) {
    for (const name of optionNames(c.builder, positionals(c))) {
      const flag = name.length === 1 ? `-${name}` : `--${name}`;
      assert.ok(new RegExp(`${flag}(?![a-z-])`).test(man), `man/overmerge.1 does not document ${flag} of '${commandName(c)}'`);
    }
  }
});

test('every OVERMERGE_DEBUG_* variable the sources read is in the man page and the README', () => {
  const vars = new Set<string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) for (const m of readFileSync(p, 'utf8').matchAll(/OVERMERGE_DEBUG_[A-Z_]+/g)) vars.add(m[0]);
    }
  };
  walk(path.join(REPO_ROOT, 'src'));
  vars.delete('OVERMERGE_DEBUG_'); // the demo's prefix match, not a variable
  assert.ok(vars.has('OVERMERGE_DEBUG_CRASH_AT'), 'expected at least OVERMERGE_DEBUG_CRASH_AT in src/');
  const man = manText();
  const doc = readme();
  for (const v of vars) {
    assert.ok(man.includes(v), `man/overmerge.1 does not document ${v}`);
    assert.ok(doc.includes(v), `README.md does not document ${v}`);
  }
});

test('README: the Quick start commands, each in its own code block', () => {
  const doc = readme();
  const quick = doc.slice(doc.indexOf('## Quick start'));
  assert.ok(doc.includes('## Quick start'), 'README.md has no "## Quick start" section');
  const blocks = [...quick.matchAll(/^```[a-z]*\n([\s\S]*?)^```$/gm)].map((m) => m[1].trim());
  for (const cmd of QUICK_START) assert.ok(blocks.includes(cmd), `README.md Quick start lacks a code block with exactly: ${cmd}`);
});
