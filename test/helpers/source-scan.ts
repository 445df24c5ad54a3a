import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

/**
 * Reads the project's TypeScript sources (not the compiled output) to check its boundaries: which modules
 * write to the filesystem, and which import which. Parsing with the compiler rather than matching text
 * means a comment or a string that mentions `fs.rename` is not a call, and an aliased import is still seen.
 */

/** Every .ts file under `dir`, as paths relative to `base`, sorted. */
export function sourceFiles(dir: string, base: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p, base));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(path.relative(base, p));
  }
  return out.sort();
}

function parse(file: string): ts.SourceFile {
  return ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
}

const FS_MODULES = new Set(['fs', 'node:fs', 'fs/promises', 'node:fs/promises']);

/** Functions of node:fs (sync, callback and promise forms alike) that change the filesystem. */
const WRITING = new Set(
  [
    'appendFile',
    'chmod',
    'chown',
    'copyFile',
    'cp',
    'createWriteStream',
    'fchmod',
    'fchown',
    'fdatasync',
    'ftruncate',
    'futimes',
    'lchmod',
    'lchown',
    'link',
    'lutimes',
    'mkdir',
    'mkdtemp',
    'rename',
    'rm',
    'rmdir',
    'symlink',
    'truncate',
    'unlink',
    'utimes',
    'write',
    'writeFile',
    'writev',
  ].flatMap((n) => [n, `${n}Sync`]),
);

/** Opening is a write unless the flags say read-only (a literal 'r', or none at all). */
const OPENING = new Set(['open', 'openSync', 'opendir', 'opendirSync']);

export interface FsWrite {
  file: string;
  line: number;
  call: string;
}

/**
 * Calls in `file` that write to the filesystem through node:fs: `fs.rename(…)`, `fsp.mkdir(…)`,
 * `writeFileSync(…)` imported by name, `fs.promises.unlink(…)`, and `open` with flags that are not plainly
 * read-only.
 */
export function fsWritesIn(file: string, shownAs: string): FsWrite[] {
  const src = parse(file);
  const namespaces = new Set<string>(); // `import * as fs`, `import fs`, `promises as fsp`
  const named = new Map<string, string>(); // local name → fs function name
  for (const st of src.statements) {
    if (!ts.isImportDeclaration(st) || !ts.isStringLiteral(st.moduleSpecifier) || !FS_MODULES.has(st.moduleSpecifier.text)) continue;
    const clause = st.importClause;
    if (!clause || clause.isTypeOnly) continue;
    if (clause.name) namespaces.add(clause.name.text);
    const b = clause.namedBindings;
    if (b && ts.isNamespaceImport(b)) namespaces.add(b.name.text);
    if (b && ts.isNamedImports(b)) {
      for (const el of b.elements) {
        if (el.isTypeOnly) continue;
        const imported = (el.propertyName ?? el.name).text;
        if (imported === 'promises') namespaces.add(el.name.text);
        else named.set(el.name.text, imported);
      }
    }
  }
  const found: FsWrite[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node)) {
      const fn = calledFsFunction(node.expression, namespaces, named);
      if (fn !== undefined && (WRITING.has(fn) || (OPENING.has(fn) && !readOnlyOpen(node)))) {
        found.push({ file: shownAs, line: src.getLineAndCharacterOfPosition(node.getStart()).line + 1, call: node.expression.getText() });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(src);
  return found;
}

function calledFsFunction(callee: ts.Expression, namespaces: Set<string>, named: Map<string, string>): string | undefined {
  if (ts.isIdentifier(callee)) return named.get(callee.text);
  if (!ts.isPropertyAccessExpression(callee)) return undefined;
  const name = callee.name.text;
  const obj = callee.expression;
  if (ts.isIdentifier(obj) && namespaces.has(obj.text)) return name;
  // require('node:fs').x
  if (ts.isCallExpression(obj) && ts.isIdentifier(obj.expression) && obj.expression.text === 'require') {
    const arg = obj.arguments[0];
    if (arg && ts.isStringLiteral(arg) && FS_MODULES.has(arg.text)) return name;
  }
  // fs.promises.x
  if (ts.isPropertyAccessExpression(obj) && obj.name.text === 'promises' && ts.isIdentifier(obj.expression) && namespaces.has(obj.expression.text)) {
    return name;
  }
  return undefined;
}

function readOnlyOpen(call: ts.CallExpression): boolean {
  const flags = call.arguments[1];
  if (flags === undefined) return true;
  if (ts.isStringLiteral(flags)) return flags.text === 'r';
  const text = flags.getText();
  // Numeric flags built from constants: read-only when they name O_RDONLY and no writing flag.
  return /O_RDONLY|O_DIRECTORY/.test(text) && !/O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND/.test(text);
}

/** The relative imports of `file` (static imports, `export … from`, `import()` and `require()` with a literal). */
export function relativeImports(file: string): string[] {
  const src = parse(file);
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    let spec: ts.Expression | undefined;
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) spec = node.moduleSpecifier;
    else if (ts.isCallExpression(node) && (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === 'require'))) {
      spec = node.arguments[0];
    }
    if (spec && ts.isStringLiteral(spec) && spec.text.startsWith('.')) out.push(spec.text);
    ts.forEachChild(node, visit);
  };
  visit(src);
  return out;
}

/** Import cycles among `files` (paths relative to `base`), each as the list of modules around it. */
export function importCycles(files: string[], base: string): string[][] {
  const known = new Set(files);
  const edges = new Map<string, string[]>();
  for (const f of files) {
    const targets: string[] = [];
    for (const spec of relativeImports(path.join(base, f))) {
      const resolved = path.normalize(path.join(path.dirname(f), spec));
      const candidate = [`${resolved}.ts`, path.join(resolved, 'index.ts')].find((c) => known.has(c));
      if (candidate) targets.push(candidate);
    }
    edges.set(f, targets);
  }
  // Tarjan's strongly connected components: every component of more than one module (or a self-import) is a cycle.
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const connect = (v: string): void => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!idx.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, idx.get(w)!));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      for (let w = stack.pop(); w !== undefined; w = w === v ? undefined : stack.pop()) {
        onStack.delete(w);
        comp.push(w);
      }
      if (comp.length > 1 || (edges.get(v) ?? []).includes(v)) cycles.push(comp.sort());
    }
  };
  for (const f of files) if (!idx.has(f)) connect(f);
  return cycles;
}
