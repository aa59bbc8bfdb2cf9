/**
 * The steps of the Validate workflow (issue 13 §2): one instance launched from the image in the
 * channel's validation group, the deployer's test run on it (an SSM document and/or a Lambda
 * function), the instance always cleaned up, then the verdict: the channel's rollouts (the
 * intake's fan-out), or the image quarantined and ImageValidationFailed. Each step re-reads the
 * real state and is safe to run twice.
 */
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import * as clock from '../domain/clock';
import { DetailTypes } from '../domain/contract';
import { causeMessage, ConfigurationError, ErrorNames, ValidationTimedOutError } from '../domain/errors';
import { QuarantineReasons } from '../domain/quarantine';
import { ValidateSteps, type ValidateStep } from '../domain/steps';
import {
  FINAL_COMMAND_STATUSES,
  functionVerdict,
  truncateOutput,
  type ValidateState,
  type ValidationCleanup,
  type ValidationInstance,
  type ValidationTarget,
  type ValidationTest,
} from '../domain/validation';
import { ec2 } from '../aws/clients';
import { sendTestCommand, testCommandInvocation } from '../aws/commands';
import { aws } from '../aws/errors';
import {
  createLaunchTemplateVersion,
  describeGroup,
  fleetInstances,
  fleetsFollowing,
  setDesiredCapacity,
  updateGroup,
} from '../aws/fleets';
import { tagImageQuarantined } from '../aws/images';
import { putOutcome } from '../aws/outcomes';
import { recordQuarantine, recordValidation } from '../aws/store/images';
import { invokeTestFunction } from '../aws/test-functions';
import { logger } from '../powertools';
import { rollPublication } from './intake';

export interface ValidateStepRequest {
  readonly step: ValidateStep;
  readonly execution: string;
  readonly state: ValidateState;
}

/** How long the validation instance may take to go once the group is at 0: past it, a human is needed. */
export const CLEANUP_TIMEOUT_SECONDS = 15 * 60;

async function requireGroup(name: string) {
  const group = await describeGroup(name);
  if (!group) throw new ConfigurationError(`validation group ${name} does not exist`);
  return group;
}

function pastDeadline(state: ValidateState): boolean {
  const deadline = state.target?.deadline;
  return deadline !== undefined && clock.now().getTime() > Date.parse(deadline);
}

/** A new version of the group's launch template with the image; the group on it, desired capacity 1. */
export async function prepareValidation(request: ValidateStepRequest): Promise<ValidationTarget> {
  const { imageId, validation } = request.state;
  const group = await requireGroup(validation.group);
  const template = group.LaunchTemplate;
  if (template?.LaunchTemplateId === undefined) {
    throw new ConfigurationError(
      `validation group ${validation.group} has no launch template (a launch configuration or a mixed instances policy is not supported)`,
    );
  }
  const version = await createLaunchTemplateVersion({
    launchTemplateId: template.LaunchTemplateId,
    sourceVersion: template.Version ?? '$Latest',
    imageId,
    description: `phoenix validation of ${imageId} (${request.execution})`,
    clientToken: request.execution,
  });
  await updateGroup({
    groupName: validation.group,
    launchTemplate: { id: template.LaunchTemplateId, version: String(version) },
    desiredCapacity: 1,
    ...((group.MaxSize ?? 0) < 1 ? { maxSize: 1 } : {}),
  });
  const deadline = new Date(clock.now().getTime() + validation.timeoutSeconds * 1000).toISOString();
  return { launchTemplateId: template.LaunchTemplateId, version, deadline };
}

/**
 * The instance of the image in the validation group, once it is InService (booted: its health is
 * known). An instance that is InService but Unhealthy fails the image; the test still runs on it,
 * for the evidence (its output says why).
 */
export async function checkValidationInstance(request: ValidateStepRequest): Promise<ValidationInstance> {
  const { imageId, validation } = request.state;
  const group = await requireGroup(validation.group);
  const instances = (await fleetInstances(group)).filter(
    (i) => i.imageId === imageId && i.lifecycleState === 'InService',
  );
  const ready = instances.find((i) => i.healthStatus === 'Healthy') ?? instances[0];
  if (ready !== undefined) {
    const address = await privateAddress(ready.instanceId);
    return {
      ready: true,
      instanceId: ready.instanceId,
      healthy: ready.healthStatus === 'Healthy',
      ...(address !== undefined ? { privateIpAddress: address } : {}),
    };
  }
  if (pastDeadline(request.state)) {
    throw new ValidationTimedOutError(
      `no instance of ${imageId} was InService in validation group ${validation.group} within ${validation.timeoutSeconds} seconds`,
    );
  }
  return { ready: false };
}

async function privateAddress(instanceId: string): Promise<string | undefined> {
  const page = await aws('DescribeInstances', () =>
    ec2().send(new DescribeInstancesCommand({ InstanceIds: [instanceId] })),
  );
  return page.Reservations?.[0]?.Instances?.[0]?.PrivateIpAddress;
}

function requireInstanceId(state: ValidateState): string {
  const id = state.instance?.instanceId;
  if (id === undefined)
    throw new ConfigurationError('no validation instance: CheckValidationInstance did not run');
  return id;
}

/** Send the test document (when the channel names one). */
export async function startValidationTest(request: ValidateStepRequest): Promise<ValidationTest> {
  const { validation, imageId } = request.state;
  const instanceId = requireInstanceId(request.state);
  if (validation.testDocument === undefined) return { done: false };
  const left = request.state.target?.deadline
    ? (Date.parse(request.state.target.deadline) - clock.now().getTime()) / 1000
    : validation.timeoutSeconds;
  const commandId = await sendTestCommand({
    document: validation.testDocument,
    instanceId,
    timeoutSeconds: left,
    comment: `phoenix validation of ${imageId}`,
  });
  return { commandId, done: false };
}

/**
 * Where the test stands: the SSM command to its final status (pass: `Success`), then the test
 * function (pass: `{ passed: true }`). Past the deadline before a verdict: ValidationTimedOutError.
 */
export async function checkValidationTest(request: ValidateStepRequest): Promise<ValidationTest> {
  const { validation, imageId } = request.state;
  const instanceId = requireInstanceId(request.state);
  const commandId = request.state.test?.commandId;
  const outputs: string[] =
    request.state.instance?.healthy === false
      ? [`instance ${instanceId} is InService but Unhealthy in validation group ${validation.group}`]
      : [];
  const healthy = request.state.instance?.healthy !== false;
  let status: string | undefined;
  if (commandId !== undefined) {
    const invocation = await testCommandInvocation(commandId, instanceId);
    status = invocation.status;
    if (!FINAL_COMMAND_STATUSES.includes(invocation.status)) {
      if (pastDeadline(request.state)) {
        throw new ValidationTimedOutError(
          `the test document ${validation.testDocument} did not finish within ${validation.timeoutSeconds} seconds (status ${invocation.status})`,
        );
      }
      return { commandId, done: false, status };
    }
    outputs.push(
      `${validation.testDocument}: ${invocation.status}${invocation.output ? `\n${invocation.output}` : ''}`,
    );
    if (invocation.status !== 'Success') {
      return { commandId, done: true, passed: false, status, output: truncateOutput(outputs.join('\n')) };
    }
  }
  if (validation.testFunction !== undefined) {
    const answer = await invokeTestFunction(validation.testFunction, {
      imageId,
      instanceId,
      privateIpAddress: request.state.instance?.privateIpAddress ?? null,
    });
    const verdict =
      answer.functionError !== undefined
        ? { passed: false, output: `function error (${answer.functionError}): ${answer.payload ?? ''}` }
        : functionVerdict(answer.payload);
    outputs.push(`${validation.testFunction}: ${verdict.output}`);
    return {
      ...(commandId !== undefined ? { commandId } : {}),
      done: true,
      passed: healthy && verdict.passed,
      ...(status !== undefined ? { status } : {}),
      output: truncateOutput(outputs.join('\n')),
    };
  }
  return {
    ...(commandId !== undefined ? { commandId } : {}),
    done: true,
    passed: healthy && status === 'Success',
    ...(status !== undefined ? { status } : {}),
    output: truncateOutput(outputs.join('\n')),
  };
}

/** Desired capacity 0: the validation instance goes (whatever happened before). */
export async function cleanUpValidation(request: ValidateStepRequest): Promise<ValidationCleanup> {
  const { validation } = request.state;
  const group = await describeGroup(validation.group);
  if (group === undefined) return { gone: true };
  await setDesiredCapacity(validation.group, 0);
  return { gone: false, since: clock.now().toISOString() };
}

/** Is the group empty? Past CLEANUP_TIMEOUT_SECONDS: an error (the workflow fails: a human is needed). */
export async function checkValidationCleanup(request: ValidateStepRequest): Promise<ValidationCleanup> {
  const { validation } = request.state;
  const since = request.state.cleanup?.since;
  const group = await describeGroup(validation.group);
  const left = (group?.Instances ?? []).filter((i) => i.LifecycleState !== 'Terminated');
  if (left.length === 0) return { gone: true };
  if (since !== undefined && clock.now().getTime() - Date.parse(since) > CLEANUP_TIMEOUT_SECONDS * 1000) {
    throw new Error(
      `validation group ${validation.group} still holds ${left.map((i) => i.InstanceId).join(', ')} ${CLEANUP_TIMEOUT_SECONDS} seconds after its desired capacity was set to 0`,
    );
  }
  return { gone: false, ...(since !== undefined ? { since } : {}) };
}

export interface ValidationReport {
  readonly passed: boolean;
  readonly outcome: string;
  readonly reason: string;
}

/**
 * The verdict. Passed: `validated` on IMAGE#<id> (once), the channel's rollouts (the intake's
 * fan-out, under the publication's event: the same execution names), ImageValidated. Failed or
 * timed out: the image quarantined (reason `validation`: tag, record, ImageQuarantined), `failed`
 * recorded, ImageValidationFailed with the output. A validation that could not run (a missing
 * group, a failed step) quarantines nothing: ImageValidationFailed says why.
 */
export async function reportValidation(request: ValidateStepRequest): Promise<ValidationReport> {
  const { state, execution } = request;
  const { imageId, channel } = state;
  const now = clock.now();
  const instanceId = state.instance?.instanceId;
  const passed = state.error === undefined && state.test?.done === true && state.test.passed === true;
  if (passed) {
    const recorded = await recordValidation(
      imageId,
      { status: 'validated', at: now.toISOString(), execution },
      now,
    );
    if (recorded.validation.status !== 'validated') {
      // Another execution judged it first (not expected: one execution per image and channel).
      return {
        passed: false,
        outcome: DetailTypes.ImageValidationFailed,
        reason: `image ${imageId} was already judged ${recorded.validation.status}`,
      };
    }
    const fleets = await fleetsFollowing(channel);
    const rolled = await rollPublication(
      { imageId, channel, fleets },
      {
        eventId: state.requestId,
        source: state.source,
        reason: state.reason,
      },
      state.cause,
    );
    await putOutcome(DetailTypes.ImageValidated, {
      imageId,
      channel,
      execution,
      instanceId: instanceId ?? '',
      output: state.test?.output ?? '',
      started: rolled.started.map((s) => s.execution),
    });
    return { passed: true, outcome: DetailTypes.ImageValidated, reason: `the test passed on ${instanceId}` };
  }
  const timedOut = state.error?.Error === ErrorNames.ValidationTimedOutError;
  const testFailed = state.error === undefined && state.test?.done === true;
  const reason = testFailed
    ? `the validation test failed on ${instanceId} (${state.test?.status ?? 'test function'})`
    : timedOut
      ? `timed out: ${causeMessage(state.error?.Cause)}`
      : `the validation could not run (${state.failedStep ?? 'a step'} failed): ${state.error?.Error ?? 'Error'}: ${causeMessage(state.error?.Cause)}`;
  const quarantine = testFailed || timedOut;
  if (quarantine) {
    let tagged = false;
    try {
      await tagImageQuarantined(imageId, QuarantineReasons.validation);
      tagged = true;
    } catch (error) {
      logger.warn('tagging the image quarantined failed', { imageId, error: String(error) });
    }
    const result = await recordQuarantine(
      imageId,
      {
        reason: QuarantineReasons.validation,
        at: now.toISOString(),
        execution,
        channel,
        cause: reason,
        ...(state.failedStep !== undefined ? { step: state.failedStep } : {}),
      },
      now,
    );
    if (result.quarantine.execution === execution) {
      await putOutcome(DetailTypes.ImageQuarantined, {
        imageId,
        reason: QuarantineReasons.validation,
        channel,
        execution,
        ...(state.failedStep !== undefined ? { step: state.failedStep } : {}),
        cause: reason,
        tagged,
      });
    }
  }
  await recordValidation(imageId, { status: 'failed', at: now.toISOString(), execution }, now);
  await putOutcome(DetailTypes.ImageValidationFailed, {
    imageId,
    channel,
    execution,
    ...(instanceId !== undefined ? { instanceId } : {}),
    reason,
    ...(state.test?.output !== undefined ? { output: state.test.output } : {}),
    quarantined: quarantine,
  });
  return { passed: false, outcome: DetailTypes.ImageValidationFailed, reason };
}

const STEPS: Record<ValidateStep, (request: ValidateStepRequest) => Promise<unknown>> = {
  [ValidateSteps.PrepareValidation]: prepareValidation,
  [ValidateSteps.CheckValidationInstance]: checkValidationInstance,
  [ValidateSteps.StartValidationTest]: startValidationTest,
  [ValidateSteps.CheckValidationTest]: checkValidationTest,
  [ValidateSteps.CleanUpValidation]: cleanUpValidation,
  [ValidateSteps.CheckValidationCleanup]: checkValidationCleanup,
  [ValidateSteps.ReportValidation]: reportValidation,
};

export async function runValidateStep(request: ValidateStepRequest): Promise<unknown> {
  const run = STEPS[request.step];
  if (run === undefined) throw new ConfigurationError(`unknown validate step ${String(request.step)}`);
  return run(request);
}
