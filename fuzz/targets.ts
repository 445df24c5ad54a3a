import { execFileSync } from 'node:child_process';
import { isDeepStrictEqual } from 'node:util';
import { ArReader } from '../src/archive/ar';
import { readDebControl, readDebData } from '../src/archive/deb';
import { TarListing } from '../src/archive/listing';
import { readTar, type TarEntry, type TarReadOptions } from '../src/archive/tar';
import { formatParagraph, parseParagraphs, readParagraphs } from '../src/control/deb822';
import { decodeControlText, validateControlFields } from '../src/control/fields';
import { formatRelations, parseRelations, RELATION_FIELDS, relationMatches } from '../src/control/relations';
import { checkVersion, compareVersions, formatVersion, parseVersion } from '../src/control/version';
import { mutateBytes } from './bytes';
import { mutateControlText, mutateRelations, mutateVersion } from './control-mutate';
import type { Corpus } from './corpus';
import { mutateDeb, type DebFocus } from './deb-mutate';
import type { Rng } from './rng';
import { mutateTar } from './tar-mutate';
import { invariant } from './verdict';

/**
 * The code under test, one target per entry point, each with the inputs that reach it. A target's `run`
 * returns when the input was accepted and throws when it was refused; the verdict decides which throws
 * are refusals and which are crashes. Choices a run makes (how entry bodies are consumed, chunk sizes)
 * come from the same generator as the input, so an input and its run repeat together.
 */
export const TARGET_NAMES = ['ar', 'deb-control', 'deb-data', 'contents', 'tar', 'control', 'version', 'relations', 'contents-dpkg'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

/**
 * The targets of a run unless told otherwise. `contents-dpkg` starts dpkg-deb for every input, too slow
 * for the suite's budget: `npm run fuzz` adds it when dpkg-deb is installed.
 */
export const DEFAULT_TARGETS: readonly TargetName[] = TARGET_NAMES.filter((t) => t !== 'contents-dpkg');

export interface FuzzInput {
  bytes: Buffer;
  /** How the input was made, for the findings report. */
  how: string;
}

export interface Target {
  name: TargetName;
  /** Whether `run` reads the input from a file (the archive readers open paths). */
  needsFile: boolean;
  generate(rng: Rng, corpus: Corpus): Promise<FuzzInput>;
  run(input: { bytes: Buffer; file: string }, rng: Rng): Promise<void>;
}

async function debInput(rng: Rng, corpus: Corpus, focus: DebFocus): Promise<FuzzInput> {
  return mutateDeb(rng, rng.pick(corpus.debs), rng.pick(corpus.debs), corpus.dict, focus);
}

/**
 * Consumes an entry's body in one of the ways callers do: resumed, read whole, left untouched, read a
 * little then abandoned, or one chunk taken and its iterator left unreturned. Every one must let the reader go on.
 */
async function consume(entry: TarEntry, rng: Rng): Promise<void> {
  const body = entry.body;
  switch (rng.below(5)) {
    case 0:
      body.resume();
      return;
    case 1:
      for await (const chunk of body) void chunk;
      return;
    case 2:
      return;
    case 3:
      for await (const chunk of body) {
        void chunk;
        break;
      }
      return;
    case 4:
      // One chunk read, the iterator left without being returned: the reader skips the rest itself.
      await body[Symbol.asyncIterator]().next();
      return;
  }
}

/**
 * One listing line per entry: names and link targets are quoted as tar quotes them, so they cannot end
 * it. Owner and group names are printed raw, as GNU tar (and so `dpkg-deb -c`) prints them; their
 * newlines are the only others allowed.
 */
function checkListingLine(line: string, entry: TarEntry): void {
  const newlines = (s: string): number => s.split('\n').length - 1;
  const raw = newlines(entry.header.uname) + newlines(entry.header.gname);
  invariant(line.endsWith('\n') && newlines(line) === 1 + raw, () => `listing line is not one line: ${JSON.stringify(line)}`);
}

/** Reads every entry (or stops early now and then, which must clean up just the same). */
async function drain(entries: AsyncIterable<TarEntry>, rng: Rng, listing?: TarListing): Promise<void> {
  const stopAfter = rng.chance(0.1) ? rng.below(8) : Infinity;
  let n = 0;
  for await (const entry of entries) {
    if (listing) checkListingLine(listing.line(entry.header), entry);
    await consume(entry, rng);
    if (++n >= stopAfter) return;
  }
}

function trailing(rng: Rng): TarReadOptions['trailingData'] {
  return rng.pick([undefined, 'ignore', 'error', 'hidden-members'] as const);
}

/** `bytes` in chunks of random sizes, the way a decompressor hands them out. */
async function* chunked(bytes: Buffer, rng: Rng): AsyncGenerator<Buffer> {
  let at = 0;
  while (at < bytes.length) {
    const n = 1 + (rng.chance(0.5) ? rng.below(700) : rng.below(70000));
    yield bytes.subarray(at, at + n);
    at += n;
  }
}

const arTarget: Target = {
  name: 'ar',
  needsFile: true,
  generate: (rng, corpus) => debInput(rng, corpus, 'container'),
  async run({ file }, rng) {
    const ar = await ArReader.open(file);
    try {
      for (let m = await ar.next(); m !== null; m = await ar.next()) {
        if (rng.chance(0.5)) await ar.readMember(m, rng.pick([0, 4096, 1 << 20, 64 << 20]));
        else for await (const chunk of ar.streamMember(m)) void chunk;
      }
    } finally {
      await ar.close();
    }
  },
};

const debControlTarget: Target = {
  name: 'deb-control',
  needsFile: true,
  generate: (rng, corpus) => debInput(rng, corpus, 'control'),
  async run({ file }) {
    const control = await readDebControl(file);
    invariant(control.fields.has('Package'), () => 'control accepted without a Package field');
  },
};

const debDataTarget: Target = {
  name: 'deb-data',
  needsFile: true,
  generate: (rng, corpus) => debInput(rng, corpus, 'data'),
  async run({ file }, rng) {
    await drain(readDebData(file, { trailingData: trailing(rng), maxMetaSize: rng.chance(0.2) ? 600 : undefined }), rng);
  },
};

/** What `overmerge contents` does: every header listed, every body resumed. */
const contentsTarget: Target = {
  name: 'contents',
  needsFile: true,
  generate: (rng, corpus) => debInput(rng, corpus, 'data'),
  async run({ file }, rng) {
    const listing = new TarListing({ utf8: rng.chance(0.5) });
    for await (const entry of readDebData(file)) {
      checkListingLine(listing.line(entry.header), entry);
      entry.body.resume();
    }
  },
};

/**
 * `overmerge contents` against `dpkg-deb -c` on the same archive, in the same time zone, when both accept
 * it: the listing claims to be byte for byte the same. Owner names that are not UTF-8 are left out: the
 * listing is text, so it cannot print their raw bytes as tar does (a known limit of the CLI's output).
 */
const contentsDpkgTarget: Target = {
  name: 'contents-dpkg',
  needsFile: true,
  generate: (rng, corpus) => debInput(rng, corpus, 'data'),
  async run({ file }) {
    const listing = new TarListing({ utf8: true });
    const lines: string[] = [];
    let rawOwner = false;
    for await (const entry of readDebData(file)) {
      lines.push(listing.line(entry.header));
      rawOwner ||= (entry.header.uname + entry.header.gname).includes('\ufffd');
      entry.body.resume();
    }
    let theirs: Buffer;
    try {
      theirs = execFileSync('dpkg-deb', ['-c', file], { env: { ...process.env, LC_ALL: 'C.UTF-8' }, stdio: ['ignore', 'pipe', 'ignore'], timeout: 20_000 });
    } catch {
      return;
    }
    const ours = lines.join('');
    if (rawOwner || theirs.equals(Buffer.from(ours))) return;
    const a = ours.split('\n');
    const b = theirs.toString('utf8').split('\n');
    const i = a.findIndex((line, k) => line !== b[k]);
    invariant(false, () => `contents differs from dpkg-deb -c at line ${i + 1}: ours ${JSON.stringify(a[i])}, dpkg-deb ${JSON.stringify(b[i])}`);
  },
};

const tarTarget: Target = {
  name: 'tar',
  needsFile: false,
  async generate(rng, corpus) {
    const seed = rng.pick(corpus.tars);
    return { bytes: mutateTar(rng, seed, corpus.dict), how: 'tar mutation' };
  },
  async run({ bytes }, rng) {
    const listing = rng.chance(0.5) ? new TarListing({ utf8: rng.chance(0.5) }) : undefined;
    await drain(readTar(chunked(bytes, rng), { label: 'fuzz.tar', trailingData: trailing(rng), maxMetaSize: rng.chance(0.2) ? 600 : undefined }), rng, listing);
  },
};

/** Control text: parsed whole and as a stream in random chunks (the same paragraphs), checked, written back. */
const controlTarget: Target = {
  name: 'control',
  needsFile: false,
  async generate(rng, corpus) {
    return { bytes: mutateControlText(rng, rng.pick(corpus.controls)), how: 'control text mutation' };
  },
  async run({ bytes }, rng) {
    const text = decodeControlText(bytes, 'fuzz.deb');
    let whole: ReturnType<typeof parseParagraphs> | undefined;
    let wholeError: unknown;
    try {
      whole = parseParagraphs(text, { source: 'fuzz.deb: control' });
    } catch (err) {
      wholeError = err;
    }
    const streamed: typeof whole = [];
    let streamError: unknown;
    try {
      for await (const p of readParagraphs(chunked(bytes, rng), { source: 'fuzz.deb: control' })) streamed.push(p);
    } catch (err) {
      streamError = err;
    }
    invariant((wholeError === undefined) === (streamError === undefined), () => `whole parse ${wholeError ? 'refused' : 'accepted'} but streamed parse ${streamError ? 'refused' : 'accepted'}: ${String(wholeError ?? streamError)}`);
    if (wholeError !== undefined) throw wholeError;
    invariant(isDeepStrictEqual(whole, streamed), () => 'streamed parse gave other paragraphs than the whole parse');
    for (const p of whole!) {
      let written: string | undefined;
      try {
        written = formatParagraph(p);
      } catch (err) {
        // Writing refuses values it could not read back; that is a refusal, not a round trip to check.
        void err;
      }
      if (written !== undefined) {
        const again = parseParagraphs(written);
        invariant(again.length === 1 && isDeepStrictEqual(again[0].fields, p.fields), () => `paragraph does not read back as written: ${JSON.stringify(written)}`);
      }
    }
    if (whole!.length === 1) validateControlFields(whole![0], 'fuzz.deb');
  },
};

const versionTarget: Target = {
  name: 'version',
  needsFile: false,
  async generate(rng, corpus) {
    const a = mutateVersion(rng, rng.pick(corpus.versions));
    return { bytes: Buffer.from(a, 'utf8'), how: 'version mutation' };
  },
  async run({ bytes }, rng) {
    const text = bytes.toString('utf8');
    const check = checkVersion(text);
    if (check.version) {
      const v = check.version;
      invariant(compareVersions(v, v) === 0, () => `${JSON.stringify(text)} does not compare equal to itself`);
      const shown = formatVersion(v);
      const back = checkVersion(shown).version;
      invariant(back !== undefined && compareVersions(back, v) === 0, () => `${JSON.stringify(text)} formats as ${JSON.stringify(shown)}, which reads back differently`);
      const other = checkVersion(mutateVersion(rng, text)).version;
      if (other) {
        const ab = compareVersions(v, other);
        const ba = compareVersions(other, v);
        invariant(ab === -ba, () => `compare(${JSON.stringify(shown)}, ${JSON.stringify(formatVersion(other))}) = ${ab} but the reverse is ${ba}`);
      }
    }
    parseVersion(text);
  },
};

const relationsTarget: Target = {
  name: 'relations',
  needsFile: false,
  async generate(rng, corpus) {
    const value = rng.chance(0.8) ? mutateRelations(rng, rng.pick(corpus.relations)) : mutateBytes(rng, Buffer.from(rng.pick(corpus.relations))).toString('utf8');
    return { bytes: Buffer.from(`${rng.pick([...RELATION_FIELDS, 'Build-Depends'])}\n${value}`, 'utf8'), how: 'relation field mutation' };
  },
  async run({ bytes }, rng) {
    const text = bytes.toString('utf8');
    const nl = text.indexOf('\n');
    const field = text.slice(0, nl);
    const value = text.slice(nl + 1);
    const opts = { allowRestrictions: rng.chance(0.5), laxVersions: rng.chance(0.5) };
    const groups = parseRelations(field, value, opts);
    const written = formatRelations(groups);
    const again = parseRelations(field, written, { ...opts, laxVersions: true });
    invariant(formatRelations(again) === written, () => `${field} ${JSON.stringify(value)} writes as ${JSON.stringify(written)}, which reads back differently`);
    for (const g of groups) {
      for (const rel of g) relationMatches(rel, { name: rel.name, version: '1.0', architecture: 'all', provides: g }, { nativeArch: 'amd64' });
    }
  },
};

export const TARGETS: Record<TargetName, Target> = {
  ar: arTarget,
  'deb-control': debControlTarget,
  'deb-data': debDataTarget,
  contents: contentsTarget,
  tar: tarTarget,
  control: controlTarget,
  version: versionTarget,
  relations: relationsTarget,
  'contents-dpkg': contentsDpkgTarget,
};

export function isTargetName(s: string): s is TargetName {
  return (TARGET_NAMES as readonly string[]).includes(s);
}
