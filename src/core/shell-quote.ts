/**
 * The one shell quoter: a value inside single quotes, each `'` closed, escaped and reopened.
 * Everything regauth appends to $BASH_ENV goes through it (paths and names, never a secret).
 */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
