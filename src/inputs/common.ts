import { InputError } from '../core/errors.ts';

/**
 * Shared parameter checks. Parameters arrive as environment variables set by the step's
 * `environment:` map (REGAUTH_<NAME>); nothing here ever runs a shell.
 */
export type Env = Readonly<Record<string, string | undefined>>;

/** Characters that have meaning to a shell, and control characters. No regauth parameter needs any of them. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what this refuses
const SHELL_METACHARACTERS = /[`$;&|<>(){}\\'"!*?[\]#~\s\u0000-\u001f\u007f]/u;

/** Expands `${NAME}` and `$NAME` from the environment; anything else is left as it is. */
export function expandEnvReferences(value: string, env: Env): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_m, braced: string | undefined, bare: string | undefined) => {
    const name = braced ?? bare ?? '';
    return env[name] ?? '';
  });
}

/** The variables a parameter's raw value refers to, with their values (empty ones left out). */
export function referencedVariables(raw: string, env: Env): { name: string; value: string }[] {
  const found: { name: string; value: string }[] = [];
  for (const match of raw.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g)) {
    const name = match[1] ?? match[2] ?? '';
    const value = env[name] ?? '';
    if (value.trim() !== '' && !found.some((f) => f.name === name)) found.push({ name, value });
  }
  return found;
}

/**
 * The one place that keeps expanded values out of input errors. Validators quote what they were
 * given (JSON-quoted, sometimes shortened or lower-cased); when the parameter's value came from
 * `${VAR}`, the variable may hold a secret (a token, a password), so every quoted part that
 * comes from a variable — and any bare occurrence of its value, in any case — is replaced by
 * where it came from, `${NAME}`. What is wrong stays in the message.
 */
export function withoutExpandedValues(error: InputError, env: Env): InputError {
  const refs = referencedVariables(env[envKey(error.parameter)] ?? '', env);
  if (refs.length === 0) return error;
  const placeholder = (name: string): string => `\${${name}}`;
  const fromVariable = (text: string): { name: string } | undefined => {
    const content = text.replace(/(?:\.\.\.|…)$/u, '').toLowerCase();
    return refs.find(({ value }) => {
      const lower = value.toLowerCase().trim();
      if ((content.length >= 2 && lower.includes(content)) || (lower.length >= 2 && content.includes(lower))) return true;
      // Partly literal, partly the variable, perhaps shortened: any six characters in common.
      for (let i = 0; i + 6 <= lower.length; i++) if (content.includes(lower.slice(i, i + 6))) return true;
      return false;
    });
  };
  let reason = error.reason.replace(/"(?:[^"\\]|\\.)*"/gu, (quoted) => {
    let content: string;
    try {
      content = String(JSON.parse(quoted));
    } catch {
      content = quoted.slice(1, -1);
    }
    const hit = fromVariable(content);
    return hit ? placeholder(hit.name) : quoted;
  });
  for (const { name, value } of refs) {
    const pieces = [value, value.trim(), ...value.split(/[\s,]+/u)].filter((piece) => piece.length >= 4).sort((a, b) => b.length - a.length);
    for (const piece of pieces) {
      const escaped = piece.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      reason = reason.replace(new RegExp(escaped, 'giu'), placeholder(name));
    }
  }
  return new InputError(error.parameter, reason);
}

/** A string parameter: env references expanded, then refused if any shell metacharacter is left. */
export function stringParameter(env: Env, parameter: string, opts: { maxLength?: number } = {}): string {
  const raw = env[envKey(parameter)] ?? '';
  const value = expandEnvReferences(raw, env).trim();
  const max = opts.maxLength ?? 2048;
  if (value.length > max) throw new InputError(parameter, `is ${value.length} characters long; the limit is ${max}`);
  const bad = SHELL_METACHARACTERS.exec(value);
  if (bad) throw new InputError(parameter, `contains ${describeCharacter(bad[0])}, which no valid value has`);
  return value;
}

/** A list parameter separated by commas, spaces or newlines. */
export function listParameter(env: Env, parameter: string, opts: { maxLength?: number } = {}): string[] {
  const raw = env[envKey(parameter)] ?? '';
  const value = expandEnvReferences(raw, env);
  const max = opts.maxLength ?? 65536;
  if (value.length > max) throw new InputError(parameter, `is ${value.length} characters long; the limit is ${max}`);
  const items = value.split(/[\s,]+/u).filter((item) => item.length > 0);
  for (const item of items) {
    const bad = SHELL_METACHARACTERS.exec(item);
    if (bad) throw new InputError(parameter, `item ${JSON.stringify(truncate(item))} contains ${describeCharacter(bad[0])}, which no valid value has`);
  }
  return items;
}

export function integerParameter(env: Env, parameter: string, range: { min: number; max: number; fallback: number }): number {
  const raw = expandEnvReferences(env[envKey(parameter)] ?? '', env).trim();
  if (raw === '') return range.fallback;
  if (!/^\d{1,9}$/.test(raw)) throw new InputError(parameter, `must be a whole number from ${range.min} to ${range.max}, got ${JSON.stringify(truncate(raw))}`);
  const value = Number(raw);
  if (value < range.min || value > range.max) throw new InputError(parameter, `must be from ${range.min} to ${range.max}, got ${value}`);
  return value;
}

export function booleanParameter(env: Env, parameter: string): boolean {
  const raw = (env[envKey(parameter)] ?? '').trim();
  if (raw === '' || raw === 'false' || raw === '0') return false;
  if (raw === 'true' || raw === '1') return true;
  throw new InputError(parameter, `must be true or false, got ${JSON.stringify(truncate(raw))}`);
}

const ENV_VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,254}$/;

/**
 * An env_var_name parameter: the parameter holds a variable's name, the variable the secret.
 * Returns the variable's name and value; the value must be registered with the redactor by the caller.
 */
export function secretFromEnvName(env: Env, parameter: string, opts: { required: boolean }): { name: string; value: string | undefined } {
  const name = (env[envKey(parameter)] ?? '').trim();
  if (!ENV_VAR_NAME.test(name)) throw new InputError(parameter, `must name an environment variable (letters, digits, _), got ${JSON.stringify(truncate(name))}`);
  const value = env[name];
  if ((value === undefined || value === '') && opts.required) {
    throw new InputError(parameter, `environment variable ${name} is not set or empty; add it to the project's settings or a context`);
  }
  return { name, value: value === '' ? undefined : value };
}

/** REGAUTH_<PARAMETER> is how the orb hands each parameter to the script. */
export function envKey(parameter: string): string {
  return `REGAUTH_${parameter.toUpperCase()}`;
}

function describeCharacter(ch: string): string {
  if (/\s/u.test(ch)) return ch === ' ' ? 'a space' : 'a whitespace or line break';
  const code = ch.codePointAt(0) ?? 0;
  if (code < 0x20 || code === 0x7f) return `a control character (U+${code.toString(16).padStart(4, '0').toUpperCase()})`;
  return `the shell metacharacter ${JSON.stringify(ch)}`;
}

export function truncate(value: string, max = 80): string {
  return value.length > max ? `${value.slice(0, max)}…` : value;
}

/**
 * Parameters whose expanded value is printed as it is: the documented defaults a user needs to
 * read back (which role, which region, which Google provider and service account).
 */
const SHOWN_EXPANDED = new Set(['REGAUTH_ROLE_ARN', 'REGAUTH_REGION', 'REGAUTH_WORKLOAD_IDENTITY_PROVIDER', 'REGAUTH_SERVICE_ACCOUNT']);

/**
 * Every value a parameter took from the environment through `${VAR}` (other than the documented
 * defaults above), with how to show it instead: `${VAR}`. A variable may hold a secret, and
 * CircleCI masks only exact whole values, so its contents are never printed, lower-cased or cut.
 */
export function expandedValuesToHide(env: Env): { value: string; shownAs: string }[] {
  const hidden: { value: string; shownAs: string }[] = [];
  for (const [key, raw] of Object.entries(env)) {
    if (!key.startsWith('REGAUTH_') || SHOWN_EXPANDED.has(key) || raw === undefined || !raw.includes('$')) continue;
    for (const { name, value } of referencedVariables(raw, env)) {
      for (const piece of new Set([value, value.trim(), ...value.split(/[\s,]+/u)])) if (piece.length >= 4) hidden.push({ value: piece, shownAs: `\${${name}}` });
    }
  }
  return hidden;
}
