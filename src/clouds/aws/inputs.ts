export type { EcrTargetInputs } from './ecr-login.ts';
import { accountIdProblem, deriveRoleSessionName, regionProblem, roleArnProblem, sanitizeRoleSessionName } from './index.ts';
import { PROFILE_NAME, profileNameProblem } from './profile.ts';
import type { EcrTargetInputs } from './ecr-login.ts';
import { InputError } from '../../core/errors.ts';
import { booleanParameter, type Env, integerParameter, listParameter, secretFromEnvName, stringParameter } from '../../inputs/common.ts';

export interface EcrOidcInputs extends EcrTargetInputs {
  roleArn: string;
  roleSessionName: string;
  sessionDurationSeconds: number;
  /** Empty: use the job's token. */
  audience: string;
  exportCredentials: boolean;
  /** Name of the exported AWS profile (written into the job's AWS config). */
  profile: string;
  /** Serve the registries (and an exported profile) through regauth's refreshing credential helper. */
  refresh: boolean;
}

export interface EcrStaticInputs extends EcrTargetInputs {
  /** The variable the keys were read from (shown instead of the key id). */
  accessKeyName: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** AWS_SESSION_TOKEN, read only with the standard AWS_ACCESS_KEY_ID pair (temporary keys). */
  sessionToken: string | undefined;
}

/** Region: the parameter (default ${AWS_DEFAULT_REGION}), then AWS_REGION. */
function parseTargets(env: Env): EcrTargetInputs {
  const region = stringParameter(env, 'region', { maxLength: 64 }) || (env.AWS_REGION ?? '').trim();
  const regionIssue = regionProblem(region);
  if (regionIssue) throw new InputError('region', regionIssue);
  const accountIds = [...new Set(listParameter(env, 'account_ids', { maxLength: 4096 }))];
  for (const id of accountIds) {
    const issue = accountIdProblem(id);
    if (issue) throw new InputError('account_ids', issue);
  }
  return { region, accountIds, includePublic: booleanParameter(env, 'public') };
}

export function parseEcrOidcInputs(env: Env): EcrOidcInputs {
  const roleArn = stringParameter(env, 'role_arn', { maxLength: 2048 });
  const roleIssue = roleArnProblem(roleArn);
  if (roleIssue) throw new InputError('role_arn', roleArn === '' ? `${roleIssue} (the default is \${AWS_ROLE_ARN}, which is not set)` : roleIssue);
  const targets = parseTargets(env);
  const givenSessionName = stringParameter(env, 'role_session_name', { maxLength: 256 });
  const roleSessionName = givenSessionName ? sanitizeRoleSessionName(givenSessionName) : deriveRoleSessionName(env);
  const sessionDurationSeconds = integerParameter(env, 'session_duration', { min: 900, max: 43200, fallback: 3600 });
  const audience = stringParameter(env, 'audience', { maxLength: 1024 });
  // The orb always passes refresh; a direct run without it gets the orb's default (true).
  const refresh = env.REGAUTH_REFRESH === undefined ? true : booleanParameter(env, 'refresh');
  // The orb always passes profile; a direct run without it gets the orb's default.
  const profile = env.REGAUTH_PROFILE === undefined ? PROFILE_NAME : stringParameter(env, 'profile', { maxLength: 128 });
  const profileIssue = profileNameProblem(profile);
  if (profileIssue) throw new InputError('profile', profileIssue);
  return { ...targets, roleArn, roleSessionName, sessionDurationSeconds, audience, exportCredentials: booleanParameter(env, 'export_credentials'), profile, refresh };
}

const ACCESS_KEY_ID = /^[A-Z0-9]{16,128}$/;

export function parseEcrStaticInputs(env: Env): EcrStaticInputs {
  const accessKey = secretFromEnvName(env, 'access_key_id', { required: true });
  const secretKey = secretFromEnvName(env, 'secret_access_key', { required: true });
  const accessKeyId = (accessKey.value ?? '').trim();
  if (!ACCESS_KEY_ID.test(accessKeyId)) throw new InputError('access_key_id', `the value of ${accessKey.name} is not an AWS access key id (16 or more upper-case letters and digits)`);
  const secretAccessKey = (secretKey.value ?? '').trim();
  if (/\s/.test(secretAccessKey) || secretAccessKey.length < 16) throw new InputError('secret_access_key', `the value of ${secretKey.name} is not an AWS secret access key`);
  const sessionToken = accessKey.name === 'AWS_ACCESS_KEY_ID' ? env.AWS_SESSION_TOKEN?.trim() || undefined : undefined;
  return { ...parseTargets(env), accessKeyName: accessKey.name, accessKeyId, secretAccessKey, sessionToken };
}
