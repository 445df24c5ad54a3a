import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { nativeArchOf } from '../../../dpkg/native-arch';
import type { Action, ActionContext } from '../context';
import { Fsys, type FsysNode } from '../db/fsys';
import type { Inst, World } from '../db/world';
import { fsPath, latin1 } from '../report';

/**
 * -V / --verify (src/main/verify.c), from dpkg's own database: each file of a package's `.list` (through
 * its diversion, unless the package is the one diverting it) checked on the root against the digest in
 * the package's `md5sums`, or for a conffile its Conffiles digest. Only failures are printed, in dpkg's
 * "rpm" format: `missing  ` or `?M5??????`, then `c` for a conffile, then the path. The exit status is 0
 * even when files differ (1 only for a package that is not installed), as in dpkg 1.21.
 *
 * dpkg keeps what it learns about a path across packages within one run (a digest from one package's
 * md5sums, the conffile mark of another); so does this, walking the packages in dpkg's order.
 *
 * overmerge's own verifier (src/engine/verify.ts, `overmerge verify`) checks overmerge's database instead.
 */
export const verify: Action = async (ctx, args) => {
  const { World } = await import('../db/world');
  const world = World.open(fsPath(ctx.settings.dirs.admindir), nativeArchOf(), ctx.report);
  const fsys = new Fsys(world, ctx.report);
  fsys.loadDiversions();
  let rc = 0;
  if (args.length === 0) {
    for (const inst of world.hashOrder()) verifyPackage(ctx, world, fsys, inst);
    return 0;
  }
  const { parsePkgName } = await import('../query/pkgspec');
  for (const arg of args) {
    const inst = parsePkgName(world, arg, ctx.settings.action!.name, ctx.report);
    if (inst.entry.status.state === 'not-installed') {
      ctx.report.notice(`package '${world.displayName(inst)}' is not installed`);
      rc = 1;
      continue;
    }
    verifyPackage(ctx, world, fsys, inst);
  }
  return rc;
};

function verifyPackage(ctx: ActionContext, world: World, fsys: Fsys, inst: Inst): void {
  const files = fsys.filesOf(inst);
  readDigests(ctx, world, fsys, inst);
  for (const c of inst.entry.conffiles) {
    const node = fsys.find(c.path);
    node.oldConffile = true;
    node.oldhash ??= c.hash;
  }
  let out = '';
  for (const node of files) {
    const d = node.divert;
    const use = d?.useinstead && d.pkgset !== inst.set.name ? d.useinstead : node;
    const line = verifyFile(`${ctx.settings.dirs.root}${use.name}`, use);
    if (line !== undefined) out += line;
  }
  ctx.out(out);
}

/** One file's line, or undefined when it passes. */
function verifyFile(filename: string, node: FsysNode): string | undefined {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(latin1(filename));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? '' : ` (${strerror(code)})`;
    return `missing   ${attr(node)} ${node.name}${why}\n`;
  }
  if (node.newhash === undefined && node.oldhash !== undefined) node.newhash = node.oldhash;
  if (node.newhash === undefined) return undefined;
  let failures = 0;
  const mode = st.isFile() ? '?' : 'M';
  if (mode === 'M') failures++;
  const digest = md5(filename);
  let sum: string;
  if (digest === undefined) {
    sum = '?';
    failures++;
  } else if (digest === node.newhash) {
    sum = '.';
  } else {
    sum = '5';
    failures++;
  }
  if (failures === 0) return undefined;
  return `?${mode}${sum}?????? ${attr(node)} ${node.name}\n`;
}

function attr(node: FsysNode): string {
  return node.oldConffile ? 'c' : ' ';
}

/** The MD5 of a file (following a symlink, as dpkg's open() does), or undefined when it cannot be opened. */
function md5(filename: string): string | undefined {
  let fd: number;
  try {
    fd = fs.openSync(latin1(filename), 'r');
  } catch {
    return undefined;
  }
  try {
    const hash = createHash('md5');
    const buf = Buffer.alloc(1 << 16);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      hash.update(buf.subarray(0, n));
    }
    return hash.digest('hex');
  } finally {
    fs.closeSync(fd);
  }
}

/** parse_filehash(): the package's md5sums, each digest set on its path's node. */
function readDigests(ctx: ActionContext, world: World, fsys: Fsys, inst: Inst): void {
  const file = world.infoFile(inst, 'md5sums');
  let text: string;
  try {
    text = fs.readFileSync(file).toString('latin1');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    return ctx.report.fatal(`loading control file 'md5sums' for package '${world.displayName(inst)}': failed to read '${file}': ${strerror(code)}`);
  }
  const name = world.displayName(inst);
  let pos = 0;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    if (nl < 0) ctx.report.fatal(`control file 'md5sums' for package '${name}' is missing final newline`);
    const hashEnd = pos + 32;
    if (hashEnd + 3 > nl) ctx.report.fatal(`control file 'md5sums' for package '${name}' is missing value`);
    if (text[hashEnd] !== ' ' || text[hashEnd + 1] !== ' ') ctx.report.fatal(`control file 'md5sums' for package '${name}' is missing value separator`);
    let end = nl;
    if (end > pos && text[end - 1] === '/') end--;
    if (end === pos) ctx.report.fatal(`control file 'md5sums' for package '${name}' contains empty filename`);
    fsys.find(text.slice(hashEnd + 2, end)).newhash = text.slice(pos, hashEnd);
    pos = nl + 1;
  }
}

function strerror(code: string | undefined): string {
  const known: Record<string, string> = {
    EACCES: 'Permission denied',
    ENOTDIR: 'Not a directory',
    ELOOP: 'Too many levels of symbolic links',
    ENAMETOOLONG: 'File name too long',
    EIO: 'Input/output error',
  };
  return (code && known[code]) ?? code ?? 'unknown error';
}
