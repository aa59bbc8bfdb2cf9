/**
 * The local Step Functions service, through the real SDK client (AWS JSON 1.0 over HTTP) and its
 * in-process API: execution-name semantics as in AWS, Lambda errors seen by Retry/Catch under
 * the names Step Functions would use, scaled waits and retries.
 */
import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLambdaHost, type LambdaHost } from '../../local/lambda-host';
import { silentLogger } from '../../local/log';
import { LocalStepFunctions, UnsupportedTaskResourceError } from '../../local/stepfunctions';
import { ApiLimiter, stepFunctionsBuckets } from '../../local/stepfunctions/throttling';
import { resolveTemplate, type LocalModel } from '../../local/template';
import { calls, clearCalls } from '../fixtures/local-runtime/recorder';
import { FIXTURE_HANDLERS_DIR, fixtureTemplate } from '../fixtures/local-runtime/template';

const REGION = 'us-east-1';
const TIME_SCALE = 0.01;
let model: LocalModel;
let host: LambdaHost;
let service: LocalStepFunctions;
let sfn: SFNClient;
let flakyArn: string;
let echoArn: string;
let machineCount = 0;

beforeAll(async () => {
  // The host needs no emulator: the fixture handlers make no AWS calls.
  model = resolveTemplate(fixtureTemplate(), { region: REGION, endpoint: 'http://127.0.0.1:1' });
  host = await createLambdaHost({
    model,
    emulatorEndpoint: 'http://127.0.0.1:1',
    handlersDir: FIXTURE_HANDLERS_DIR,
    log: silentLogger,
  });
  service = await LocalStepFunctions.start({
    region: REGION,
    invoker: host,
    timeScale: TIME_SCALE,
    log: silentLogger,
  });
  sfn = new SFNClient({
    region: REGION,
    endpoint: service.endpoint,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  flakyArn = model.functions.find((f) => f.handler === 'flaky')!.arn;
  echoArn = model.functions.find((f) => f.handler === 'echo')!.arn;
});

afterAll(async () => {
  await service?.close();
  sfn?.destroy();
  host?.restoreEnvironment();
});

beforeEach(() => clearCalls());

/** Register a definition under a fresh name; returns its ARN. */
function register(definition: object): string {
  const name = `machine-${++machineCount}`;
  const arn = `arn:aws:states:${REGION}:123456789012:stateMachine:${name}`;
  service.registerStateMachine({ name, arn, definition });
  return arn;
}

const waitThenSucceed = (seconds: number) => ({
  StartAt: 'Hold',
  States: { Hold: { Type: 'Wait', Seconds: seconds, Next: 'Done' }, Done: { Type: 'Succeed' } },
});

describe('StartExecution names', () => {
  it('returns the running execution for the same name and input, and refuses a different input', async () => {
    const arn = register(waitThenSucceed(100)); // 1 s at timeScale 0.01
    const first = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: arn, name: 'web-ami-1', input: '{"fleet":"web"}' }),
    );
    const again = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: arn, name: 'web-ami-1', input: '{"fleet":"web"}' }),
    );
    expect(again.executionArn).toBe(first.executionArn);
    expect(again.startDate?.getTime()).toBe(first.startDate?.getTime());
    expect(first.executionArn).toBe(
      `arn:aws:states:${REGION}:123456789012:execution:machine-${machineCount}:web-ami-1`,
    );

    const different = sfn.send(
      new StartExecutionCommand({ stateMachineArn: arn, name: 'web-ami-1', input: '{"fleet":"api"}' }),
    );
    await expect(different).rejects.toMatchObject({
      name: 'ExecutionAlreadyExists',
      $metadata: { httpStatusCode: 400 },
    });

    // Once closed, a name cannot be reused at all (as in AWS), same input or not.
    await service.waitForExecution(first.executionArn!, { timeoutMs: 10_000 });
    await expect(
      sfn.send(
        new StartExecutionCommand({ stateMachineArn: arn, name: 'web-ami-1', input: '{"fleet":"web"}' }),
      ),
    ).rejects.toMatchObject({ name: 'ExecutionAlreadyExists' });
  });

  it('validates names and knows its state machines', async () => {
    const arn = register(waitThenSucceed(0));
    for (const name of ['', 'a'.repeat(81), 'has space', 'slash/no', 'colon:no']) {
      await expect(sfn.send(new StartExecutionCommand({ stateMachineArn: arn, name }))).rejects.toMatchObject(
        {
          name: 'InvalidName',
        },
      );
    }
    const ok = await sfn.send(new StartExecutionCommand({ stateMachineArn: arn, name: 'web.prod-1_a' }));
    expect(ok.executionArn).toMatch(/:web\.prod-1_a$/);
    await expect(
      sfn.send(
        new StartExecutionCommand({
          stateMachineArn: `arn:aws:states:${REGION}:123456789012:stateMachine:nope`,
        }),
      ),
    ).rejects.toMatchObject({ name: 'StateMachineDoesNotExist' });
    await expect(
      sfn.send(new StartExecutionCommand({ stateMachineArn: arn, input: '{not json' })),
    ).rejects.toMatchObject({ name: 'InvalidExecutionInput' });
  });
});

describe('Lambda tasks', () => {
  it('Retry and Catch see the handler error names; Cause is the Lambda error JSON', async () => {
    const arn = register({
      StartAt: 'Step',
      States: {
        Step: {
          Type: 'Task',
          Resource: flakyArn,
          Retry: [{ ErrorEquals: ['FlakyError'], IntervalSeconds: 5, MaxAttempts: 2, BackoffRate: 2 }],
          Catch: [
            { ErrorEquals: ['OtherError'], ResultPath: '$.wrong', Next: 'Wrong' },
            { ErrorEquals: ['BoomError'], ResultPath: '$.error', Next: 'Caught' },
          ],
          End: true,
        },
        Wrong: { Type: 'Fail', Error: 'WrongCatcher' },
        Caught: { Type: 'Pass', End: true },
      },
    });
    const input = { key: 'retry-catch', failTimes: 2, failWith: 'FlakyError', finally: 'BoomError' };
    const started = service.startExecution({ stateMachineArn: arn, input: JSON.stringify(input) });
    const record = await service.waitForExecution(started.executionArn, { timeoutMs: 10_000 });
    expect(record.status).toBe('SUCCEEDED');
    const output = JSON.parse(record.output!);
    expect(output.error.Error).toBe('BoomError');
    expect(JSON.parse(output.error.Cause)).toEqual({
      errorType: 'BoomError',
      errorMessage: 'BoomError on attempt 3',
    });
    // Two retries of FlakyError, waiting 5 s and 10 s scaled by 0.01.
    const attempts = calls('flaky');
    expect(attempts).toHaveLength(3);
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(45);
    expect(attempts[2]!.at - attempts[1]!.at).toBeGreaterThanOrEqual(95);
    expect(attempts[2]!.at - attempts[0]!.at).toBeLessThan(2_000);
  });

  it('an uncaught handler error fails the execution with the error name and Cause', async () => {
    const arn = register({
      StartAt: 'Step',
      States: { Step: { Type: 'Task', Resource: flakyArn, End: true } },
    });
    const input = { key: 'uncaught', failTimes: 1, failWith: 'FleetBusyError' };
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: arn, input: JSON.stringify(input) }),
    );
    await service.waitForExecution(executionArn!, { timeoutMs: 10_000 });
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    expect(described.status).toBe('FAILED');
    expect(described.error).toBe('FleetBusyError');
    expect(JSON.parse(described.cause!)).toEqual({
      errorType: 'FleetBusyError',
      errorMessage: 'FleetBusyError on attempt 1',
    });
    expect(described.stopDate).toBeInstanceOf(Date);
  });

  it('passes the effective input (after Parameters, with the context object) and the lambda:invoke shape', async () => {
    const arn = register({
      StartAt: 'Direct',
      States: {
        Direct: {
          Type: 'Task',
          Resource: echoArn,
          Parameters: { 'fleet.$': '$.fleet', 'execution.$': '$$.Execution.Name', fixed: 1 },
          ResultPath: '$.direct',
          Next: 'Integration',
        },
        Integration: {
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke',
          Parameters: { FunctionName: echoArn, 'Payload.$': '$.direct.echoed' },
          ResultSelector: { 'payload.$': '$.Payload', 'status.$': '$.StatusCode' },
          ResultPath: '$.integration',
          End: true,
        },
      },
    });
    const { executionArn } = service.startExecution({
      stateMachineArn: arn,
      name: 'params',
      input: JSON.stringify({ fleet: 'web', other: true }),
    });
    const record = await service.waitForExecution(executionArn, { timeoutMs: 10_000 });
    expect(record.status).toBe('SUCCEEDED');
    const output = JSON.parse(record.output!);
    expect(output.direct.echoed).toEqual({ fleet: 'web', execution: 'params', fixed: 1 });
    expect(output.integration).toEqual({
      payload: { echoed: { fleet: 'web', execution: 'params', fixed: 1 }, setting: 'shared-value' },
      status: 200,
    });
  });

  it('refuses to register a Task it cannot run, and JSONata or Assign that the engine would ignore', () => {
    expect(() =>
      register({
        StartAt: 'S',
        States: { S: { Type: 'Task', Resource: 'arn:aws:states:::sqs:sendMessage', End: true } },
      }),
    ).toThrow(UnsupportedTaskResourceError);
    expect(() =>
      register({ QueryLanguage: 'JSONata', StartAt: 'P', States: { P: { Type: 'Pass', End: true } } }),
    ).toThrow(/JSONata/);
    expect(() =>
      register({ StartAt: 'P', States: { P: { Type: 'Pass', Assign: { x: 1 }, End: true } } }),
    ).toThrow(/Assign/);
  });

  it('refuses a Choice type test set to false (the engine never matches it, AWS does), nested too; Not of true runs', async () => {
    const choice = (rule: Record<string, unknown>) => ({
      StartAt: 'C',
      States: {
        C: { Type: 'Choice', Choices: [{ ...rule, Next: 'Absent' }], Default: 'Present' },
        Absent: { Type: 'Pass', Result: 'absent', End: true },
        Present: { Type: 'Pass', Result: 'present', End: true },
      },
    });
    expect(() => register(choice({ Variable: '$.x', IsPresent: false }))).toThrow(/C: IsPresent: false/);
    expect(() =>
      register(
        choice({ And: [{ Variable: '$.y', IsPresent: true }, { Not: { Variable: '$.x', IsNull: false } }] }),
      ),
    ).toThrow(/C: IsNull: false/);
    const arn = register(choice({ Not: { Variable: '$.x', IsPresent: true } }));
    const { executionArn } = service.startExecution({ stateMachineArn: arn, input: '{}' });
    const record = await service.waitForExecution(executionArn, { timeoutMs: 10_000 });
    expect(JSON.parse(record.output ?? 'null')).toBe('absent');
  });
});

describe('time', () => {
  it('scales Wait Seconds and SecondsPath by timeScale', async () => {
    const arn = register({
      StartAt: 'Fixed',
      States: {
        Fixed: { Type: 'Wait', Seconds: 30, Next: 'FromInput' },
        FromInput: { Type: 'Wait', SecondsPath: '$.delay', Next: 'Done' },
        Done: { Type: 'Succeed' },
      },
    });
    const started = Date.now();
    const { executionArn } = service.startExecution({ stateMachineArn: arn, input: '{"delay": 20}' });
    const record = await service.waitForExecution(executionArn, { timeoutMs: 10_000 });
    const elapsed = Date.now() - started;
    expect(record.status).toBe('SUCCEEDED');
    expect(JSON.parse(record.output!)).toEqual({ delay: 20 });
    // 30 s + 20 s at 0.01 = 500 ms (real time would be 50 s).
    expect(elapsed).toBeGreaterThanOrEqual(480);
    expect(elapsed).toBeLessThan(5_000);
  });

  it('StopExecution aborts a waiting execution', async () => {
    const arn = register(waitThenSucceed(10_000));
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: arn, name: 'to-stop' }),
    );
    const stopped = await sfn.send(
      new StopExecutionCommand({ executionArn, error: 'Operator', cause: 'test' }),
    );
    expect(stopped.stopDate).toBeInstanceOf(Date);
    const record = await service.waitForExecution(executionArn!, { timeoutMs: 5_000 });
    expect(record).toMatchObject({ status: 'ABORTED', error: 'Operator', cause: 'test' });
  });
});

describe('read operations', () => {
  it('lists and describes state machines and executions, with a history', async () => {
    const arn = register({ StartAt: 'P', States: { P: { Type: 'Pass', Result: { ok: true }, End: true } } });
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: arn, name: 'listed', input: '{"a":1}' }),
    );
    await service.waitForExecution(executionArn!, { timeoutMs: 5_000 });

    const machines = await sfn.send(new ListStateMachinesCommand({}));
    expect(machines.stateMachines?.map((m) => m.stateMachineArn)).toContain(arn);
    const machine = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: arn }));
    expect(JSON.parse(machine.definition!)).toMatchObject({ StartAt: 'P' });
    expect(machine.status).toBe('ACTIVE');

    const executions = await sfn.send(new ListExecutionsCommand({ stateMachineArn: arn }));
    expect(executions.executions).toEqual([
      expect.objectContaining({ executionArn, name: 'listed', status: 'SUCCEEDED' }),
    ]);
    const succeeded = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn: arn, statusFilter: 'FAILED' }),
    );
    expect(succeeded.executions).toEqual([]);

    const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    expect(described).toMatchObject({ status: 'SUCCEEDED', input: '{"a":1}', output: '{"ok":true}' });
    const history = await sfn.send(new GetExecutionHistoryCommand({ executionArn }));
    expect(history.events?.map((e) => e.type)).toEqual([
      'ExecutionStarted',
      'PassStateEntered',
      'PassStateExited',
      'ExecutionSucceeded',
    ]);
    await expect(
      sfn.send(
        new DescribeExecutionCommand({ executionArn: `${arn.replace('stateMachine', 'execution')}:missing` }),
      ),
    ).rejects.toMatchObject({ name: 'ExecutionDoesNotExist' });
  });
});

describe('callback tasks (lambda:invoke.waitForTaskToken)', () => {
  /** A machine whose Wait task passes `$$.Task.Token` to the echo function, then ends. */
  const callbackMachine = (extra: Record<string, unknown>) =>
    register({
      StartAt: 'WaitForCall',
      States: {
        WaitForCall: {
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
          Parameters: {
            FunctionName: echoArn,
            Payload: { 'token.$': '$$.Task.Token', 'execution.$': '$$.Execution.Name', 'fleet.$': '$.fleet' },
          },
          ResultPath: '$.woken',
          Catch: [
            { ErrorEquals: ['States.Timeout'], ResultPath: '$.timedOut', Next: 'TimedOut' },
            { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Failed' },
          ],
          End: true,
          ...extra,
        },
        TimedOut: { Type: 'Pass', End: true },
        Failed: { Type: 'Pass', End: true },
      },
    });

  /** The token the echo function got for `execution`, once it got it. */
  async function tokenOf(execution: string): Promise<string> {
    for (let i = 0; i < 500; i++) {
      const call = calls('echo').find((c) => (c.event as { execution?: string }).execution === execution);
      if (call !== undefined) return (call.event as { token: string }).token;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error(`no token for ${execution}`);
  }

  it('waits for SendTaskSuccess: the output is the task result, TaskSubmitted is in the history, the token is spent', async () => {
    const arn = callbackMachine({ TimeoutSeconds: 1_000 }); // 10 s at 0.01
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: arn, name: 'delivered', input: '{"fleet":"web"}' }),
    );
    const token = await tokenOf('delivered');
    expect(token).toMatch(/^phoenix-local-task-token:/);
    expect(calls('echo')[0]!.event).toMatchObject({ fleet: 'web', execution: 'delivered' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(service.describeExecution(executionArn!).status).toBe('RUNNING');
    await sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '{"woken":true}' }));
    const record = await service.waitForExecution(executionArn!, { timeoutMs: 5_000 });
    expect(record.status).toBe('SUCCEEDED');
    expect(JSON.parse(record.output!)).toEqual({ fleet: 'web', woken: { woken: true } });
    expect(record.events.map((e) => e.type)).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'TaskSubmitted',
      'TaskStateExited',
      'ExecutionSucceeded',
    ]);
    await expect(
      sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' })),
    ).rejects.toMatchObject({ name: 'TaskTimedOut', $metadata: { httpStatusCode: 400 } });
  });

  it('times out after TimeoutSeconds × timeScale with States.Timeout (TaskTimedOut); an answer after it is TaskTimedOut', async () => {
    const arn = callbackMachine({ TimeoutSeconds: 50 }); // 0.5 s at 0.01
    const started = Date.now();
    const { executionArn } = service.startExecution({
      stateMachineArn: arn,
      name: 'late',
      input: '{"fleet":"web"}',
    });
    const token = await tokenOf('late');
    const record = await service.waitForExecution(executionArn, { timeoutMs: 5_000 });
    const elapsed = Date.now() - started;
    expect(record.status).toBe('SUCCEEDED');
    expect(JSON.parse(record.output!).timedOut).toMatchObject({ Error: 'States.Timeout' });
    expect(elapsed).toBeGreaterThanOrEqual(480);
    expect(elapsed).toBeLessThan(4_000);
    expect(record.events.map((e) => e.type)).toContain('TaskTimedOut');
    expect(record.events.map((e) => e.type)).not.toContain('TaskFailed');
    await expect(
      sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' })),
    ).rejects.toMatchObject({ name: 'TaskTimedOut' });
  });

  it('fails with the error and cause of SendTaskFailure; heartbeats keep a task with HeartbeatSeconds alive', async () => {
    const arn = callbackMachine({ TimeoutSeconds: 1_000, HeartbeatSeconds: 30 }); // 0.3 s heartbeat
    const { executionArn } = service.startExecution({
      stateMachineArn: arn,
      name: 'failed',
      input: '{"fleet":"web"}',
    });
    const token = await tokenOf('failed');
    for (let i = 0; i < 5; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      await sfn.send(new SendTaskHeartbeatCommand({ taskToken: token }));
    }
    expect(service.describeExecution(executionArn).status).toBe('RUNNING');
    await sfn.send(new SendTaskFailureCommand({ taskToken: token, error: 'SlotLost', cause: 'gone' }));
    const record = await service.waitForExecution(executionArn, { timeoutMs: 5_000 });
    expect(JSON.parse(record.output!).error).toEqual({ Error: 'SlotLost', Cause: 'gone' });

    // Without heartbeats the task times out after HeartbeatSeconds.
    const { executionArn: silent } = service.startExecution({
      stateMachineArn: arn,
      name: 'silent',
      input: '{"fleet":"web"}',
    });
    await tokenOf('silent');
    const timedOut = await service.waitForExecution(silent, { timeoutMs: 5_000 });
    expect(JSON.parse(timedOut.output!).timedOut).toMatchObject({ Error: 'States.Timeout' });
  });

  it('answers InvalidToken for what is not a token and TaskDoesNotExist for a token it never issued', async () => {
    await expect(
      sfn.send(new SendTaskSuccessCommand({ taskToken: 'not-a-token', output: '{}' })),
    ).rejects.toMatchObject({ name: 'InvalidToken' });
    const neverIssued = `phoenix-local-task-token:${Buffer.from(
      JSON.stringify({ e: 'arn:aws:states:us-east-1:123456789012:execution:m:x', s: 'S', n: 'n' }),
    ).toString('base64url')}`;
    await expect(
      sfn.send(new SendTaskFailureCommand({ taskToken: neverIssued, error: 'E' })),
    ).rejects.toMatchObject({ name: 'TaskDoesNotExist' });
    await expect(sfn.send(new SendTaskHeartbeatCommand({ taskToken: neverIssued }))).rejects.toMatchObject({
      name: 'TaskDoesNotExist',
    });
  });

  it('a stopped execution spends its token', async () => {
    const arn = callbackMachine({ TimeoutSeconds: 1_000 });
    const { executionArn } = service.startExecution({
      stateMachineArn: arn,
      name: 'stopped',
      input: '{"fleet":"web"}',
    });
    const token = await tokenOf('stopped');
    service.stopExecution(executionArn, { error: 'Operator' });
    await expect(
      sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' })),
    ).rejects.toMatchObject({ name: 'TaskTimedOut' });
    expect((await service.waitForExecution(executionArn, { timeoutMs: 5_000 })).status).toBe('ABORTED');
  });
});

describe('API limits (the realism layer’s throttling)', () => {
  it('answers a call over its action’s bucket with ThrottlingException, and only that action', async () => {
    const limited = await LocalStepFunctions.start({
      region: REGION,
      invoker: host,
      timeScale: TIME_SCALE,
      log: silentLogger,
      buckets: stepFunctionsBuckets({
        'states:StartExecution': { burst: 2, rate: 0.001 },
        'ec2:*read': { burst: 1, rate: 1 },
      }),
    });
    const client = new SFNClient({
      region: REGION,
      endpoint: limited.endpoint,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
      maxAttempts: 1,
    });
    try {
      const arn = `arn:aws:states:${REGION}:123456789012:stateMachine:limited`;
      limited.registerStateMachine({ name: 'limited', arn, definition: waitThenSucceed(0) });
      const start = (name: string) => client.send(new StartExecutionCommand({ stateMachineArn: arn, name }));
      await start('a');
      await start('b');
      await expect(start('c')).rejects.toMatchObject({
        name: 'ThrottlingException',
        message: 'Rate exceeded',
      });
      // Another action keeps its own bucket (AWS's DescribeExecution: 300, 15/s).
      const listed = await client.send(new ListExecutionsCommand({ stateMachineArn: arn }));
      expect(listed.executions?.length).toBe(2);
    } finally {
      client.destroy();
      await limited.close();
    }
  });

  it('refills at the rate per real second, up to the burst; off without throttling', () => {
    let t = 0;
    const limiter = new ApiLimiter({ StartExecution: { burst: 2, rate: 4 } }, () => t);
    expect([
      limiter.take('StartExecution'),
      limiter.take('StartExecution'),
      limiter.take('StartExecution'),
    ]).toEqual([true, true, false]);
    t = 250; // a quarter second at 4/s: one token
    expect([limiter.take('StartExecution'), limiter.take('StartExecution')]).toEqual([true, false]);
    t = 10_000; // never more than the burst
    expect([
      limiter.take('StartExecution'),
      limiter.take('StartExecution'),
      limiter.take('StartExecution'),
    ]).toEqual([true, true, false]);
    expect(limiter.take('DescribeExecution')).toBe(true); // no bucket: never throttled
    expect(limiter.throttled).toBe(3);
    expect(stepFunctionsBuckets(false)).toBeUndefined();
    expect(stepFunctionsBuckets(true)?.['StartExecution']).toEqual({ burst: 1300, rate: 300 });
  });
});
