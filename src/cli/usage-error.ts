/** A command line that does not make sense: printed as one line, exit status 2. */
export class UsageError extends Error {}
