/** The deployer's validation test function (issue 13 §2): one synchronous Lambda Invoke. */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { aws } from './errors';

let client: LambdaClient | undefined;
const lambda = () => (client ??= new LambdaClient({ retryMode: 'adaptive', maxAttempts: 5 }));

/**
 * Call the function with `payload` and wait for its answer: the payload it returned, or the
 * function's own error (`FunctionError`) as its output.
 */
export async function invokeTestFunction(
  functionName: string,
  payload: Record<string, unknown>,
): Promise<{ payload?: string; functionError?: string }> {
  const result = await aws('Invoke', () =>
    lambda().send(
      new InvokeCommand({
        FunctionName: functionName,
        InvocationType: 'RequestResponse',
        Payload: new TextEncoder().encode(JSON.stringify(payload)),
      }),
    ),
  );
  const text = result.Payload !== undefined ? new TextDecoder().decode(result.Payload) : undefined;
  return {
    ...(text !== undefined ? { payload: text } : {}),
    ...(result.FunctionError !== undefined ? { functionError: result.FunctionError } : {}),
  };
}
