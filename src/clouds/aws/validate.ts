/**
 * Pure checks of AWS identifiers, used by the input layer before anything runs.
 * Each `*Problem` function returns undefined for a valid value, else the reason.
 */
import { parseEcrRegistryHost } from '../../registry/host.ts';

const PARTITION = '(aws|aws-cn|aws-us-gov|aws-iso(?:-[a-z])?|aws-eusc)';
// IAM path: `/` or `/segment/.../`, printable ASCII; role name: [\w+=,.@-]{1,64}.
const ROLE_ARN = new RegExp(`^arn:${PARTITION}:iam::(\\d{12}):role/((?:[\\x21-\\x2e\\x30-\\x7e]+/)*)([\\w+=,.@-]{1,64})$`);
const REGION = /^(?:[a-z]{2}|eusc)(-[a-z]+)+-\d+$/;
const ACCOUNT_ID = /^\d{12}$/;

export interface RoleArn {
  partition: string;
  account: string;
  /** `/` or `/a/b/` */
  path: string;
  name: string;
}

export function parseRoleArn(value: string): RoleArn | undefined {
  if (value.length > 2048) return undefined;
  const match = ROLE_ARN.exec(value);
  if (!match) return undefined;
  return { partition: match[1] ?? '', account: match[2] ?? '', path: `/${match[3] ?? ''}`, name: match[4] ?? '' };
}

export function roleArnProblem(value: string): string | undefined {
  if (value === '') return 'is empty; set it to a role ARN such as arn:aws:iam::123456789012:role/ci-pull';
  if (parseRoleArn(value)) return undefined;
  if (!value.startsWith('arn:')) return `must be an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>), got ${quote(value)}`;
  const parts = value.split(':');
  if (!new RegExp(`^${PARTITION}$`).test(parts[1] ?? '')) return `has an unknown partition ${quote(parts[1] ?? '')} (aws, aws-cn, aws-us-gov, aws-iso*)`;
  if (parts[2] !== 'iam') return `must be an IAM ARN (arn:<partition>:iam::…), got service ${quote(parts[2] ?? '')}`;
  if (!ACCOUNT_ID.test(parts[4] ?? '')) return `must hold a 12-digit account id, got ${quote(parts[4] ?? '')}`;
  if (!(parts[5] ?? '').startsWith('role/')) return `must name a role (…:role/<name>), got ${quote(parts.slice(5).join(':'))}`;
  return `has an invalid role name or path in ${quote(value)} (name: 1-64 of letters, digits and +=,.@_-)`;
}

export function isRegion(value: string): boolean {
  return REGION.test(value);
}

export function regionProblem(value: string): string | undefined {
  if (value === '') return 'is empty; set it (e.g. us-east-1) or set AWS_DEFAULT_REGION / AWS_REGION';
  return isRegion(value) ? undefined : `must be an AWS region such as us-east-1, eu-west-2 or cn-north-1, got ${quote(value)}`;
}

export function isAccountId(value: string): boolean {
  return ACCOUNT_ID.test(value);
}

export function accountIdProblem(value: string): string | undefined {
  return isAccountId(value) ? undefined : `must be a 12-digit AWS account id, got ${quote(value)}`;
}

// The ECR host pattern is the registry layer's (one rule for what an ECR host is).
export { parseEcrRegistryHost, type EcrRegistryHost } from '../../registry/host.ts';

export function ecrRegistryHostProblem(host: string): string | undefined {
  return parseEcrRegistryHost(host)
    ? undefined
    : `must be an ECR registry host (<12-digit account>.dkr.ecr.<region>.amazonaws.com), got ${quote(host)}`;
}

function quote(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
}
