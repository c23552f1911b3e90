import { compactVerify, createLocalJWKSet, decodeJwt, decodeProtectedHeader, type JSONWebKeySet, type JWTPayload } from 'jose';
import { escapeXml, fault, STS_NAMESPACE } from './responses.ts';
import { newSessionSecrets, stringLike, type Principal, type RoleConfig } from './state.ts';

export interface StsContext {
  now: () => number;
  /** Registered OIDC providers: issuer URL without scheme → its keys and allowed client ids (audiences). */
  providers: Map<string, { jwks: JSONWebKeySet; clientIds: readonly string[] }>;
  roles: Map<string, RoleConfig>;
  defaultAudience: string;
  defaultProvider: string;
  sessions: Map<string, Principal>;
  /** Test-only: credentials live this many seconds instead of DurationSeconds (refresh tests). */
  sessionLifetimeSeconds?: () => number | undefined;
}

const ROLE_ARN = /^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-[a-z]|aws-eusc):iam::(\d{12}):role\/((?:[\x21-\x7e]+\/)*)([\w+=,.@-]{1,64})$/;
const SESSION_NAME = /^[\w+=,.@-]*$/;

/** Validation in AWS's style: every failed constraint, counted, in one ValidationError. */
function validate(params: URLSearchParams): void {
  const problems: string[] = [];
  const roleArn = params.get('RoleArn');
  const session = params.get('RoleSessionName');
  const token = params.get('WebIdentityToken');
  const duration = params.get('DurationSeconds');
  if (roleArn === null) problems.push("Value null at 'roleArn' failed to satisfy constraint: Member must not be null");
  else if (roleArn.length < 20 || roleArn.length > 2048) problems.push(`Value '${roleArn}' at 'roleArn' failed to satisfy constraint: Member must have length between 20 and 2048`);
  if (session === null) problems.push("Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null");
  else {
    if (session.length < 2 || session.length > 64) problems.push(`Value '${session}' at 'roleSessionName' failed to satisfy constraint: Member must have length between 2 and 64`);
    if (!SESSION_NAME.test(session)) problems.push(`Value '${session}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*`);
  }
  // The token is never echoed back.
  if (token === null) problems.push("Value null at 'webIdentityToken' failed to satisfy constraint: Member must not be null");
  else if (token.length < 4 || token.length > 20000) problems.push("Value at 'webIdentityToken' failed to satisfy constraint: Member must have length between 4 and 20000");
  if (duration !== null) {
    const seconds = Number(duration);
    if (!/^\d+$/.test(duration) || seconds < 900 || seconds > 43200) problems.push(`Value '${duration}' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200`);
  }
  if (problems.length > 0) {
    throw fault('ValidationError', `${problems.length} validation error${problems.length > 1 ? 's' : ''} detected: ${problems.join('; ')}`);
  }
}

function providerKey(iss: string): string {
  return iss.replace(/^https?:\/\//, '').replace(/\/$/, '');
}

function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

async function verifyToken(ctx: StsContext, token: string): Promise<{ claims: JWTPayload; provider: string }> {
  let claims: JWTPayload;
  try {
    decodeProtectedHeader(token);
    claims = decodeJwt(token);
  } catch {
    throw fault('InvalidIdentityToken', 'The ID token provided is not a valid JWT.');
  }
  if (typeof claims.iss !== 'string') throw fault('InvalidIdentityToken', 'The ID token has no issuer (iss) claim.');
  const provider = providerKey(claims.iss);
  const registered = ctx.providers.get(provider);
  if (!registered) throw fault('InvalidIdentityToken', `No OpenIDConnect provider found in your account for ${claims.iss}`);
  try {
    await compactVerify(token, createLocalJWKSet(registered.jwks), { algorithms: ['RS256'] });
  } catch {
    throw fault('InvalidIdentityToken', "The ID token's signature could not be verified with the provider's keys.");
  }
  const nowSeconds = ctx.now() / 1000;
  if (typeof claims.exp !== 'number') throw fault('InvalidIdentityToken', 'The ID token has no expiration (exp) claim.');
  if (claims.exp <= nowSeconds) {
    throw fault('ExpiredTokenException', `Token expired: current date/time ${isoSeconds(ctx.now())} must be before the expiration date/time ${isoSeconds(claims.exp * 1000)}`);
  }
  if (typeof claims.nbf === 'number' && claims.nbf > nowSeconds) throw fault('InvalidIdentityToken', 'The ID token is not yet valid (nbf is in the future).');
  const audiences = Array.isArray(claims.aud) ? claims.aud : claims.aud === undefined ? [] : [claims.aud];
  if (!audiences.some((aud) => registered.clientIds.includes(aud))) throw fault('InvalidIdentityToken', 'Incorrect token audience');
  return { claims, provider };
}

function trustAllows(ctx: StsContext, role: RoleConfig, provider: string, claims: JWTPayload): boolean {
  if ((role.provider ?? ctx.defaultProvider) !== provider) return false;
  const allowed = role.aud === undefined ? [ctx.defaultAudience] : typeof role.aud === 'string' ? [role.aud] : role.aud;
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.some((aud) => typeof aud === 'string' && allowed.includes(aud))) return false;
  return stringLike(role.subPattern ?? '*', typeof claims.sub === 'string' ? claims.sub : '');
}

/** AssumeRoleWithWebIdentity; answers the XML body or throws an AwsFault. */
export async function assumeRoleWithWebIdentity(ctx: StsContext, params: URLSearchParams, requestId: string): Promise<string> {
  validate(params);
  const roleArn = params.get('RoleArn') ?? '';
  const sessionName = params.get('RoleSessionName') ?? '';
  const token = params.get('WebIdentityToken') ?? '';
  const arn = ROLE_ARN.exec(roleArn);
  if (!arn) throw fault('ValidationError', 'Request ARN is invalid');
  const { claims, provider } = await verifyToken(ctx, token);
  const role = ctx.roles.get(roleArn);
  if (!role || !trustAllows(ctx, role, provider, claims)) throw fault('AccessDenied', 'Not authorized to perform sts:AssumeRoleWithWebIdentity');
  const duration = Number(params.get('DurationSeconds') ?? '3600');
  if (duration > (role.maxSessionDuration ?? 3600)) throw fault('ValidationError', 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.');

  const account = arn[2] ?? '';
  const roleName = arn[4] ?? '';
  const secrets = newSessionSecrets();
  const expiresAt = ctx.now() + (ctx.sessionLifetimeSeconds?.() ?? duration) * 1000;
  const assumedArn = `arn:${arn[1]}:sts::${account}:assumed-role/${roleName}/${sessionName}`;
  ctx.sessions.set(secrets.accessKeyId, { ...secrets, expiresAt, account, arn: assumedArn, accounts: role.accounts ?? [account] });
  const audience = Array.isArray(claims.aud) ? (claims.aud[0] ?? '') : (claims.aud ?? '');
  return (
    `<AssumeRoleWithWebIdentityResponse xmlns="${STS_NAMESPACE}">\n` +
    '  <AssumeRoleWithWebIdentityResult>\n' +
    `    <SubjectFromWebIdentityToken>${escapeXml(claims.sub ?? '')}</SubjectFromWebIdentityToken>\n` +
    `    <Audience>${escapeXml(audience)}</Audience>\n` +
    '    <AssumedRoleUser>\n' +
    `      <Arn>${escapeXml(assumedArn)}</Arn>\n` +
    `      <AssumedRoleId>AROA${account}EXAMPLE:${escapeXml(sessionName)}</AssumedRoleId>\n` +
    '    </AssumedRoleUser>\n' +
    '    <Credentials>\n' +
    `      <SessionToken>${secrets.sessionToken}</SessionToken>\n` +
    `      <SecretAccessKey>${secrets.secretAccessKey}</SecretAccessKey>\n` +
    `      <Expiration>${isoSeconds(expiresAt)}</Expiration>\n` +
    `      <AccessKeyId>${secrets.accessKeyId}</AccessKeyId>\n` +
    '    </Credentials>\n' +
    `    <Provider>${escapeXml(claims.iss ?? '')}</Provider>\n` +
    '  </AssumeRoleWithWebIdentityResult>\n' +
    `  <ResponseMetadata>\n    <RequestId>${requestId}</RequestId>\n  </ResponseMetadata>\n` +
    '</AssumeRoleWithWebIdentityResponse>\n'
  );
}

/** The role a session belongs to: arn:aws:sts::<acct>:assumed-role/<name>/<session> → arn:aws:iam::<acct>:role/<name>. */
function roleOfSession(arn: string): string | undefined {
  const match = /^arn:([\w-]+):sts::(\d{12}):assumed-role\/([^/]+)\/[^/]+$/.exec(arn);
  return match ? `arn:${match[1]}:iam::${match[2]}:role/${match[3]}` : undefined;
}

/** sts:AssumeRole, signed by a session's keys; the target role's `assumableBy` must name the caller's role. */
export function assumeRole(ctx: StsContext, caller: Principal, params: URLSearchParams, requestId: string): string {
  const roleArn = params.get('RoleArn') ?? '';
  const sessionName = params.get('RoleSessionName') ?? '';
  const arn = ROLE_ARN.exec(roleArn);
  if (!arn) throw fault('ValidationError', 'Request ARN is invalid');
  if (sessionName.length < 2 || sessionName.length > 64 || !SESSION_NAME.test(sessionName)) throw fault('ValidationError', `Value '${sessionName}' at 'roleSessionName' failed to satisfy constraint`);
  const role = ctx.roles.get(roleArn);
  const from = roleOfSession(caller.arn);
  if (!role || from === undefined || !(role.assumableBy ?? []).includes(from)) throw fault('AccessDenied', `User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`);
  const account = arn[2] ?? '';
  const roleName = arn[4] ?? '';
  const secrets = newSessionSecrets();
  const expiresAt = ctx.now() + (ctx.sessionLifetimeSeconds?.() ?? Number(params.get('DurationSeconds') ?? '3600')) * 1000;
  const assumedArn = `arn:${arn[1]}:sts::${account}:assumed-role/${roleName}/${sessionName}`;
  ctx.sessions.set(secrets.accessKeyId, { ...secrets, expiresAt, account, arn: assumedArn, accounts: role.accounts ?? [account] });
  return (
    `<AssumeRoleResponse xmlns="${STS_NAMESPACE}">\n  <AssumeRoleResult>\n` +
    `    <AssumedRoleUser>\n      <Arn>${escapeXml(assumedArn)}</Arn>\n      <AssumedRoleId>AROA${account}CHAINED:${escapeXml(sessionName)}</AssumedRoleId>\n    </AssumedRoleUser>\n` +
    `    <Credentials>\n      <SessionToken>${secrets.sessionToken}</SessionToken>\n      <SecretAccessKey>${secrets.secretAccessKey}</SecretAccessKey>\n` +
    `      <Expiration>${isoSeconds(expiresAt)}</Expiration>\n      <AccessKeyId>${secrets.accessKeyId}</AccessKeyId>\n    </Credentials>\n` +
    `  </AssumeRoleResult>\n  <ResponseMetadata>\n    <RequestId>${requestId}</RequestId>\n  </ResponseMetadata>\n</AssumeRoleResponse>\n`
  );
}

/** sts:GetCallerIdentity: who signed the request. */
export function getCallerIdentity(caller: Principal, requestId: string): string {
  return (
    `<GetCallerIdentityResponse xmlns="${STS_NAMESPACE}">\n  <GetCallerIdentityResult>\n` +
    `    <Arn>${escapeXml(caller.arn)}</Arn>\n    <UserId>${escapeXml(caller.accessKeyId)}</UserId>\n    <Account>${caller.account}</Account>\n` +
    `  </GetCallerIdentityResult>\n  <ResponseMetadata>\n    <RequestId>${requestId}</RequestId>\n  </ResponseMetadata>\n</GetCallerIdentityResponse>\n`
  );
}
