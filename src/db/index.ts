export { openDatabase } from './open';
export type { OpenOptions } from './open';
export { Db } from './db';
export { SCHEMA_VERSION } from './schema';
export * from './types';
