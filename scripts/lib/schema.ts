// Validates CircleCI configs against the schema CircleCI ships with its YAML language server,
// and turns ajv's branch-by-branch output into a few lines a person can act on.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

/** The repository root: scripts/lib/ is two levels below it. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The schema the repository carries (vendor/circleci-schema); REGAUTH_CIRCLECI_SCHEMA names another copy. */
export function schemaPath(env: NodeJS.ProcessEnv = process.env): string {
  const override = env['REGAUTH_CIRCLECI_SCHEMA'];
  if (override !== undefined && override !== '') return path.resolve(override);
  return path.join(repoRoot, 'vendor', 'circleci-schema', 'schema.json');
}

const compiled = new Map<string, ValidateFunction>();

function validatorFor(file: string): ValidateFunction {
  const cached = compiled.get(file);
  if (cached !== undefined) return cached;
  let schema: unknown;
  try {
    schema = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(
      `Could not read the CircleCI schema at ${file}: ${(error as Error).message}; ` +
        'restore vendor/circleci-schema/schema.json from git or set REGAUTH_CIRCLECI_SCHEMA',
    );
  }
  // The published schema uses union types and vendor keywords (markdownDescription): not strict.
  const ajv = new Ajv({ strict: false, allErrors: true, allowUnionTypes: true });
  // ajv-formats is CommonJS; its default export arrives wrapped under NodeNext typings.
  const addFormats = addFormatsModule as unknown as (a: Ajv) => Ajv;
  addFormats(ajv);
  const validate = ajv.compile(schema as object);
  compiled.set(file, validate);
  return validate;
}

/**
 * Validates a parsed CircleCI config. Returns readable problems ("jobs.test: must have one of
 * the properties executor, machine, docker, macos"), empty when the config is valid.
 */
export function validateConfig(config: unknown, file: string = schemaPath()): string[] {
  const validate = validatorFor(file);
  if (validate(config)) return [];
  return readableErrors(validate.errors ?? []);
}

const COMBINATORS = new Set(['oneOf', 'anyOf']);
const SUMMARIES = new Set(['oneOf', 'anyOf', 'if', 'then', 'else', 'allOf']);

/**
 * ajv reports every failed branch of every oneOf/anyOf. Drop branches that fail only because
 * the value has another type (a string branch when the value is a map), merge alternative
 * `required` properties, and drop summary errors that repeat their branches.
 */
export function readableErrors(errors: readonly ErrorObject[]): string[] {
  const dropped = new Set<ErrorObject>();
  const extra: string[] = [];
  for (const combinator of errors.filter((e) => COMBINATORS.has(e.keyword))) {
    const branches = branchErrors(combinator, errors);
    if (branches.size === 0) continue;
    const mismatched = [...branches].filter(([index, list]) =>
      list.some(
        (e) =>
          e.keyword === 'type' &&
          e.instancePath === combinator.instancePath &&
          e.schemaPath === `${combinator.schemaPath}/${index}/type`,
      ),
    );
    if (mismatched.length === branches.size) {
      // Every branch wants another type: say which types would do.
      const types = mismatched.map(([, list]) => String(list.find((e) => e.keyword === 'type')?.params['type']));
      extra.push(`${where(combinator.instancePath)}: must be ${unique(types).join(' or ')}`);
      for (const [, list] of branches) list.forEach((e) => dropped.add(e));
    } else {
      for (const [, list] of mismatched) list.forEach((e) => dropped.add(e));
      // A branch that got past the value's shape (its errors lie deeper) is the one the author
      // meant; the shallow complaints of the other branches are noise.
      const candidates = [...branches].filter(([index]) => !mismatched.some(([m]) => m === index));
      const deepest = Math.max(...candidates.map(([, list]) => depthOf(list)));
      if (deepest > depth(combinator.instancePath)) {
        for (const [, list] of candidates) if (depthOf(list) < deepest) list.forEach((e) => dropped.add(e));
      }
    }
  }

  const kept = errors.filter((e) => !dropped.has(e) && !SUMMARIES.has(e.keyword));
  // When pruning left nothing specific (e.g. a value matched two branches), keep the summary.
  const base = kept.length > 0 || extra.length > 0 ? kept : errors.filter((e) => !dropped.has(e));

  // A combinator whose surviving branches each miss a property means "one of these".
  const choices = errors.filter(
    (c) => COMBINATORS.has(c.keyword) && [...branchErrors(c, errors).values()].filter((l) => l.some((e) => !dropped.has(e))).length > 1,
  );
  const alternatives = new Map<string, { instancePath: string; names: string[] }>();
  const lines: string[] = [...extra];
  for (const error of base) {
    const choice =
      error.keyword === 'required'
        ? choices
            .filter((c) => c.instancePath === error.instancePath && error.schemaPath.startsWith(`${c.schemaPath}/`))
            .sort((a, b) => a.schemaPath.length - b.schemaPath.length)[0]
        : undefined;
    if (choice !== undefined) {
      const key = `${choice.instancePath} ${choice.schemaPath}`;
      const group = alternatives.get(key) ?? { instancePath: choice.instancePath, names: [] };
      group.names.push(String(error.params['missingProperty']));
      alternatives.set(key, group);
      continue;
    }
    lines.push(`${where(error.instancePath)}: ${describe(error)}`);
  }
  for (const { instancePath, names } of alternatives.values()) {
    lines.push(`${where(instancePath)}: must have one of the properties ${unique(names).join(', ')}`);
  }
  return unique(lines.map((line) => line.trim()));
}

/** Errors raised inside each branch of a oneOf/anyOf, keyed by branch index. */
function branchErrors(combinator: ErrorObject, errors: readonly ErrorObject[]): Map<number, ErrorObject[]> {
  const prefix = `${combinator.schemaPath}/`;
  const branches = new Map<number, ErrorObject[]>();
  for (const error of errors) {
    if (error === combinator || !error.schemaPath.startsWith(prefix)) continue;
    if (!isWithin(error.instancePath, combinator.instancePath)) continue;
    const index = Number(error.schemaPath.slice(prefix.length).split('/')[0]);
    if (!Number.isInteger(index)) continue;
    const list = branches.get(index) ?? [];
    list.push(error);
    branches.set(index, list);
  }
  return branches;
}

function depth(instancePath: string): number {
  return instancePath === '' ? 0 : instancePath.split('/').length - 1;
}

function depthOf(errors: readonly ErrorObject[]): number {
  return Math.max(...errors.map((e) => depth(e.instancePath)));
}

function isWithin(instancePath: string, parent: string): boolean {
  return instancePath === parent || instancePath.startsWith(`${parent}/`);
}

function describe(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties':
      return `unexpected property '${String(params['additionalProperty'])}'`;
    case 'enum':
      return `must be one of ${(params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'propertyNames':
      return `invalid property name '${String(params['propertyName'])}'`;
    default:
      return error.message ?? error.keyword;
  }
}

/** JSON pointer → `jobs.test.steps[1].run`, the way people read configs. */
export function where(pointer: string): string {
  if (pointer === '') return '(root)';
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(key) ? `[${key}]` : out === '' ? key : `.${key}`;
  }
  return out;
}

function unique<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}

/** A required parameter with no default gets a placeholder of its type, so the call is valid. */
function placeholder(spec: Record<string, unknown>): unknown {
  switch (spec['type']) {
    case 'boolean':
      return true;
    case 'integer':
      return 1;
    case 'enum':
      return Array.isArray(spec['enum']) ? spec['enum'][0] : 'value';
    case 'env_var_name':
      return 'REGAUTH_PLACEHOLDER';
    case 'steps':
      return [{ run: { name: 'Placeholder', command: 'true' } }];
    default:
      return 'placeholder';
  }
}

type Invocations = Readonly<Record<string, Readonly<Record<string, unknown>>>>;

function asRecord(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** Arguments for one component: given ones first, then placeholders for required parameters. */
function argumentsFor(component: unknown, given: Readonly<Record<string, unknown>> | undefined): Record<string, unknown> {
  const args: Record<string, unknown> = { ...given };
  for (const [name, spec] of Object.entries(asRecord(asRecord(component)['parameters']))) {
    if (name in args || 'default' in asRecord(spec)) continue;
    args[name] = placeholder(asRecord(spec));
  }
  return args;
}

/**
 * Wraps a packed orb as the inline orb `regauth` of a small config that calls every command
 * (in one machine job) and every job of the orb, so the schema checks the orb as used.
 * `invocations` gives arguments per command/job name; required parameters left out get a
 * placeholder of their type.
 */
export function wrapOrbInConfig(orb: unknown, invocations: Invocations = {}): Record<string, unknown> {
  const source = asRecord(orb);
  const steps = Object.entries(asRecord(source['commands'])).map(([name, command]) => {
    const args = argumentsFor(command, invocations[name]);
    return Object.keys(args).length === 0 ? `regauth/${name}` : { [`regauth/${name}`]: args };
  });
  const workflowJobs: unknown[] = [];
  if (steps.length > 0) workflowJobs.push('use-commands');
  for (const [name, job] of Object.entries(asRecord(source['jobs']))) {
    const args = argumentsFor(job, invocations[name]);
    workflowJobs.push(Object.keys(args).length === 0 ? `regauth/${name}` : { [`regauth/${name}`]: args });
  }
  const config: Record<string, unknown> = { version: 2.1, orbs: { regauth: orb } };
  if (steps.length > 0) {
    config['jobs'] = { 'use-commands': { machine: { image: 'ubuntu-2204:current' }, steps } };
  }
  config['workflows'] = { 'use-orb': { jobs: workflowJobs } };
  return config;
}
