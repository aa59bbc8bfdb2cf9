import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { aws, errorName } from './errors';
import { ssm } from './clients';

/** The current value of a parameter, or undefined when it does not exist (any more). */
export async function readParameter(name: string): Promise<string | undefined> {
  try {
    const result = await aws('GetParameter', () => ssm().send(new GetParameterCommand({ Name: name })));
    return result.Parameter?.Value?.trim();
  } catch (error) {
    if (errorName(error) === 'ParameterNotFound') return undefined;
    throw error;
  }
}
