import { describe, expect, it } from 'vitest';
import { describeClaimsForGoogle, diagnosePermissionDenied, diagnoseTokenExchange, type GoogleTarget } from '../../src/job-token/index.ts';

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
    expect(describeClaimsForGoogle(claims(), NOW)).toBe(`iss=https://oidc.circleci.com/org/${ORG} aud=${ORG} sub=${V2_SUB} (sub is ${Buffer.byteLength(V2_SUB)} bytes) exp=2026-12-01T12:10:00.000Z (in 600 s)`);
    expect(Buffer.byteLength(V1_SUB)).toBe(127);
  });

  it('names what the provider must have, and the cause for each refusal', () => {
    const lines = diagnoseTokenExchange(claims(), TARGET, 'invalid_grant', 'The audience in ID Token [x] does not match the expected audience.', NOW);
    expect(lines.slice(1)).toEqual([
      `the workload identity provider ${TARGET.provider} must have:`,
      `  issuer (OIDC)       https://oidc.circleci.com/org/${ORG}`,
      `  allowed audiences   including ${ORG}`,
      `  attribute mapping   google.subject of at most 127 bytes (this token's sub is ${Buffer.byteLength(V2_SUB)} bytes: map google.subject=assertion['oidc.circleci.com/project-id'] or from the v1 token's sub)`,
      `  attribute condition true for these claims, e.g. assertion.aud == '${ORG}' && assertion['oidc.circleci.com/project-id'] == '<project-id>'`,
      `likely cause: the provider's allowed audiences do not include ${ORG}: add it (CircleCI's default aud is the organization id ${ORG})`,
    ]);
    const cause = (code: string, message: string, extra = {}) => diagnoseTokenExchange(claims(extra), TARGET, code, message, NOW).at(-1);
    expect(cause('invalid_request', 'The size of mapped attribute google.subject exceeds the 127 bytes limit.')).toMatch(/^likely cause: the mapped google.subject is over 127 bytes: CircleCI's v2 sub is 1\d\d bytes/);
    expect(cause('invalid_target', 'The target service indicated by the "audience" parameters is invalid.')).toMatch(/pool or provider does not exist/);
    expect(cause('invalid_grant', 'The issuer in ID Token x does not match the expected ones: y.')).toMatch(/issuer URI is not https:\/\/oidc.circleci.com/);
    expect(cause('unauthorized_client', 'The given credential is rejected by the attribute condition.')).toMatch(/attribute condition rejected/);
    expect(cause('invalid_grant', 'anything', { exp: NOW / 1000 - 5 })).toMatch(/token has expired/);
  });

  it('names the principal that needs roles/iam.workloadIdentityUser, and the reader role', () => {
    const lines = diagnosePermissionDenied(claims(), TARGET);
    const pool = 'iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/circleci';
    expect(lines[0]).toContain(`principal://${pool}/subject/<google.subject>`);
    expect(lines[0]).toContain(`principalSet://${pool}/attribute.project/${PROJECT}`);
    expect(lines[1]).toBe(`  needs roles/iam.workloadIdentityUser on the service account ${TARGET.serviceAccount}`);
    expect(lines[2]).toBe(`  and ${TARGET.serviceAccount} needs roles/artifactregistry.reader on the repository`);
    expect(lines[3]).toBe(`likely cause: the binding is missing: gcloud iam service-accounts add-iam-policy-binding ${TARGET.serviceAccount} --role=roles/iam.workloadIdentityUser --member=principalSet://${pool}/attribute.project/${PROJECT}`);
  });
});
