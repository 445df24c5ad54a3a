import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { parseParagraphs } from '../src/control/deb822';
import { RELATION_FIELDS } from '../src/control/relations';
import { RELATIONS, VERSIONS } from './control-mutate';
import { controlFileOf, splitDeb, type DebSeed } from './deb-mutate';
import { dictionary, type Dictionary, type Outside } from './dictionary';

/**
 * What inputs are made from: the seed archives taken apart once (ar members, the uncompressed tars, the
 * control files), and the versions and relation fields found in them, plus the edge cases the mutators
 * know by heart.
 */
export interface Corpus {
  debs: DebSeed[];
  tars: Buffer[];
  controls: Buffer[];
  versions: string[];
  relations: string[];
  dict: Dictionary;
}

export async function loadCorpus(seedFiles: readonly string[], outside: Outside): Promise<Corpus> {
  const debs: DebSeed[] = [];
  for (const file of seedFiles) debs.push(await splitDeb(path.basename(file), await fsp.readFile(file)));
  if (debs.length === 0) throw new Error('fuzz: no seed archives');
  const tars: Buffer[] = [];
  const controls: Buffer[] = [];
  const versions = new Set(VERSIONS);
  const relations = new Set(RELATIONS);
  for (const d of debs) {
    // Large data tars make every input slow to copy: a real package's first 64 KiB has all its header kinds.
    if (d.data) tars.push(d.data.tar.length > 65536 ? d.data.tar.subarray(0, 65536) : d.data.tar);
    if (d.control) tars.push(d.control.tar);
    const text = d.control && controlFileOf(d.control.tar);
    if (!text) continue;
    controls.push(Buffer.from(text));
    try {
      for (const p of parseParagraphs(text.toString('utf8'))) {
        const v = p.get('Version');
        if (v !== undefined) versions.add(v);
        for (const f of RELATION_FIELDS) {
          const r = p.get(f);
          if (r !== undefined) relations.add(r);
        }
      }
    } catch {
      // A hostile seed's control file: its text is a seed, its fields are not needed.
    }
  }
  return { debs, tars, controls, versions: [...versions], relations: [...relations], dict: dictionary(outside) };
}
