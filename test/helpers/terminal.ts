import { spawn } from 'node:child_process';

/**
 * A command run on a real terminal: util-linux `script -qfec CMD /dev/null` gives it a pseudo-terminal as
 * stdin, stdout and stderr. Each answer is typed only once the program has asked (its output ends with a
 * prompt), because dpkg flushes what was typed ahead before it asks; once the answers run out, the next
 * prompt gets end of file (script passes the end of its stdin on as the terminal's EOF character).
 */
export interface TerminalRun {
  status: number;
  /** Everything the terminal showed (stdout and stderr interleaved, echoed answers included), `\r` removed. */
  screen: string;
}

export function runOnTerminal(command: string, answers: readonly string[], env: NodeJS.ProcessEnv, prompt = /\) \[(?:default=[NY]|no default)\] \? $/): Promise<TerminalRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', command, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    let next = 0;
    child.stdout.on('data', (b: Buffer) => {
      screen += b.toString('latin1').replace(/\r/g, '');
      if (!prompt.test(screen)) return;
      if (next < answers.length) child.stdin.write(`${answers[next++]}\n`);
      else child.stdin.end();
      // The echo of the answer ends the prompt; the next prompt is matched on the newer output.
      screen += '\u0000';
    });
    child.stderr.on('data', (b: Buffer) => (screen += b.toString('latin1')));
    child.on('error', reject);
    child.on('close', (code) => {
      if (!child.stdin.writableEnded) child.stdin.end();
      resolve({ status: code ?? 128, screen: screen.replace(/\u0000/g, '') });
    });
  });
}

/** The prompts a screen shows, each from its blank line and "Configuration file" to the "? " it ends with. */
export function promptsOn(screen: string): string[] {
  return [...screen.matchAll(/\nConfiguration file [^\n]*\n(?:[^\n]*\n)*?[^\n]*\? /g)].map((m) => m[0]);
}
