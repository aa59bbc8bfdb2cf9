/** Who is calling (STS GetCallerIdentity): the operator's identity ARN, for `phoenix approve`. */
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { aws } from './errors';

let client: STSClient | undefined;
const sts = () => (client ??= new STSClient({ retryMode: 'adaptive', maxAttempts: 5 }));

/** The caller's identity ARN. */
export async function callerArn(): Promise<string> {
  const result = await aws('GetCallerIdentity', () => sts().send(new GetCallerIdentityCommand({})));
  if (result.Arn === undefined) throw new Error('STS GetCallerIdentity returned no Arn');
  return result.Arn;
}
