// Checks the orb for what CircleCI's schema cannot see: orb-tools' review rules by their own
// numbers and meanings (RC001–RC012, CircleCI-Public/orb-tools-orb src/scripts/review.bats) and
// regauth's own rules (RG*). reviewOrb judges the packed orb; reviewOrbSource the orb/ folder
// (RC009 and RC010's file names are about source files). Pure apart from reading files.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { repoRoot, validateConfig, wrapOrbInConfig } from './schema.ts';

/**
 * The orb-tools rules regauth's pipeline excludes, each with its reason. RC006 and RC007 need
 * the network, which this review has not: here they check the URL's form, and the pipeline's
 * review job asks the URLs themselves (curl, as review.bats does).
 */
export const EXCLUDED_RULES: Readonly<Record<string, string>> = {
  RC010: 'the command names ecr-oidc-login, ecr-login and gcp-oidc-login are the published interface (renaming them would break every user); parameter keys and every other name are still checked',
};

/** orb-tools' default `max_command_length` for RC009. */
export const MAX_COMMAND_LENGTH = 64;

export interface ReviewOptions {
  /** Major version examples must use; default: the major of package.json's version. */
  readonly major?: number;
  /** Registry name of the orb; default `org/regauth`. */
  readonly orbName?: string;
  /** Component names allowed to break snake_case (RC010): the published interface. */
  readonly snakeCaseWaived?: readonly string[];
  /** Schema file for validateConfig; default: its own resolution. */
  readonly schemaFile?: string;
}

const KINDS = ['commands', 'jobs', 'executors'] as const;
const DEFAULT_WAIVED = ['ecr-oidc-login', 'ecr-login', 'gcp-oidc-login'];
const PARAMETER_REF = /(?<!\\)<<\s*parameters\.([A-Za-z0-9_-]+)\s*>>/g;
/** What may follow an unescaped `<<` in run text: a parameter or pipeline value. */
const INTERPOLATION = /^<<\s*(parameters|pipeline)\.[A-Za-z0-9_.-]+\s*>>/;
const ENV_VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SNAKE_CASE = /^[a-z][a-z0-9_]*$/;
/** regauth's RG09: a name that says nothing (orb-tools' RC004 only forbids the word "example"). */
const GENERIC_EXAMPLE = /^(example|examples|usage|sample|test|demo|basic|default)[-_]?\d*$/;
const WORKFLOW_JOB_KEYS = new Set(['requires', 'context', 'filters', 'name', 'matrix', 'pre-steps', 'post-steps', 'type', 'serial-group', 'override-with']);

/** The major version of package.json, which examples must reference. */
export function currentMajor(root: string = repoRoot): number {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version?: unknown };
  const major = Number(String(pkg.version ?? '').split('.')[0]);
  if (!Number.isInteger(major)) throw new Error(`package.json has no semver version: ${String(pkg.version)}`);
  return major;
}

type Obj = Record<string, unknown>;

function isObj(value: unknown): value is Obj {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function entries(value: unknown): [string, unknown][] {
  return isObj(value) ? Object.entries(value) : [];
}

function omit(value: Obj, ...keys: string[]): Obj {
  return Object.fromEntries(Object.entries(value).filter(([key]) => !keys.includes(key)));
}

/**
 * The orb as the schema should judge it: a step field that is exactly `<< parameters.NAME >>`
 * holds that parameter's default, as CircleCI substitutes it before checking a step (a typed
 * field such as run.no_output_timeout cannot match its pattern while still a reference).
 */
function withParameterDefaults(orb: Obj): Obj {
  const out: Obj = { ...orb };
  for (const kind of ['commands', 'jobs']) {
    if (!isObj(orb[kind])) continue;
    out[kind] = Object.fromEntries(
      Object.entries(orb[kind]).map(([name, component]) => {
        if (!isObj(component) || !isObj(component['parameters'])) return [name, component];
        const defaults = new Map<string, unknown>();
        for (const [param, spec] of Object.entries(component['parameters'])) if (isObj(spec) && 'default' in spec) defaults.set(param, spec['default']);
        const substitute = (value: unknown): unknown => {
          if (typeof value === 'string') {
            const whole = /^<<\s*parameters\.([A-Za-z0-9_-]+)\s*>>$/.exec(value.trim());
            return whole?.[1] !== undefined && defaults.has(whole[1]) ? defaults.get(whole[1]) : value;
          }
          if (Array.isArray(value)) return value.map(substitute);
          if (isObj(value)) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, key === 'environment' ? item : substitute(item)]));
          return value;
        };
        return [name, { ...component, steps: substitute(component['steps']) }];
      }),
    );
  }
  return out;
}

function hasText(value: unknown): boolean {
  return typeof value === 'string' && value.trim() !== '';
}

/** Every string (and map key) under a value, with its location. */
function strings(value: unknown, at: string, out: [string, string][] = []): [string, string][] {
  if (typeof value === 'string') out.push([at, value]);
  else if (Array.isArray(value)) value.forEach((item, i) => strings(item, `${at}[${i}]`, out));
  else if (isObj(value)) {
    for (const [key, item] of Object.entries(value)) {
      out.push([at, key]);
      strings(item, `${at}.${key}`, out);
    }
  }
  return out;
}

/** Run steps of a step list, descending into when/unless blocks. */
function runSteps(steps: unknown, at: string, out: [string, unknown][] = []): [string, unknown][] {
  if (!Array.isArray(steps)) return out;
  steps.forEach((step, i) => {
    for (const [key, body] of entries(step)) {
      if (key === 'run') out.push([`${at}[${i}].run`, body]);
      if ((key === 'when' || key === 'unless') && isObj(body)) runSteps(body['steps'], `${at}[${i}].${key}.steps`, out);
    }
  });
  return out;
}

/** Steps that invoke a command, as [location, name, arguments], descending into when/unless. */
function invocations(steps: unknown, at: string, out: [string, string, Obj][] = []): [string, string, Obj][] {
  if (!Array.isArray(steps)) return out;
  steps.forEach((step, i) => {
    if (typeof step === 'string') out.push([`${at}[${i}]`, step, {}]);
    for (const [key, body] of entries(step)) {
      if ((key === 'when' || key === 'unless') && isObj(body)) invocations(body['steps'], `${at}[${i}].${key}.steps`, out);
      else out.push([`${at}[${i}]`, key, isObj(body) ? body : {}]);
    }
  });
  return out;
}

function checkMetadata(orb: Obj, problems: string[]): void {
  const display = isObj(orb['display']) ? orb['display'] : {};
  // RC001: source_url is set. RC006 / RC007: source_url / home_url (when set) are reachable; offline,
  // their form is what can be checked (the pipeline's review job asks the URLs).
  if (!hasText(display['source_url'])) problems.push('RC001 display.source_url: missing');
  else if (!isHttpsUrl(String(display['source_url']))) problems.push(`RC006 display.source_url: ${JSON.stringify(display['source_url'])} is not a valid https URL`);
  if (display['home_url'] !== undefined && !isHttpsUrl(String(display['home_url']))) {
    problems.push(`RC007 display.home_url: ${JSON.stringify(display['home_url'])} is not a valid https URL`);
  }
  const description = orb['description'];
  if (!hasText(description)) problems.push('RC005 description: the orb has no description');
  else if (String(description).trim().length < 64) {
    problems.push('RC005 description: too short to tell users what the orb does (at least 64 characters)');
  }
}

function isHttpsUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'https:' && url.hostname.includes('.');
  } catch {
    return false;
  }
}

function checkComponent(kind: string, name: string, component: unknown, waived: ReadonlySet<string>, problems: string[]): void {
  const at = `${kind}.${name}`;
  if (!SNAKE_CASE.test(name) && !waived.has(name)) problems.push(`RC010 ${at}: name is not snake_case`);
  if (!isObj(component)) return;
  if (!hasText(component['description'])) problems.push(`RC002 ${at}: has no description`);

  const declared = new Map(entries(component['parameters']));
  for (const [param, spec] of declared) {
    const pat = `${at}.parameters.${param}`;
    if (!SNAKE_CASE.test(param)) problems.push(`RC010 ${pat}: name is not snake_case`);
    if (!isObj(spec)) continue;
    if (!hasText(spec['description'])) problems.push(`RG05 ${pat}: has no description`);
    if ('default' in spec) checkDefault(pat, spec, problems);
  }

  // Parameters enter the body only through << parameters.NAME >>.
  const body = omit(component, 'parameters', 'description');
  const referenced = new Set<string>();
  for (const [, text] of strings(body, at)) for (const match of text.matchAll(PARAMETER_REF)) referenced.add(match[1] ?? '');
  for (const param of declared.keys()) {
    if (!referenced.has(param)) problems.push(`RG01 ${at}.parameters.${param}: declared but never used as << parameters.${param} >>`);
  }
  for (const param of referenced) {
    if (!declared.has(param)) problems.push(`RG02 ${at}: uses << parameters.${param} >> but declares no such parameter`);
  }

  for (const [runAt, run] of runSteps(component['steps'], `${at}.steps`)) checkRun(runAt, run, problems);
  checkKeyProperties(at, declared, body, problems);
}

/**
 * RC012: a parameter whose default is an environment variable (`$…`) is not used in a `key`
 * property (cache keys), where CircleCI does not expand environment variables.
 */
function checkKeyProperties(at: string, declared: Map<string, unknown>, body: unknown, problems: string[]): void {
  const fromEnv = [...declared].filter(([, spec]) => isObj(spec) && typeof spec['default'] === 'string' && spec['default'].trim().startsWith('$')).map(([param]) => param);
  if (fromEnv.length === 0) return;
  const visit = (value: unknown, where: string): void => {
    if (Array.isArray(value)) value.forEach((item, i) => visit(item, `${where}[${i}]`));
    else if (isObj(value)) {
      for (const [key, item] of Object.entries(value)) {
        if ((key === 'key' || key === 'keys') && JSON.stringify(item) !== undefined) {
          for (const param of fromEnv) {
            if (new RegExp(`<<\\s*parameters\\.${param}\\s*>>`).test(JSON.stringify(item))) problems.push(`RC012 ${where}.${key}: uses parameter ${param}, whose default is an environment variable, which a key never expands`);
          }
        }
        visit(item, `${where}.${key}`);
      }
    }
  };
  visit(body, at);
}

function checkDefault(at: string, spec: Obj, problems: string[]): void {
  const value = spec['default'];
  if (spec['type'] === 'env_var_name' && !(typeof value === 'string' && ENV_VAR_NAME.test(value))) {
    problems.push(`RG11 ${at}: env_var_name default ${JSON.stringify(value)} must be a plain variable name`);
  }
  // `${VAR}` is expanded by regauth at run time; a bare `$VAR` is a literal CircleCI never expands.
  if (spec['type'] === 'string' && typeof value === 'string' && /(^|[^\\$])\$[A-Za-z_]/.test(value)) {
    problems.push(`RG11 ${at}: default ${JSON.stringify(value)} holds a bare $VAR that is never expanded; write \${VAR}`);
  }
}

function checkRun(at: string, run: unknown, problems: string[]): void {
  if (!isObj(run)) {
    problems.push(`RC008 ${at}: short-form run step has no name`);
    return;
  }
  if (!hasText(run['name'])) problems.push(`RC008 ${at}: run step has no name`);
  const command = typeof run['command'] === 'string' ? run['command'] : '';
  for (let i = command.indexOf('<<'); i !== -1; i = command.indexOf('<<', i + 2)) {
    if (i > 0 && command[i - 1] === '\\') continue;
    if (INTERPOLATION.test(command.slice(i))) continue;
    const line = command.slice(0, i).split('\n').length;
    problems.push(`RG04 ${at}.command: unescaped "<<" on line ${line} (write \\<< for a literal heredoc or shift)`);
  }
}

function checkExamples(orb: Obj, options: Required<Pick<ReviewOptions, 'major' | 'orbName'>> & ReviewOptions, problems: string[]): void {
  const examples = entries(orb['examples']);
  if (examples.length === 0) problems.push('RC003 examples: the orb has no usage example');
  const inline = withParameterDefaults(omit(orb, 'examples'));
  const expected = `${options.orbName}@${options.major}`;
  for (const [name, example] of examples) {
    const at = `examples.${name}`;
    if (/example/i.test(name)) problems.push(`RC004 ${at}: the name contains the word "example"; name what it shows`);
    else if (GENERIC_EXAMPLE.test(name) || name.split(/[-_]/).filter(Boolean).length < 2) {
      problems.push(`RG09 ${at}: name does not say what the example shows`);
    }
    if (!isObj(example)) continue;
    if (!hasText(example['description'])) problems.push(`RC002 ${at}: has no description`);
    const usage = example['usage'];
    if (!isObj(usage)) {
      problems.push(`RG06 ${at}.usage: missing`);
      continue;
    }
    const aliases = entries(usage['orbs'])
      .filter(([, ref]) => typeof ref === 'string' && ref.startsWith(`${options.orbName}@`))
      .map(([alias, ref]) => [alias, String(ref)] as const);
    if (aliases.length === 0) problems.push(`RC011 ${at}.usage.orbs: does not use ${expected}`);
    for (const [alias, ref] of aliases) {
      if (ref !== expected) problems.push(`RC011 ${at}.usage.orbs.${alias}: uses ${ref}; examples must use ${expected}`);
    }
    const orbs: Obj = { ...(isObj(usage['orbs']) ? usage['orbs'] : {}) };
    for (const [alias] of aliases) orbs[alias] = inline;
    const config = { ...usage, orbs };
    for (const problem of validateConfig(config, options.schemaFile)) problems.push(`RG06 ${at}.usage: ${problem}`);
    for (const [alias] of aliases) checkCalls(orb, alias, usage, `${at}.usage`, problems);
  }
}

/** Example calls name existing commands/jobs and pass exactly their declared parameters. */
function checkCalls(orb: Obj, alias: string, usage: Obj, at: string, problems: string[]): void {
  const prefix = `${alias}/`;
  const check = (where: string, kind: 'commands' | 'jobs', name: string, args: Obj, extra: ReadonlySet<string>): void => {
    const component = isObj(orb[kind]) ? orb[kind][name] : undefined;
    if (!isObj(component)) {
      problems.push(`RG07 ${where}: ${prefix}${name} is not a ${kind === 'commands' ? 'command' : 'job'} of the orb`);
      return;
    }
    const declared = isObj(component['parameters']) ? component['parameters'] : {};
    for (const arg of Object.keys(args)) {
      if (!(arg in declared) && !extra.has(arg)) problems.push(`RG07 ${where}: ${prefix}${name} has no parameter ${arg}`);
    }
    for (const [param, spec] of Object.entries(declared)) {
      if (isObj(spec) && !('default' in spec) && !(param in args)) problems.push(`RG07 ${where}: ${prefix}${name} needs ${param}`);
    }
  };
  for (const [jobName, job] of entries(usage['jobs'])) {
    if (!isObj(job)) continue;
    for (const [stepAt, name, args] of invocations(job['steps'], `${at}.jobs.${jobName}.steps`)) {
      if (name.startsWith(prefix)) check(stepAt, 'commands', name.slice(prefix.length), args, new Set());
    }
  }
  for (const [workflowName, workflow] of entries(usage['workflows'])) {
    if (!isObj(workflow) || !Array.isArray(workflow['jobs'])) continue;
    workflow['jobs'].forEach((entry: unknown, i: number) => {
      const [name, args] = typeof entry === 'string' ? [entry, {}] : (entries(entry)[0] ?? ['', {}]);
      if (name.startsWith(prefix)) {
        check(`${at}.workflows.${workflowName}.jobs[${i}]`, 'jobs', name.slice(prefix.length), isObj(args) ? args : {}, WORKFLOW_JOB_KEYS);
      }
    });
  }
}

/**
 * Checks a config's calls of the orb (imported as `alias`): every `alias/NAME` is a command or
 * job of the packed orb, given only declared parameters and every required one.
 */
export function checkOrbUsage(packedOrb: object, config: object, alias = 'regauth'): string[] {
  const problems: string[] = [];
  checkCalls(packedOrb as Obj, alias, config as Obj, 'config', problems);
  return problems;
}

/**
 * Reviews a packed orb (the object `dist/orb.yml` parses to). Returns one line per problem,
 * each starting with its rule (RC* as orb-tools' review.bats numbers them, RG* regauth's own);
 * empty when the orb passes. RC009 and RC010's file names are reviewOrbSource's.
 */
export function reviewOrb(packedOrb: object, options: ReviewOptions = {}): string[] {
  const orb = packedOrb as Obj;
  const settings = { ...options, major: options.major ?? currentMajor(), orbName: options.orbName ?? defaultOrbName() };
  const waived = new Set(options.snakeCaseWaived ?? DEFAULT_WAIVED);
  const problems: string[] = [];

  checkMetadata(orb, problems);
  for (const kind of KINDS) for (const [name, component] of entries(orb[kind])) checkComponent(kind, name, component, waived, problems);

  for (const [at, text] of strings(orb, '')) {
    if (text.includes('<<include(')) problems.push(`RG03 ${at.replace(/^\./, '') || '(root)'}: leftover <<include(...)>>`);
  }

  const inline = withParameterDefaults(omit(orb, 'examples'));
  for (const problem of validateConfig(wrapOrbInConfig(inline), options.schemaFile)) problems.push(`RG08 orb: ${problem}`);
  checkExamples(orb, settings, problems);
  return [...new Set(problems)];
}

/** `namespace/name` from package.json (scripts/lib/orb-identity.ts reads the same fields). */
function defaultOrbName(root: string = repoRoot): string {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { name?: unknown; orb?: { namespace?: unknown } };
  return `${String(pkg.orb?.namespace ?? '')}/${String(pkg.name ?? '')}`;
}

/**
 * The rules review.bats applies to source files: RC009 (a run command longer than
 * `maxCommandLength` characters comes from `<<include(...)>>`) and RC010's file names (jobs,
 * commands and executors without `-`), in an orb source folder such as orb/.
 */
export function reviewOrbSource(sourceDir: string, options: { maxCommandLength?: number; snakeCaseWaived?: readonly string[] } = {}): string[] {
  const maxLength = options.maxCommandLength ?? MAX_COMMAND_LENGTH;
  const waived = new Set(options.snakeCaseWaived ?? DEFAULT_WAIVED);
  const problems: string[] = [];
  for (const kind of ['jobs', 'commands', 'executors']) {
    let files: string[];
    try {
      files = readdirSync(path.join(sourceDir, kind)).filter((file) => file.endsWith('.yml')).sort();
    } catch {
      continue;
    }
    for (const file of files) {
      const at = `${kind}/${file}`;
      if (file.includes('-') && !waived.has(path.basename(file, '.yml'))) problems.push(`RC010 ${at}: the file name is not snake_case`);
      if (kind === 'executors') continue;
      const component = parse(readFileSync(path.join(sourceDir, kind, file), 'utf8')) as unknown;
      const steps = isObj(component) ? component['steps'] : undefined;
      if (!Array.isArray(steps)) continue;
      steps.forEach((step: unknown, i: number) => {
        const run = isObj(step) ? step['run'] : undefined;
        if (run === undefined) return;
        const command = isObj(run) ? run['command'] : run;
        if (typeof command !== 'string' || command.length <= maxLength || /^<<\s*include\(/.test(command.trim())) return;
        problems.push(`RC009 ${at} steps[${i}].run: a ${command.length}-character command is inline; move it to a script and use <<include(scripts/…)>>`);
      });
    }
  }
  return problems;
}
