import { spawnSync } from 'node:child_process';
import { readSync } from 'node:fs';
import { isatty } from 'node:tty';
import type { AskedConffile, ConffileAsker } from '../engine/conffile-questions';
import type { ConffileAnswer } from '../engine/plan-model';
import { OvermergeError } from '../errors';
import { baseName, displayPath, type RootPath } from '../fs/rootpath';
import type { DpkgEventSink } from '../model/events';

/** What the prompt talks to: the terminal (or whatever stdin and stderr are), and where events go. */
export interface PromptIo {
  /** Writes to stderr, where dpkg prompts. */
  readonly say: (text: string) => void;
  /** One line from stdin without its newline, or undefined at end of file. */
  readonly readLine: () => string | undefined;
  /** `diff -Nu OLD NEW`, through the pager as dpkg pages it. */
  readonly showDiff: (old: string, next: string) => void;
  /** An interactive shell with dpkg's DPKG_CONFFILE_* variables. */
  readonly shell: (old: string, next: string) => void;
  /** --status-fd's conffile-prompt line and --log's conffile line. */
  readonly events?: DpkgEventSink;
}

/**
 * dpkg's conffile prompt (src/main/configure.c promptconfaction and show_prompt), in its words: the
 * --status-fd line first, then the facts on stderr; a force's answer is said and taken, otherwise the
 * menu is shown and a line read from stdin — whatever stdin is, as dpkg reads it: the first non-blank
 * character decides (y/i install, n/o keep, d diff, z shell, nothing: the default), anything else asks
 * again, and end of file is an error. `ask` false (overmerge's own CLI when stdin is not a terminal):
 * only forces and defaults answer, silently — the plan's notices say what was kept.
 */
export function conffilePrompt(io: PromptIo, ask: boolean): ConffileAsker {
  return async (questions) => {
    const answers = new Map<RootPath, ConffileAnswer>();
    for (const q of questions) {
      const answer = ask ? askOne(io, q) : (q.forced?.answer ?? q.default);
      answers.set(q.path, answer);
    }
    return answers;
  };
}

function askOne(io: PromptIo, q: AskedConffile): ConffileAnswer {
  const name = displayPath(q.path);
  const incoming = q.incomingHost ?? '';
  io.events?.({ kind: 'conffile-prompt', path: name, current: q.currentHost, incoming, userEdited: q.userEdited, distEdited: q.distEdited });
  for (;;) {
    io.say(header(q, name, q.currentHost));
    let choice: string;
    if (q.forced) {
      io.say(` ==> ${q.forced.why}\n`);
      choice = q.forced.answer === 'install' ? 'y' : 'n';
    } else {
      io.say(menu(q));
      const line = io.readLine();
      if (line === undefined) {
        throw new OvermergeError('E_CONFFILE_PROMPT', 'end of file on stdin at conffile prompt', { op: 'conffile prompt', path: name });
      }
      choice = (line.match(/\S/)?.[0] ?? '').toLowerCase() || (q.default === 'install' ? 'y' : 'n');
    }
    if (choice === 'd') io.showDiff(q.currentHost, incoming);
    if (choice === 'z') io.shell(q.currentHost, incoming);
    if ('yino'.includes(choice)) {
      const answer: ConffileAnswer = choice === 'y' || choice === 'i' ? 'install' : 'keep';
      io.events?.({ kind: 'conffile', path: name, decision: answer });
      return answer;
    }
  }
}

/** The facts dpkg shows before its menu; under --root the file's real path differs from its name, as dpkg says. */
function header(q: AskedConffile, name: string, realOld: string): string {
  const lines = ['', realOld === name ? `Configuration file '${name}'` : `Configuration file '${name}' (actually '${realOld}')`];
  if (q.isNew) {
    lines.push(' ==> File on system created by you or by a script.', ' ==> File also in package provided by package maintainer.');
  } else {
    lines.push(
      !q.userEdited
        ? '     Not modified since installation.'
        : !q.userDeleted
          ? ' ==> Modified (by you or by a script) since installation.'
          : ' ==> Deleted (by you or by a script) since installation.',
      q.distEdited ? ' ==> Package distributor has shipped an updated version.' : '     Version in package is the same as at last installation.',
    );
  }
  return `${lines.join('\n')}\n`;
}

function menu(q: AskedConffile): string {
  return (
    '   What would you like to do about it ?  Your options are:\n' +
    "    Y or I  : install the package maintainer's version\n" +
    '    N or O  : keep your currently-installed version\n' +
    '      D     : show the differences between the versions\n' +
    '      Z     : start a shell to examine the situation\n' +
    (q.default === 'keep' ? ' The default action is to keep your current version.\n' : ' The default action is to install the new version.\n') +
    `*** ${baseName(q.path)} (Y/I/N/O/D/Z) ${q.default === 'keep' ? '[default=N]' : '[default=Y]'} ? `
  );
}

/** The prompt's effects on the real terminal: stdin read a byte at a time (nothing read past the line). */
export function terminalPromptIo(say: (text: string) => void, env: NodeJS.ProcessEnv, events?: DpkgEventSink, pager = true): PromptIo {
  return { say, readLine: readStdinLine, showDiff: (o, n) => showDiff(o, n, env, pager), shell: (o, n) => spawnShell(o, n, say, env), events };
}

function readStdinLine(): string | undefined {
  const bytes: number[] = [];
  const one = Buffer.alloc(1);
  for (;;) {
    let n: number;
    try {
      n = readSync(0, one, 0, 1, null);
    } catch (err) {
      // A non-blocking stdin (a parent set O_NONBLOCK): wait a little and read again.
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
        continue;
      }
      throw new OvermergeError('E_CONFFILE_PROMPT', `read error on stdin at conffile prompt: ${(err as Error).message}`, { op: 'conffile prompt' });
    }
    // dpkg reads to the newline; end of file before one is the end, even after some characters.
    if (n === 0) return undefined;
    if (one[0] === 0x0a) return Buffer.from(bytes).toString('latin1');
    bytes.push(one[0]);
  }
}

/** dpkg's pager_spawn: a pager only when stdin and stdout are terminals and not --no-pager ($DPKG_PAGER, $PAGER, `pager`). */
function showDiff(old: string, next: string, env: NodeJS.ProcessEnv, usePager: boolean): void {
  const tty = isatty(0) && isatty(1);
  const pager = usePager && tty ? env.DPKG_PAGER || env.PAGER || 'pager' : 'cat';
  if (pager === 'cat') {
    spawnSync('diff', ['-Nu', old, next], { stdio: 'inherit' });
    return;
  }
  spawnSync('sh', ['-c', `diff -Nu "$1" "$2" | ${pager}`, 'sh', old, next], { stdio: 'inherit', env: { LESS: '-FRSXMQ', ...env } });
}

/** dpkg's spawn_shell: $SHELL -i (sh if unset) with the reason and both files in the environment. */
function spawnShell(old: string, next: string, say: (text: string) => void, env: NodeJS.ProcessEnv): void {
  say("Useful environment variables:\n - DPKG_SHELL_REASON\n - DPKG_CONFFILE_OLD\n - DPKG_CONFFILE_NEW\nType 'exit' when you're done.\n");
  const shell = env.SHELL || 'sh';
  spawnSync(shell, ['-i'], { stdio: 'inherit', env: { ...env, DPKG_SHELL_REASON: 'conffile-prompt', DPKG_CONFFILE_OLD: old, DPKG_CONFFILE_NEW: next } });
}
