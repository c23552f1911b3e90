import { describe, expect, it } from 'vitest';
import { Reporter, type Sink } from '../../../../src/core/output.ts';
import { describeClaimsForGoogle, diagnosePermissionDenied, diagnoseTokenExchange, type GoogleTarget } from '../../../../src/clouds/gcp/diagnose.ts';

const ORG = '7f4cd3c7-3a2b-4a52-8b6e-1b0f7c9e2d11';
const PROJECT = 'c2f3e9a1-5b6d-4e7f-8a9b-0c1d2e3f4a5b';
const USER = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const V1_SUB = `org/${ORG}/project/${PROJECT}/user/${USER}`;
const V2_SUB = `${V1_SUB}/vcs-origin/github.com/acme/app/vcs-ref/refs/heads/main`;
const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);
const claims = (extra: Record<string, unknown> = {}) => ({ iss: `https://oidc.circleci.com/org/${ORG}`, aud: ORG, sub: V2_SUB, exp: NOW / 1000 + 600, 'oidc.circleci.com/project-id': PROJECT, ...extra });
const TARGET: GoogleTarget = { provider: 'projects/123456789/locations/global/workloadIdentityPools/circleci/providers/acme-org', projectNumber: '123456789', pool: 'circleci', serviceAccount: 'ci-pull@p.iam.gserviceaccount.com' };

describe('diagnosis for Google', () => {
  it("shows the sub's byte length beside the claims", () => {
    expect(describeClaimsForGoogle(claims(), NOW)).toBe(`iss=https://oidc.circleci.com/org/${ORG} aud=${ORG} sub=${V2_SUB} (sub is ${Buffer.byteLength(V2_SUB)} bytes) exp=12:10:00 UTC (in 600 s)`);
    expect(Buffer.byteLength(V1_SUB)).toBe(127);
  });

  /** The lines as the Reporter prints them (remote text quoted). */
  function printed(lines: string[]): string[] {
    const out: string[] = [];
    const sink: Sink = { write: (text) => out.push(text.trimEnd()) };
    const reporter = new Reporter(undefined, sink, sink);
    for (const line of lines) reporter.line(`regauth: ${line}`);
    return out;
  }
  const own = (line: string) => line.replace(/"(?:[^"\\]|\\.)*"/g, '""');

  it('shows the claims and what the provider must accept in two lines, and the cause for each refusal', () => {
    const { lines, cause: audienceCause } = diagnoseTokenExchange(claims(), TARGET, 'invalid_grant', 'The audience in ID Token [x] does not match the expected audience.', NOW);
    expect(printed(lines)).toEqual([
      `regauth: the job's token: iss="https://oidc.circleci.com/org/${ORG}" aud="${ORG}" sub="${V2_SUB}" (sub: ${Buffer.byteLength(V2_SUB)} bytes)`,
      'regauth: workload_identity_provider must accept it: issuer = its iss, allowed audiences include its aud, google.subject mapped to at most 127 bytes',
    ]);
    for (const line of printed(lines)) expect(own(line).length).toBeLessThanOrEqual(160);
    expect(audienceCause).toBe(`the provider's allowed audiences do not include the token's aud: add it (CircleCI's default aud is the organization id ${ORG}); check the provider ${TARGET.provider}`);
    const cause = (code: string, message: string, extra = {}) => diagnoseTokenExchange(claims(extra), TARGET, code, message, NOW).cause;
    expect(cause('invalid_request', 'The size of mapped attribute google.subject exceeds the 127 bytes limit.')).toMatch(/^the mapped google.subject is over 127 bytes: CircleCI's v2 sub is 1\d\d bytes/);
    expect(cause('invalid_target', 'The target service indicated by the "audience" parameters is invalid.')).toMatch(/pool or provider does not exist/);
    expect(cause('invalid_grant', 'The issuer in ID Token x does not match the expected ones: y.')).toMatch(/issuer URI is not the token's iss/);
    expect(cause('unauthorized_client', 'The given credential is rejected by the attribute condition.')).toMatch(/attribute condition rejected/);
    expect(cause('invalid_grant', 'anything', { exp: NOW / 1000 - 5 })).toMatch(/token has expired/);
  });

  it('gives the binding that lets the principal set impersonate the service account, as a command', () => {
    const { lines, cause } = diagnosePermissionDenied(claims(), TARGET, NOW);
    const pool = 'iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/circleci';
    expect(printed(lines)[1]).toBe(`regauth: fix: gcloud iam service-accounts add-iam-policy-binding ${TARGET.serviceAccount} --role=roles/iam.workloadIdentityUser --member="principalSet://${pool}/attribute.project/${PROJECT}"`);
    expect(cause).toMatch(/may not impersonate ci-pull@p.iam.gserviceaccount.com .*check service_account$/);
    const direct = diagnosePermissionDenied(claims(), { ...TARGET, serviceAccount: '' }, NOW);
    expect(printed(direct.lines)[1]).toContain('needs roles/artifactregistry.reader on the repository');
  });
});
