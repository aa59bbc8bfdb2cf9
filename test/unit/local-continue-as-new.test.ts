/**
 * Continue-as-new locally: a Task `arn:aws:states:::states:startExecution` runs against the local
 * Step Functions service's own registry (request-response, as AWS answers it), errors come back
 * under the names a service integration uses, and `phoenix status` follows a lock's execution to
 * its continuation.
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWorkflow } from '../../cli/status';
import { silentLogger } from '../../local/log';
import { LocalStepFunctions } from '../../local/stepfunctions';

const ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:segments';

/** Hands over to `$.next` (started with `{hold: true}`), or holds in a long Wait. */
const definition = {
  StartAt: 'HandOver?',
  States: {
    'HandOver?': {
      Type: 'Choice',
      Choices: [{ Variable: '$.next', IsPresent: true, Next: 'ContinueAsNew' }],
      Default: 'Hold',
    },
    ContinueAsNew: {
      Type: 'Task',
      Resource: 'arn:aws:states:::states:startExecution',
      Parameters: { 'StateMachineArn.$': '$$.StateMachine.Id', 'Name.$': '$.next', Input: { hold: true } },
      ResultSelector: { 'executionArn.$': '$.ExecutionArn' },
      ResultPath: '$.continued',
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Failed' }],
      Next: 'HandedOver',
    },
    HandedOver: { Type: 'Pass', Parameters: { 'continued.$': '$.next' }, End: true },
    Failed: { Type: 'Fail', Error: 'HandOverFailed', CausePath: '$.error.Error' },
    Hold: { Type: 'Wait', Seconds: 100_000, Next: 'Done' },
    Done: { Type: 'Succeed' },
  },
};

let service: LocalStepFunctions;
let sfn: SFNClient;

beforeAll(async () => {
  service = await LocalStepFunctions.start({
    timeScale: 0.001,
    log: silentLogger,
    invoker: { resolveFunction: () => undefined, invoke: () => Promise.reject(new Error('no functions')) },
  });
  service.registerStateMachine({ name: 'segments', arn: ARN, definition });
  sfn = new SFNClient({
    region: 'us-east-1',
    endpoint: service.endpoint,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
});

afterAll(async () => {
  await service?.close();
  sfn?.destroy();
});

describe('continue-as-new (local startExecution task)', () => {
  it('starts the continuation in the same registry; status follows the lock holder to it', async () => {
    const { executionArn } = service.startExecution({
      stateMachineArn: ARN,
      name: 'rollout-1',
      input: JSON.stringify({ next: 'rollout-1-c2' }),
    });
    const first = await service.waitForExecution(executionArn, { timeoutMs: 10_000 });
    expect(first.status).toBe('SUCCEEDED');
    expect(JSON.parse(first.output!)).toEqual({ continued: 'rollout-1-c2' });
    const second = service.describeExecution(`${ARN.replace(':stateMachine:', ':execution:')}:rollout-1-c2`);
    expect(second.status).toBe('RUNNING');
    expect(JSON.parse(second.input)).toEqual({ hold: true });

    // The lock still names the predecessor: status shows the continuation's state.
    const view = await readWorkflow(sfn, ARN, 'rollout-1');
    expect(view).toMatchObject({ continuedAs: 'rollout-1-c2', status: 'RUNNING', step: 'Hold' });
    // Without a continuation, nothing is followed.
    const plain = await readWorkflow(sfn, ARN, 'rollout-1-c2');
    expect(plain.continuedAs).toBeUndefined();
    service.stopExecution(second.executionArn);
  });

  it('reports a failed start under the service integration error name', async () => {
    // Running under another input: AWS answers a start of the same name ExecutionAlreadyExists.
    service.startExecution({ stateMachineArn: ARN, name: 'taken', input: JSON.stringify({ hold: 'other' }) });
    const { executionArn } = service.startExecution({
      stateMachineArn: ARN,
      name: 'hand-over-to-taken',
      input: JSON.stringify({ next: 'taken' }),
    });
    const result = await service.waitForExecution(executionArn, { timeoutMs: 10_000 });
    expect(result.status).toBe('FAILED');
    expect(result.cause).toBe('StepFunctions.ExecutionAlreadyExistsException');
    service.stopExecution(`${ARN.replace(':stateMachine:', ':execution:')}:taken`);
  });
});
