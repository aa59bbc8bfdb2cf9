/**
 * Who is calling (STS GetCallerIdentity): an operator command records it (`phoenix release`,
 * `phoenix approve`). Its own module, so that no handler bundle carries the STS client.
 */
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { aws } from './errors';

let sts: STSClient | undefined;

/** The caller identity ARN (an audit record never says "unknown": no ARN is an error). */
export async function callerArn(): Promise<string> {
  sts ??= new STSClient({ retryMode: 'adaptive', maxAttempts: 5 });
  const client = sts;
  const identity = await aws('GetCallerIdentity', () => client.send(new GetCallerIdentityCommand({})));
  if (identity.Arn === undefined) throw new Error('STS GetCallerIdentity returned no Arn');
  return identity.Arn;
}
