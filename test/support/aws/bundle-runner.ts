/**
 * Entry bundled by the aws-client test: runs the AWS layer from the shipped-style bundle
 * against the local stack. Inputs come from the environment (the token is never on argv);
 * prints only non-secret results.
 */
import { assumeRoleWithWebIdentity, getEcrAuthorization, getEcrPublicAuthorization } from '../../../src/clouds/aws/index.ts';

async function main(): Promise<void> {
  const env = process.env;
  const role = await assumeRoleWithWebIdentity({
    region: env.RUNNER_REGION ?? 'us-east-1',
    roleArn: env.RUNNER_ROLE_ARN ?? '',
    sessionName: 'bundle-runner',
    durationSeconds: 900,
    token: env.RUNNER_TOKEN ?? '',
  });
  const logins = await getEcrAuthorization({ region: env.RUNNER_REGION ?? 'us-east-1', credentials: role.credentials, registryIds: (env.RUNNER_ACCOUNTS ?? '').split(',').filter(Boolean) });
  const publicLogin = await getEcrPublicAuthorization({ credentials: role.credentials });
  process.stdout.write(`${JSON.stringify({ role: role.assumedRoleArn, registries: [...logins, publicLogin].map((l) => l.registry) })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
