import { InputError } from '../core/errors.ts';
import { envKey, expandEnvReferences, type Env } from '../core/env.ts';

// The environment's shape and the rules for ${VAR} values live in core (the command runner needs them too).
export { envKey, expandEnvReferences, expandedValuesToHide, referencedVariables, withoutExpandedValues, type Env } from '../core/env.ts';

/**
 * Shared parameter checks. Parameters arrive as environment variables set by the step's
 * `environment:` map (REGAUTH_<NAME>); nothing here ever runs a shell.
 */

/** Characters that have meaning to a shell, and control characters. No regauth parameter needs any of them. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what this refuses
const SHELL_METACHARACTERS = /[`$;&|<>(){}\\'"!*?[\]#~\s\u0000-\u001f\u007f]/u;

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

function describeCharacter(ch: string): string {
  if (/\s/u.test(ch)) return ch === ' ' ? 'a space' : 'a whitespace or line break';
  const code = ch.codePointAt(0) ?? 0;
  if (code < 0x20 || code === 0x7f) return `a control character (U+${code.toString(16).padStart(4, '0').toUpperCase()})`;
  return `the shell metacharacter ${JSON.stringify(ch)}`;
}

export function truncate(value: string, max = 80): string {
  return value.length > max ? `${value.slice(0, max)}…` : value;
}

