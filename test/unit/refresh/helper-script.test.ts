import { describe, expect, it } from 'vitest';
import { JOB_ID } from '../../../src/core/journal.ts';
import { HELPER_FLAG } from '../../../src/refresh/bundle-source.ts';
import { AWS_ENTRY_PREFIX, formatEntry } from '../../../src/refresh/cache.ts';
import { NOT_FOUND } from '../../../src/refresh/docker-protocol.ts';
import { HELPER_FILES, HELPER_HOME_PATH, layout } from '../../../src/refresh/files.ts';
import { helperScript, SCRIPT_CONSTANTS } from '../../../src/refresh/helper-script.ts';
import { GROUP, HOST } from '../../../src/refresh/recipe.ts';

// The bash helper reads what the TypeScript writes: each shared name must be the TypeScript's own.
describe('the bash helper is generated from the TypeScript that writes its files', () => {
  const script = helperScript();

  it('builds from the TypeScript constants, not copies of them', () => {
    expect(SCRIPT_CONSTANTS).toEqual({ home: HELPER_HOME_PATH, files: HELPER_FILES, awsEntryPrefix: AWS_ENTRY_PREFIX, notFound: NOT_FOUND, helperFlag: HELPER_FLAG, group: GROUP.source, host: HOST.source, jobId: JOB_ID.source });
  });

  it('uses each of them where it reads the files', () => {
    expect(script).toContain(`dir="\${HOME:-/nonexistent}/${HELPER_HOME_PATH}"`);
    expect(script).toContain(`local f="$dir/${HELPER_FILES.cache}/$1"`);
    expect(script).toContain(`IFS= read -r node <"$dir/${HELPER_FILES.node}"`);
    expect(script).toContain(`local bundle="$dir/${HELPER_FILES.bundles}/$kind${HELPER_FILES.bundleExtension}"`);
    expect(script).toContain(`IFS= read -r group <"$dir/${HELPER_FILES.routes}/$host"`);
    expect(script).toContain(`[[ $host =~ ${HOST.source} ]]`);
    expect(script).toContain(`[[ $group =~ ${GROUP.source} ]]`);
    expect(script).toContain(`cached "${AWS_ENTRY_PREFIX}$group"`);
    expect(script).toContain(`exec "$node" "$bundle" ${HELPER_FLAG} "$@"`);
    expect(script).toContain(`printf '${NOT_FOUND}\\n'`);
    expect(script).toContain(`[[ $job =~ ${JOB_ID.source} ]] || job=`);
    expect(script).toContain(`local owner f="$dir/${HELPER_FILES.job}"`);
  });

  it('has no path, pattern or answer of its own left over', () => {
    // What a hand-written copy would look like: none of these may appear except through the constants.
    const stripped = script.split(HELPER_HOME_PATH).join('').split(NOT_FOUND).join('').split(GROUP.source).join('').split(HOST.source).join('');
    expect(stripped).not.toMatch(/\.regauth\/helper|not found in native keychain|\[a-z\]\[a-z0-9\]|\[A-Za-z0-9\.-\]/);
  });

  it('reads the cache file layout TypeScript writes: line 1 the refresh time, line 2 the answer', () => {
    expect(formatEntry({ refreshAt: 10, answer: '{"a":1}', expiresAt: 20 }).split('\n').slice(0, 2)).toEqual(['10', '{"a":1}']);
    expect(script).toContain('{ IFS= read -r at && IFS= read -r answer; } <"$f"');
    expect(layout('/d').cache('h')).toBe(`/d/${HELPER_FILES.cache}/h`);
  });
});
