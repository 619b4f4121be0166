/** A command given something it cannot use: printed as one line, exit 2. */
export class UsageError extends Error {}
