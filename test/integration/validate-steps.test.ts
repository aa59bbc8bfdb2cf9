/**
 * Validate steps (issue 13 §2) against the emulator, the Lambda-test path: the test function is
 * called with `{ imageId, instanceId, privateIpAddress }` and passes only on `{ passed: true }`
 * (Lambda Invoke of a deployer's function is what the emulator cannot serve here: answered with
 * aws-sdk-client-mock; everything else is real). ReportValidation of a failed test quarantines the
 * image (tag, IMAGE# record, ImageQuarantined) and reports ImageValidationFailed with the output;
 * a validation that could not run quarantines nothing.
 */
import { DescribeImagesCommand } from '@aws-sdk/client-ec2';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, describe, expect, it } from 'vitest';
import { readImageRecord } from '../../lambdas/aws/store/images';
import { DetailTypes, Tags } from '../../lambdas/domain/contract';
import { ValidateSteps } from '../../lambdas/domain/steps';
import type { ValidateState } from '../../lambdas/domain/validation';
import { runValidateStep } from '../../lambdas/steps/validate';
import { type ControlPlaneWorld, freshWorld } from '../support/control-plane';

let fx: ControlPlaneWorld;
let counter = 0;

beforeAll(async () => {
  fx = await freshWorld();
  return fx.stop;
});

async function state(extra: Partial<ValidateState> = {}): Promise<ValidateState> {
  const channel = `vch${++counter}`;
  const imageId = await fx.world.registerImage(`${channel}-img`, channel);
  return {
    imageId,
    channel,
    validation: { group: `${channel}-validation`, testFunction: 'web-test', timeoutSeconds: 600 },
    requestId: `req-${channel}`,
    source: 'publish-command',
    cause: 'test',
    reason: 'test',
    instance: { ready: true, instanceId: 'i-0123456789abcdef0', healthy: true, privateIpAddress: '10.0.0.7' },
    ...extra,
  };
}

async function quarantineTag(imageId: string): Promise<string | undefined> {
  const page = await fx.clients.ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
  return page.Images?.[0]?.Tags?.find((t) => t.Key === Tags.quarantined)?.Value;
}

function withTestFunction(answer: { Payload?: string; FunctionError?: string }) {
  const mock = mockClient(LambdaClient);
  mock.on(InvokeCommand).resolves({
    StatusCode: 200,
    ...(answer.Payload !== undefined ? { Payload: new TextEncoder().encode(answer.Payload) as never } : {}),
    ...(answer.FunctionError !== undefined ? { FunctionError: answer.FunctionError } : {}),
  });
  return mock;
}

describe('Validate steps: the test function', () => {
  it('is called with the image, the instance and its address, and passes on { passed: true }', async () => {
    const s = await state();
    const mock = withTestFunction({ Payload: JSON.stringify({ passed: true, checks: 3 }) });
    try {
      const test = (await runValidateStep({
        step: ValidateSteps.CheckValidationTest,
        execution: 'x',
        state: s,
      })) as {
        done: boolean;
        passed: boolean;
        output: string;
      };
      expect(test).toMatchObject({ done: true, passed: true });
      expect(test.output).toContain('"checks":3');
      const call = mock.commandCalls(InvokeCommand)[0]!.args[0].input;
      expect(call.FunctionName).toBe('web-test');
      expect(call.InvocationType).toBe('RequestResponse');
      expect(JSON.parse(new TextDecoder().decode(call.Payload as Uint8Array))).toEqual({
        imageId: s.imageId,
        instanceId: 'i-0123456789abcdef0',
        privateIpAddress: '10.0.0.7',
      });
    } finally {
      mock.restore();
    }
  });

  it.each([
    [
      '{ passed: false }',
      { Payload: JSON.stringify({ passed: false, why: 'port 80 closed' }) },
      'port 80 closed',
    ],
    ['a truthy non-boolean', { Payload: JSON.stringify({ passed: 'yes' }) }, '"passed":"yes"'],
    ['no JSON', { Payload: 'oops' }, 'returned no JSON'],
    [
      'a function error',
      { Payload: JSON.stringify({ errorMessage: 'boom' }), FunctionError: 'Unhandled' },
      'function error (Unhandled)',
    ],
  ])('fails on %s, with the answer as output', async (_name, answer, output) => {
    const s = await state();
    const mock = withTestFunction(answer);
    try {
      const test = (await runValidateStep({
        step: ValidateSteps.CheckValidationTest,
        execution: 'x',
        state: s,
      })) as {
        passed: boolean;
        output: string;
      };
      expect(test.passed).toBe(false);
      expect(test.output).toContain(output);
    } finally {
      mock.restore();
    }
  });
});

describe('ReportValidation', () => {
  it('a failed test: quarantined (tag, record, ImageQuarantined), failed recorded, ImageValidationFailed with the output', async () => {
    const s = await state({ test: { done: true, passed: false, output: 'web-test: {"passed":false}' } });
    const execution = `validate--${s.channel}`;
    const failed = fx.outcomes.waitFor(
      (e) => e.detailType === DetailTypes.ImageValidationFailed && e.detail['imageId'] === s.imageId,
    );
    const quarantined = fx.outcomes.waitFor(
      (e) => e.detailType === DetailTypes.ImageQuarantined && e.detail['imageId'] === s.imageId,
    );
    const report = await runValidateStep({ step: ValidateSteps.ReportValidation, execution, state: s });
    expect(report).toMatchObject({ passed: false, outcome: DetailTypes.ImageValidationFailed });
    expect((await failed).detail).toMatchObject({
      channel: s.channel,
      execution,
      quarantined: true,
      output: 'web-test: {"passed":false}',
    });
    expect((await quarantined).detail).toMatchObject({ reason: 'validation', tagged: true, execution });
    expect(await quarantineTag(s.imageId)).toBe('validation');
    const record = await readImageRecord(s.imageId);
    expect(record?.quarantine).toMatchObject({ reason: 'validation', execution, channel: s.channel });
    expect(record?.validation).toMatchObject({ status: 'failed', execution });
  });

  it('a validation that could not run: ImageValidationFailed with why, nothing quarantined', async () => {
    const s = await state({
      failedStep: 'PrepareValidation',
      error: {
        Error: 'ConfigurationError',
        Cause: JSON.stringify({
          errorType: 'ConfigurationError',
          errorMessage: 'validation group g does not exist',
        }),
      },
    });
    const failed = fx.outcomes.waitFor(
      (e) => e.detailType === DetailTypes.ImageValidationFailed && e.detail['imageId'] === s.imageId,
    );
    await runValidateStep({ step: ValidateSteps.ReportValidation, execution: `v-${s.channel}`, state: s });
    const detail = (await failed).detail;
    expect(detail['quarantined']).toBe(false);
    expect(detail['reason']).toContain('could not run (PrepareValidation failed)');
    expect(detail['reason']).toContain('validation group g does not exist');
    expect(await quarantineTag(s.imageId)).toBeUndefined();
    expect((await readImageRecord(s.imageId))?.quarantine).toBeUndefined();
  });
});
