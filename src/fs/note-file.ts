import { writeFileSync } from 'node:fs';
import { fsError } from '../errors';

/**
 * Writes a short note outside any root overmerge manages — a crash-point count or a process id that a
 * test asked for by naming the file — synchronously, so it is there even when the process exits (or
 * kills itself) right after.
 */
export function writeNote(file: string, text: string): void {
  try {
    writeFileSync(file, text);
  } catch (err) {
    throw fsError('write', err, file);
  }
}
