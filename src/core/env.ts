import { InputError } from './errors.ts';

/** The environment a step runs with: the only input every command has. */
export type Env = Readonly<Record<string, string | undefined>>;

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

/** REGAUTH_<PARAMETER> is how the orb hands each parameter to the script. */
export function envKey(parameter: string): string {
  return `REGAUTH_${parameter.toUpperCase()}`;
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
