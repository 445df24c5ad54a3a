import type { ChangeArgs } from './change-options';
import { CrashPoints } from '../engine/crash';
import { closeWriter, openForWriting, type Writer } from '../engine/context';
import { NO_CONFFILE_FORCES } from '../engine/plan-model';
import { StepRegistry } from '../engine/steps/registry';
import type { TxnOptions, TxnOutcome } from '../engine/transaction';
import type { Io } from './command';
import { conffilePrompt, terminalPromptIo } from './conffile-prompt';
import { packageLine, Progress } from './progress';
import { printable } from '../control/printable';
import { relationMessageLines } from './relation-messages';
import { forcesOf, ignoredDepends, relationForces } from './force-options';

// The engine side of the changing commands: loaded when one of them runs, never at start (their options
// are declared in change-options.ts).
export type { ChangeArgs } from './change-options';

/** Journal intents per SQLite commit: big enough that syncs are rare, small enough that undo is quick. */
const JOURNAL_BATCH = 256;

/** Journal intents per SQLite commit: JOURNAL_BATCH, or OVERMERGE_DEBUG_JOURNAL_BATCH when it is a positive integer. */
export function journalBatch(): number {
  const batch = Number(process.env.OVERMERGE_DEBUG_JOURNAL_BATCH ?? JOURNAL_BATCH);
  return Number.isInteger(batch) && batch > 0 ? batch : JOURNAL_BATCH;
}

export function txnOptions(args: ChangeArgs, io: Io): { opts: TxnOptions; progress: Progress } {
  const progress = new Progress(io, !args.quiet && io.isTTY);
  const forces = forcesOf(args);
  return {
    progress,
    opts: {
      mode: args.mode,
      forceOverwrite: (args.forceOverwrite ?? false) || forces.has('overwrite'),
      conffiles: { forces: { ...NO_CONFFILE_FORCES, confnew: (args.forceConfnew ?? false) || forces.has('confnew'), confold: (args.forceConfold ?? false) || forces.has('confold') } },
      steps: new StepRegistry(),
      batchSize: journalBatch(),
      crash: CrashPoints.fromEnv(),
      autoRecover: args.autoRecover,
      asRoot: process.getuid?.() === 0,
      keepBackups: args.keepBackups ?? false,
      backupRetention: args.backupRetention ?? 5,
      progress: (phase, done, total) => progress.update(phase, done, total),
      triggers: args.triggers ?? true,
      upperPreflight: process.env.OVERMERGE_DEBUG_SKIP_UPPER_PREFLIGHT !== '1',
      // On a terminal, dpkg's conffile prompt; otherwise the forces or dpkg's default answer (keep), told by the notices.
      askConffiles: conffilePrompt(
        terminalPromptIo((text) => {
          progress.end();
          io.stderr.write(text);
        }, process.env),
        io.stdinIsTTY === true && !args.json,
      ),
      events: args.quiet || args.json
        ? undefined
        : (e) => {
            const line = packageLine(e);
            if (line === undefined) return;
            progress.end();
            io.stdout.write(`${line}\n`);
          },
      scripts: {
        mode: args.scripts ?? 'auto',
        notice: (line) => io.stderr.write(`overmerge: ${printable(line)}\n`),
        forces: [...forces],
      },
      relations: {
        force: relationForces(forces),
        autoDeconfigure: args.autoDeconfigure ?? false,
        ignoreDepends: ignoredDepends(args),
        warn: (message) => io.stderr.write(`${relationMessageLines(message).join('\n')}\n`),
      },
    },
  };
}

/**
 * Runs one changing transaction the way every changing command does: lock and open the root, run `fn`,
 * then (whatever happened) clear the progress bar, record the crash-point count and release the root.
 */
export async function runChange<T extends TxnOutcome>(
  args: ChangeArgs,
  io: Io,
  fn: (w: Writer, opts: TxnOptions) => Promise<T>,
): Promise<T> {
  const w = await openForWriting(args);
  const { opts, progress } = txnOptions(args, io);
  try {
    return await fn(w, opts);
  } finally {
    progress.end();
    opts.crash.recordCount();
    closeWriter(w);
  }
}
