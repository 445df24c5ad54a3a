import { TarProblem } from './tar-header';

// GNU tar and star write raw values here; libarchive's own LIBARCHIVE.xattr.* (base64) is not read.
const XATTR_PREFIXES = ['SCHILY.xattr.'];

function isXattrKey(key: string): boolean {
  return XATTR_PREFIXES.some((p) => key.startsWith(p));
}

/**
 * POSIX pax extended header records: `<length> <key>=<value>\n`, the length counting the whole record.
 * Parsed strictly: a record that lies about its length, lacks its newline, or carries a NUL would make
 * two tar readers disagree about where names end, which is how smuggled paths get past checks.
 */
export function parsePaxRecords(data: Buffer): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let at = 0;
  while (at < data.length) {
    // Writers pad the last block with NULs; only NULs may follow the last record.
    if (data[at] === 0) {
      for (let i = at; i < data.length; i++) if (data[i] !== 0) throw new TarProblem('garbage after pax records');
      break;
    }
    const space = data.indexOf(0x20, at);
    if (space === -1 || space === at || space - at > 20) throw new TarProblem('bad pax record length');
    const lenText = data.toString('latin1', at, space);
    if (!/^[1-9][0-9]*$/.test(lenText)) throw new TarProblem(`bad pax record length ${JSON.stringify(lenText)}`);
    const len = Number(lenText);
    const end = at + len;
    if (end > data.length || end <= space + 1) throw new TarProblem('pax record runs past its header');
    if (data[end - 1] !== 0x0a) throw new TarProblem('pax record does not end with a newline');
    const body = data.subarray(space + 1, end - 1);
    const eq = body.indexOf(0x3d);
    if (eq <= 0) throw new TarProblem('pax record without a key');
    const key = body.toString('utf8', 0, eq);
    const value = body.subarray(eq + 1);
    if (key.includes('\0')) throw new TarProblem('NUL byte in pax record key');
    // Names cut at a NUL by one reader and not by another are a classic smuggling trick; xattr values
    // are binary (security.capability) and are length-delimited, so only they may carry NULs.
    if (!isXattrKey(key) && value.includes(0)) {
      const isName = key === 'path' || key === 'linkpath';
      const why = isName ? ' (readers that stop at the NUL would see another name)' : '';
      throw new TarProblem(`NUL byte in pax record ${JSON.stringify(key)}${why}`, isName ? 'E_UNSAFE_PATH' : 'E_BAD_ARCHIVE');
    }
    // GNU tar lets the first of two equal keys win in a global header and the last in a per-entry one;
    // other readers pick either. (Sparse maps repeat their keys; they are refused later, and said so.)
    if (records.has(key) && !key.startsWith('GNU.sparse.')) {
      const isName = key === 'path' || key === 'linkpath';
      throw new TarProblem(`pax record ${JSON.stringify(key)} appears twice in one header (readers disagree on which wins)`, isName ? 'E_UNSAFE_PATH' : 'E_BAD_ARCHIVE');
    }
    records.set(key, Buffer.from(value));
    at = end;
  }
  return records;
}

/** Keys whose value changes the entry (the others are checked or ignored). */
const ENTRY_KEYS = ['path', 'linkpath', 'size', 'mtime', 'uid', 'gid', 'uname', 'gname'];

/**
 * Records (`x` or `g`) with an empty value for a key that changes entries: POSIX has an empty value
 * cancel the key (the header's value, or an earlier global one, stands), GNU tar reads an empty name or
 * owner and refuses an empty number. Readers would see different entries, so it is refused, as a NUL in
 * a name is.
 */
export function refuseEmptyValues(records: Map<string, Buffer>): Map<string, Buffer> {
  for (const key of ENTRY_KEYS) {
    if (records.get(key)?.length !== 0) continue;
    const isName = key === 'path' || key === 'linkpath';
    throw new TarProblem(`empty pax record ${JSON.stringify(key)} (readers disagree on whether it cancels the value or empties it)`, isName ? 'E_UNSAFE_PATH' : 'E_BAD_ARCHIVE');
  }
  return records;
}

/** What pax records change about the entry they precede. Absent keys leave the header's value. */
export interface PaxOverrides {
  path?: Buffer;
  linkpath?: Buffer;
  size?: number;
  mtime?: number;
  uid?: number;
  gid?: number;
  uname?: Buffer;
  gname?: Buffer;
  xattrs?: Map<string, Buffer>;
}


function unsignedValue(key: string, value: Buffer): number {
  const text = value.toString('latin1');
  if (!/^[0-9]+$/.test(text)) throw new TarProblem(`non-numeric pax ${key} ${JSON.stringify(text)}`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new TarProblem(`pax ${key} out of range`);
  return n;
}

function timeValue(key: string, value: Buffer): number {
  const text = value.toString('latin1');
  if (!/^-?[0-9]+(\.[0-9]+)?$/.test(text)) throw new TarProblem(`non-numeric pax ${key} ${JSON.stringify(text)}`);
  const n = Number(text);
  if (!Number.isFinite(n) || Math.abs(n) > Number.MAX_SAFE_INTEGER) throw new TarProblem(`pax ${key} out of range`);
  return n;
}

/**
 * Interprets records. Keys we do not use (atime, comment, charset, ...) are ignored as POSIX allows;
 * sparse-file records are refused because their data layout would be misread.
 */
export function paxOverrides(records: Map<string, Buffer>): PaxOverrides {
  const out: PaxOverrides = {};
  for (const [key, value] of records) {
    // An empty value cancels the key (it matters for global records overridden per entry).
    if (value.length === 0) continue;
    switch (key) {
      case 'path':
        out.path = value;
        break;
      case 'linkpath':
        out.linkpath = value;
        break;
      case 'size':
        out.size = unsignedValue(key, value);
        break;
      case 'uid':
        out.uid = unsignedValue(key, value);
        break;
      case 'gid':
        out.gid = unsignedValue(key, value);
        break;
      case 'mtime':
        out.mtime = timeValue(key, value);
        break;
      case 'atime':
      case 'ctime':
        timeValue(key, value);
        break;
      case 'uname':
        out.uname = value;
        break;
      case 'gname':
        out.gname = value;
        break;
      default:
        if (key.startsWith('GNU.sparse.')) throw new TarProblem('sparse files are not supported');
        for (const prefix of XATTR_PREFIXES) {
          if (key.startsWith(prefix) && key.length > prefix.length) {
            out.xattrs ??= new Map();
            out.xattrs.set(key.slice(prefix.length), value);
          }
        }
    }
  }
  return out;
}

/**
 * Global (`g`) records apply to every later entry; an empty value removes a key again (only keys that do
 * not change entries get this far: see refuseEmptyValues).
 */
export function mergeGlobal(into: Map<string, Buffer>, records: Map<string, Buffer>): void {
  for (const [key, value] of records) {
    if (value.length === 0) into.delete(key);
    else into.set(key, value);
  }
}
