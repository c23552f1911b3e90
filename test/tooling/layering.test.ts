import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/** The import rules of README's Development section, as eslint enforces them on src/. */
async function verdict(file: string, from: string): Promise<string[]> {
  const eslint = new ESLint();
  const [result] = await eslint.lintText(`import * as probe from '${from}';\nexport const used = probe;\n`, { filePath: file });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('layering in src/ is a lint rule', () => {
  it.each([
    ['src/core/probe.ts', '../inputs/common.ts'],
    ['src/registry/probe.ts', '../docker/config.ts'],
    ['src/clouds/aws/probe.ts', '../../docker/login.ts'],
    ['src/inputs/probe.ts', '../clouds/aws/validate.ts'],
    ['src/clouds/aws/probe.ts', '../../refresh/index.ts'],
    ['src/refresh/probe.ts', '../clouds/aws/provider.ts'],
    ['src/refresh/probe.ts', '../clouds/gcp/mint.ts'],
    ['src/docker/probe.ts', '../inputs/common.ts'],
    ['src/job-token/probe.ts', '../clouds/aws/validate.ts'],
    ['src/pull/probe.ts', '../refresh/files.ts'],
    ['src/refresh/probe.ts', '../commands/logout.ts'],
    ['src/commands/probe.ts', '../refresh/setup.ts'],
    ['src/commands/shared/probe.ts', '../../refresh/helper.ts'],
    ['src/refresh/probe.ts', '../inputs/common.ts'],
  ])('%s may not import %s', async (file, from) => {
    expect(await verdict(file, from)).toHaveLength(1);
  });

  it.each([
    ['src/docker/probe.ts', '../core/env.ts'],
    ['src/clouds/gcp/probe.ts', '../../job-token/index.ts'],
    ['src/pull/probe.ts', '../docker/error.ts'],
    ['src/clouds/aws/probe.ts', '../../inputs/common.ts'],
    ['src/refresh/probe.ts', '../clouds/provider.ts'],
    ['src/refresh/probe.ts', '../clouds/aws/profile.ts'],
    ['src/commands/probe.ts', '../refresh/index.ts'],
  ])('%s may import %s', async (file, from) => {
    expect(await verdict(file, from)).toEqual([]);
  });
});
