import { promises as fs } from 'node:fs';
import { decodeTokenClaims, mintOidcToken } from '../job-token/index.ts';
import { Redactor, Reporter } from '../core/output.ts';
import { clockTime } from '../core/units.ts';
import { runProcess } from '../core/process.ts';
import { realRetryDeps, type RetryPolicy } from '../core/retry.ts';
import type { Env } from '../core/env.ts';
import { dockerAnswer, hostFromServerUrl, listAnswer, NOT_FOUND, parseStoreRequest, STORE_USAGE } from './docker-protocol.ts';
import { awsEntryName, awsProcessAnswer, hostEntryName, isFresh, isUsable, parseEntry, readEntry, writeEntry, type CacheEntry } from './cache.ts';
import { helperDir, layout, readOwned } from './files.ts';
import { isFenced } from './fence.ts';
import { isLoginsJob } from './job.ts';
import { acquireGroupLock, LONGEST_HOLD_MS, realGroupLockDeps, type GroupLockDeps } from './lock.ts';
import { refreshAtSeconds } from './margin.ts';
import { GROUP, isValidHost, parseRecipe, type Recipe } from './recipe.ts';
import { refresherFor, type Refreshers, type RefreshDeps } from './refreshers.ts';
import { googleExecutableFailure, googleExecutableSuccess } from './google-executable.ts';

/**
 * docker-credential-regauth's node half: what the bash helper hands over when its cache cannot
 * answer. `get` and `aws-credentials` refresh the group (one refresh at a time per group, bounded
 * in time), `store`/`erase`/`list` complete docker's protocol, `google-executable` prints a fresh
 * job token for Google's executable-sourced credentials.
 */
export interface HelperIo {
  env: Env;
  stdin: () => Promise<string>;
  stdout: (text: string) => void;
  /** One line for the user (docker shows the helper's stderr). */
  stderr: (text: string) => void;
  now: () => number;
  lock: GroupLockDeps;
  refresh: RefreshDeps;
  /** The whole refresh, lock wait included, ends within this. */
  deadlineMs: number;
}

export const REFRESH_DEADLINE_MS = LONGEST_HOLD_MS;
const MINT_POLICY: RetryPolicy = { maxAttempts: 2, baseDelayMs: 500, maxDelayMs: 1_000, maxServerWaitMs: 1_000 };
const STORED_LIFETIME_S = 10 * 365 * 86400;

export function realHelperIo(): HelperIo {
  return {
    env: process.env,
    stdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    now: Date.now,
    lock: realGroupLockDeps,
    refresh: { env: process.env, run: runProcess, retry: realRetryDeps },
    deadlineMs: REFRESH_DEADLINE_MS,
  };
}

export async function helperMain(args: readonly string[], refreshers: Refreshers, io: HelperIo = realHelperIo()): Promise<number> {
  const redactor = new Redactor();
  // The same rendering as every step's lines: redacted, stripped, remote text quoted and cut after redaction.
  const reporter = new Reporter(redactor);
  const speaker: Speaker = { render: (text) => reporter.render(text), say: (text) => io.stderr(`${reporter.render(`regauth: ${text}`)}\n`) };
  const dir = helperDir(io.env);
  const [command, argument = ''] = args;
  try {
    // Another job's helper (left without logout on a persistent machine) serves and renews nothing.
    const foreign = async (): Promise<boolean> => !(await isLoginsJob(dir, io.env));
    switch (command) {
      case 'get': {
        const host = hostFromServerUrl(argument || (await io.stdin()));
        if (!isValidHost(host)) return fail(io, NOT_FOUND);
        if (await foreign()) return notThisJob(io, speaker, host);
        const group = (await readOwned(layout(dir).route(host)))?.trim();
        if (!group || !GROUP.test(group)) {
          const stored = await readEntry(dir, hostEntryName(host));
          if (isUsable(stored, io.now())) return answer(io, stored.answer);
          return fail(io, NOT_FOUND);
        }
        return await serve(dir, group, hostEntryName(host), `the registry ${host}`, refreshers, io, redactor, speaker);
      }
      case 'aws-credentials': {
        if (!GROUP.test(argument)) return fail(io, `regauth: ${JSON.stringify(argument)} is not a regauth group`, speaker);
        if (await foreign()) return notThisJob(io, speaker, 'the exported AWS profile');
        return await serve(dir, argument, awsEntryName(argument), 'the exported AWS profile', refreshers, io, redactor, speaker);
      }
      case 'store':
        // docker login shows this text: say what to do rather than docker's "not found".
        if (await foreign()) return fail(io, 'regauth: docker-credential-regauth here belongs to another CircleCI job that ended without regauth/logout; run regauth/logout or a regauth login first', speaker);
        return await store(dir, await io.stdin(), io);
      case 'erase': {
        const host = hostFromServerUrl(await io.stdin());
        if (isValidHost(host)) await fs.rm(layout(dir).cache(hostEntryName(host)), { force: true });
        return 0;
      }
      case 'list':
        if (await foreign()) return answer(io, '{}');
        return await list(dir, io);
      case 'google-executable':
        if (GROUP.test(args[1] ?? '') && (await foreign())) return notThisJob(io, speaker, 'the exported Google credentials');
        return await googleExecutable(dir, args.slice(1), io, redactor);
      default:
        return fail(io, `regauth: unknown helper command ${JSON.stringify(command ?? '')}; docker-credential-regauth answers get, store, erase, list, aws-credentials and google-executable`, speaker);
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return fail(io, `regauth: the credential helper failed: ${message}`, speaker);
  }
}

function answer(io: HelperIo, text: string): number {
  io.stdout(`${text}\n`);
  return 0;
}

/** docker's "no credentials" (it then goes on anonymously), with one line saying why. */
function notThisJob(io: HelperIo, speaker: Speaker, what: string): number {
  speaker.say(`the credential helper was set up by another CircleCI job that ended without regauth/logout; nothing for ${what}`);
  io.stdout(`${NOT_FOUND}\n`);
  return 1;
}

/** How the helper's own lines are rendered and said (docker shows its stderr in the step's log). */
interface Speaker {
  render(text: string): string;
  say(text: string): void;
}

/** docker's protocol: a failed helper says why on stdout; the user also gets the line on stderr. */
function fail(io: HelperIo, message: string, speaker?: Speaker): number {
  if (speaker) speaker.say(message.replace(/^regauth: /, ''));
  io.stdout(`${speaker ? speaker.render(message) : message}\n`);
  return 1;
}

async function serve(
  dir: string,
  group: string,
  entryName: string,
  what: string,
  refreshers: Refreshers,
  io: HelperIo,
  redactor: Redactor,
  speaker: Speaker,
): Promise<number> {
  const start = io.now();
  const cached = await readEntry(dir, entryName);
  if (isFresh(cached, start)) return answer(io, cached.answer);

  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<{ problem: string }>((resolve) => {
    timer = setTimeout(() => resolve({ problem: `the refresh took longer than ${Math.round(io.deadlineMs / 1000)} s` }), io.deadlineMs);
  });
  const work = refreshGroup(dir, group, entryName, start, refreshers, io, redactor);
  const outcome = await Promise.race([work, deadline]);
  clearTimeout(timer);
  if ('entry' in outcome) return answer(io, outcome.entry.answer);

  // What the cache still holds is better than nothing while it is valid.
  const still = await readEntry(dir, entryName);
  const reason = outcome.problem;
  if (isUsable(still, io.now())) {
    speaker.say(`could not refresh the credentials for ${what} (${reason}); answering with the cached ones, valid until ${clockTime(new Date(still.expiresAt * 1000))}`);
    return answer(io, still.answer);
  }
  return fail(io, `regauth: could not refresh the credentials for ${what} (${reason}), and the cached ones have expired; run regauth's login step again in this job`, speaker);
}

async function refreshGroup(
  dir: string,
  group: string,
  entryName: string,
  start: number,
  refreshers: Refreshers,
  io: HelperIo,
  redactor: Redactor,
): Promise<{ entry: CacheEntry } | { problem: string }> {
  const paths = layout(dir);
  let recipe: Recipe;
  try {
    const text = await readOwned(paths.recipe(group));
    if (text === undefined) return { problem: `its recipe ${paths.recipe(group)} is missing; regauth/logout may have run` };
    recipe = parseRecipe(text);
  } catch (error) {
    return { problem: `its recipe is unreadable: ${error instanceof Error ? error.message : String(error)}` };
  }
  const refresh = refresherFor(refreshers, recipe);
  if (!refresh) return { problem: `this regauth cannot refresh ${recipe.kind} credentials` };
  const loggedOut = { problem: 'regauth/logout has run in this job' };
  let release;
  try {
    release = await acquireGroupLock(paths.lock(group), io.deadlineMs, start + io.deadlineMs, io.lock);
  } catch (error) {
    // The locks directory is gone: logout removed the helper's directory.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return loggedOut;
    throw error;
  }
  if (!release) return { problem: 'another refresh of the same registries held the lock until the deadline' };
  // Logout fences the directory off, then waits for this lock: past it, nothing is written.
  const stillServed = async (): Promise<boolean> => !(await isFenced(dir)) && (await readOwned(paths.recipe(group))) !== undefined;
  try {
    if (!(await stillServed())) return loggedOut;
    // Another get may have refreshed while this one waited for the lock.
    const fresh = await readEntry(dir, entryName);
    if (isFresh(fresh, io.now())) return { entry: fresh };
    let jobToken: string;
    try {
      jobToken = await mintOidcToken(recipe.audience, { env: io.refresh.env, run: io.refresh.run, retryDeps: io.refresh.retry, retryPolicy: MINT_POLICY });
    } catch (error) {
      return { problem: error instanceof Error ? error.message : String(error) };
    }
    redactor.add(jobToken);
    let minted;
    try {
      minted = await refresh(recipe, jobToken, io.refresh);
    } catch (error) {
      return { problem: error instanceof Error ? error.message : String(error) };
    }
    for (const secret of minted.secrets) redactor.add(secret);
    const issuedAt = io.now();
    if (!(await stillServed())) return loggedOut;
    for (const registry of minted.registries) {
      // A host a logout of its own took away (its route gone) gets nothing back.
      if ((await readOwned(paths.route(registry.host)))?.trim() !== group) continue;
      const expiresAt = registry.expiresAt.getTime();
      await writeEntry(dir, hostEntryName(registry.host), {
        refreshAt: refreshAtSeconds(issuedAt, expiresAt),
        answer: dockerAnswer(registry.host, registry.username, registry.secret),
        expiresAt: Math.floor(expiresAt / 1000),
      });
    }
    if (minted.awsCredentials) {
      const expiresAt = minted.awsCredentials.expiration.getTime();
      await writeEntry(dir, awsEntryName(group), { refreshAt: refreshAtSeconds(issuedAt, expiresAt), answer: awsProcessAnswer(minted.awsCredentials), expiresAt: Math.floor(expiresAt / 1000) });
    }
    const entry = await readEntry(dir, entryName);
    if (!entry) return { problem: 'the refreshed credentials do not include this registry' };
    return { entry };
  } finally {
    await release();
  }
}

async function store(dir: string, input: string, io: HelperIo): Promise<number> {
  const request = parseStoreRequest(input);
  if (!request) return fail(io, STORE_USAGE);
  const { host } = request;
  const given = dockerAnswer(host, request.username, request.secret);
  // regauth's own docker login (which verifies the password it just cached): nothing to change.
  const current = await readEntry(dir, hostEntryName(host));
  if (current && (await readOwned(layout(dir).route(host))) !== undefined && current.answer === given) return 0;
  // A user's own `docker login` to a host regauth serves: kept as given, never refreshed.
  const now = Math.floor(io.now() / 1000);
  await writeEntry(dir, hostEntryName(host), { refreshAt: now + STORED_LIFETIME_S, answer: given, expiresAt: now + STORED_LIFETIME_S });
  await fs.rm(layout(dir).route(host), { force: true });
  return 0;
}

async function list(dir: string, io: HelperIo): Promise<number> {
  const answers = new Map<string, string>();
  const names = await fs.readdir(layout(dir).cache('')).catch(() => [] as string[]);
  for (const name of names) {
    if (!isValidHost(name)) continue;
    const text = await readOwned(layout(dir).cache(name));
    const entry = text === undefined ? undefined : parseEntry(text);
    if (entry) answers.set(name, entry.answer);
  }
  return answer(io, listAnswer(answers));
}

/** `google-executable <group>` or `google-executable --audience <aud>`. */
async function googleExecutable(dir: string, args: readonly string[], io: HelperIo, redactor: Redactor): Promise<number> {
  let audience: string | undefined;
  if (args[0] === '--audience') audience = args[1];
  else if (args[0] && GROUP.test(args[0])) {
    const text = await readOwned(layout(dir).recipe(args[0]));
    if (text !== undefined) audience = parseRecipe(text).audience;
  }
  if (!audience) {
    io.stdout(`${googleExecutableFailure('REGAUTH_NO_AUDIENCE', 'no audience: pass --audience <aud> or the group of a recipe regauth wrote at login')}\n`);
    return 1;
  }
  try {
    const token = await mintOidcToken(audience, { env: io.refresh.env, run: io.refresh.run, retryDeps: io.refresh.retry, retryPolicy: MINT_POLICY });
    redactor.add(token);
    const exp = decodeTokenClaims(token).exp;
    io.stdout(`${googleExecutableSuccess(token, typeof exp === 'number' ? exp : Math.floor(io.now() / 1000) + 300)}\n`);
    return 0;
  } catch (error) {
    io.stdout(`${googleExecutableFailure('REGAUTH_MINT_FAILED', new Reporter(redactor).render(error instanceof Error ? error.message : String(error)))}\n`);
    return 1;
  }
}
