import * as v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { optionalAddon } from '../fs/own-addon';

/**
 * Keeps a writing command's peak memory close to what it uses (issue 14: ≤ 100 MiB for the required set,
 * a 2 GiB member, 116,010 members). Policies of the process, set once before a transaction:
 *
 * - V8 lets the old generation grow to several times what survived the last full collection before it
 *   collects again; a transaction that holds its manifest (tens of MiB for a huge archive) while making
 *   short-lived objects per member then carries as much garbage again. A growth of 15 % per collection
 *   keeps the heap near what is live, for a few more collections (each a few ms for such a heap).
 * - V8's young generation doubles its semi-spaces whenever many objects survive a scavenge, up to 16 MiB
 *   each (three of them committed: 48 MiB) — a third of the budget, for objects that die young. Left at
 *   their initial size (1 MiB), scavenges come more often and cost about what they did in all.
 * - glibc's malloc keeps freed large blocks (liblzma's dictionaries, decoded on the thread pool) in its
 *   arenas; malloc_tune.c gives them back (a fixed mmap threshold, few arenas).
 *
 * All are best effort: without the native module (not built) or on another libc, only V8's apply.
 */
const HEAP_GROWING_PERCENT = 15;
/** Blocks from this size up get a mapping of their own, unmapped on free (glibc's initial default). */
const MMAP_THRESHOLD = 128 * 1024;
/** Two cores' worth: the main thread and the thread pool share them instead of one arena per thread. */
const ARENAS = 2;

interface MallocTune {
  retainLess(mmapThreshold: number, arenas: number): boolean;
  trim(): boolean;
}

/** The native module, loaded once; null when it was not built. */
const mallocTune = optionalAddon<MallocTune>('malloc_tune');

/**
 * V8's policies are set only where they were measured to help: V8 11 (Node 20), whose heap grew to 3-5 ×
 * its live set in a churning transaction and to 1.5 × with them. V8 14 (Node 26) keeps such a heap near
 * 2 × by itself, and a semi-space growth factor of 1 there doubled the peak instead (the churn test of
 * test/engine/memory-bounds.test.ts: 122 MiB without, 186-286 MiB with). Node 22 and 24 (V8 12, 13) were
 * not measured and keep V8's defaults.
 */
export function v8PolicyApplies(v8Version: string = process.versions.v8): boolean {
  return Number.parseInt(v8Version, 10) <= 11;
}

/**
 * How a writer's heap may grow. 'bounded', for the commands issue 14 bounds: the old generation collected
 * once it has grown 15 % past what survived, semi-spaces left at their initial 1 MiB. 'growing', for a
 * bootstrap: V8's own growth of both. A bootstrap is seconds of small transactions, scripts and queues
 * one after another, none holding much (its heap stays under 50 MiB), and bounded it collects all the time:
 * at 1 MiB much of what each transaction makes outlives the next scavenge (342 scavenges and 17 full
 * collections, 0.33 s of the main thread, for the 88 archives of minbase + apt; 78 and 12, 0.18 s, with V8's
 * young growth), and at 15 % its old generation of 10 to 20 MiB was marked whole 11 times (0.13 s; 3 times,
 * 0.03 s, with V8's own growth). Its peak RSS is about 140 MiB, 30 MiB above what bounded young growth gave
 * (bench/README.md, "Bootstrap", fourteenth and fifteenth passes).
 */
export type HeapPolicy = 'bounded' | 'growing';

/** Applies the policies (idempotent). Returns whether malloc's could be applied. */
export function boundMemory(heap: HeapPolicy = 'bounded'): boolean {
  applyV8Policy(heap);
  processHeap = heap;
  return mallocTune()?.retainLess(MMAP_THRESHOLD, ARENAS) ?? false;
}

/** V8's own factor (its --semi-space-growth-factor default). */
const V8_SEMI_SPACE_GROWTH = 2;

function applyV8Policy(heap: HeapPolicy): void {
  if (!v8PolicyApplies()) return;
  // Both are read by V8 each time it sizes the heap (--max-semi-space-size only at start-up); 0 is V8's own
  // growth of the old generation.
  v8.setFlagsFromString(`--heap-growing-percent=${heap === 'bounded' ? HEAP_GROWING_PERCENT : 0}`);
  v8.setFlagsFromString(`--semi-space-growth-factor=${heap === 'bounded' ? 1 : V8_SEMI_SPACE_GROWTH}`);
}

// Applied as soon as the engine is loaded too, not only when a writer opens (boundMemory): V8 doubles
// the new space while the rest of the CLI's modules load, and never gives it back in a busy process
// (semi-spaces of 4 MiB instead of 2: 4 MiB more RSS through a whole transaction of 116,010 members).
applyV8Policy('bounded');

/**
 * Gives the system back the free pages inside malloc's heaps (malloc_trim), which glibc otherwise returns
 * only from a heap's top: called between the phases and archives of a transaction, when what one of them
 * allocated (an archive's decoding, SQLite's pages for a large write) has been freed. About 8 MiB at the
 * end of unpacking the required set. A no-op without the native module or glibc.
 */
export function releaseFreedMemory(): void {
  // A growing heap keeps what it freed for what comes next: a bootstrap trimmed after each of its 88
  // archives, and took the pages back at once, fault by fault.
  if (processHeap === 'growing') return;
  mallocTune()?.trim();
}

/**
 * The heap policy last applied (boundMemory): like the V8 flags and malloc's settings it mirrors, it is
 * the process's, not a writer's.
 */
let processHeap: HeapPolicy = 'bounded';

/**
 * Members (or probed paths) from which a transaction collects its garbage between phases: a full
 * collection of such a heap takes tens of milliseconds, beside seconds of work on its members.
 */
export const LARGE_TRANSACTION = 10_000;

/**
 * Collects the garbage every `every` members (or steps) of a loop over a huge archive: V8 lets the old
 * generation carry 8 MiB or more of garbage above what is live before it collects, and a churning loop
 * over 116,010 members (a staged file's digests and stat, a step's journal payload) fills that headroom
 * again and again. A full collection every 32,768 members costs ~35 ms each (every 16,384 gave no lower
 * peak), and nothing in a loop shorter than that.
 */
export class GarbageCadence {
  private count = 0;

  constructor(
    private readonly every: number = GARBAGE_EVERY,
    private readonly collect: () => void = collectGarbage,
  ) {}

  /** Counts one member; collects when `every` more have gone by. */
  tick(): void {
    if (++this.count % this.every === 0) this.collect();
  }
}

/** Members between two collections of a GarbageCadence. */
export const GARBAGE_EVERY = 32_768;

/** V8's full collection, made callable once (the pattern of Node's own documentation of setFlagsFromString). */
let fullCollection: (() => void) | undefined;

/**
 * A full garbage collection now, between two phases of a large transaction: what the phase before made
 * and let go of (tar headers, digests, lstat results of tens of thousands of members) is freed before the
 * next phase adds its own per-member data on top of what stays live, instead of with it.
 */
export function collectGarbage(): void {
  if (fullCollection === undefined) {
    v8.setFlagsFromString('--expose-gc');
    fullCollection = runInNewContext('gc') as () => void;
  }
  fullCollection();
}
