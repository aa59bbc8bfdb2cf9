/**
 * SSM Run Command for the validation test (issue 13 §2): send the channel's test document to the
 * validation instance, read the invocation's status and output.
 */
import { GetCommandInvocationCommand, SendCommandCommand } from '@aws-sdk/client-ssm';
import { ssm } from './clients';
import { aws, errorName } from './errors';

/** Send `document` to the instance; the command id. */
export async function sendTestCommand(args: {
  document: string;
  instanceId: string;
  timeoutSeconds: number;
  comment: string;
}): Promise<string> {
  const result = await aws('SendCommand', () =>
    ssm().send(
      new SendCommandCommand({
        DocumentName: args.document,
        InstanceIds: [args.instanceId],
        TimeoutSeconds: Math.max(30, Math.min(2592000, Math.round(args.timeoutSeconds))),
        Comment: args.comment.slice(0, 100),
      }),
    ),
  );
  const id = result.Command?.CommandId;
  if (id === undefined) throw new Error(`SendCommand ${args.document} returned no command id`);
  return id;
}

/** The command's status on the instance and its output (`Pending` while SSM has no invocation yet). */
export async function testCommandInvocation(
  commandId: string,
  instanceId: string,
): Promise<{ status: string; output: string }> {
  try {
    const result = await aws('GetCommandInvocation', () =>
      ssm().send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId })),
    );
    const output = [result.StandardOutputContent, result.StandardErrorContent]
      .filter((s): s is string => s !== undefined && s !== '')
      .join('\n');
    return { status: result.Status ?? 'Pending', output };
  } catch (error) {
    if (errorName(error) === 'InvocationDoesNotExist') return { status: 'Pending', output: '' };
    throw error;
  }
}
