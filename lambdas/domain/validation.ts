/**
 * Post-creation image validation (issue 13 §2): before an image enters its first channel's fleets,
 * one instance is launched from it in the channel's validation group and the deployer's test runs
 * on it (an SSM document and/or a Lambda function). Pure module: no SDK.
 */
import { MalformedRecordError } from './fleet-record';
import type { RolloutIntent } from './intake';

/** A channel's validation as the intake hands it to the Validate workflow (from the construct props). */
export interface ValidationConfig {
  /** The validation Auto Scaling group. */
  readonly group: string;
  /** The SSM document run on the instance (pass: the command ends `Success`). */
  readonly testDocument?: string;
  /** The Lambda function called with `{ imageId, instanceId, privateIpAddress }` (pass: `{ passed: true }`). */
  readonly testFunction?: string;
  /** From the start to the verdict. */
  readonly timeoutSeconds: number;
}

export const DEFAULT_VALIDATION_TIMEOUT_SECONDS = 30 * 60;

/** The Validate workflow's input: the publication (to fan it out once validated) and the channel's validation. */
export interface ValidateInput {
  readonly imageId: string;
  readonly channel: string;
  readonly validation: ValidationConfig;
  /** The publication's event id (the rollouts started after it are named after it, as the intake would). */
  readonly requestId: string;
  /** The publication's source (`publish-command`, `channel-parameter`…). */
  readonly source: RolloutIntent['source'];
  /** `<source>/<detail-type>` of the publication. */
  readonly cause: string;
  /** Why the intake started it. */
  readonly reason: string;
}

/** PrepareValidation's result. */
export interface ValidationTarget {
  readonly launchTemplateId: string;
  readonly version: number;
  /** ISO-8601: the instance up and the test's verdict by then, or the image fails (timed out). */
  readonly deadline: string;
}

/** CheckValidationInstance's result. */
export interface ValidationInstance {
  readonly ready: boolean;
  readonly instanceId?: string;
  /** Healthy in its group once InService (false: the image fails, the test runs for the evidence). */
  readonly healthy?: boolean;
  readonly privateIpAddress?: string;
}

/** StartValidationTest / CheckValidationTest's result. */
export interface ValidationTest {
  readonly commandId?: string;
  readonly done: boolean;
  readonly passed?: boolean;
  readonly status?: string;
  readonly output?: string;
}

/** CheckValidationCleanup's result. */
export interface ValidationCleanup {
  readonly gone: boolean;
  /** When the group was set to 0 (ISO-8601). */
  readonly since?: string;
}

/** The Validate workflow's state. */
export interface ValidateState extends ValidateInput {
  readonly target?: ValidationTarget;
  readonly instance?: ValidationInstance;
  readonly test?: ValidationTest;
  readonly cleanup?: ValidationCleanup;
  /** ReportValidation. */
  readonly report?: { readonly passed: boolean; readonly outcome: string; readonly reason: string };
  readonly failedStep?: string;
  readonly error?: { readonly Error?: string; readonly Cause?: string };
  /** The cleanup failed for good. */
  readonly cleanupError?: { readonly Error?: string; readonly Cause?: string };
}

/** The most of a test's output an outcome carries: EventBridge entries are at most 256 KB in all. */
export const MAX_OUTPUT_CHARS = 4000;

/** Keep the head and the tail (where a failing test says why), with what was cut in between. */
export function truncateOutput(output: string, max: number = MAX_OUTPUT_CHARS): string {
  if (output.length <= max) return output;
  const marker = (cut: number) => `\n…[${cut} characters cut]…\n`;
  const room = max - marker(output.length).length;
  const head = Math.floor(room / 3);
  const tail = room - head;
  return `${output.slice(0, head)}${marker(output.length - head - tail)}${output.slice(output.length - tail)}`;
}

/**
 * The Validate execution of an image in a channel: one per image and channel, so that a repeated
 * publication never validates it twice (Step Functions names: 80 characters of [A-Za-z0-9-_]).
 */
export function validateExecutionName(channel: string, imageId: string): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9_-]/g, '_');
  const image = safe(imageId).slice(0, 40);
  return `validate--${safe(channel).slice(0, 80 - 12 - image.length)}--${image}`;
}

/** The intake's validation channels (env `PHOENIX_VALIDATION_CHANNELS`, JSON); a bad value is a configuration error. */
export function parseValidationChannels(raw: string | undefined): Readonly<Record<string, ValidationConfig>> {
  if (raw === undefined || raw.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new MalformedRecordError(`PHOENIX_VALIDATION_CHANNELS is not JSON: ${raw.slice(0, 200)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new MalformedRecordError('PHOENIX_VALIDATION_CHANNELS must be a map of channel to validation');
  }
  const out: Record<string, ValidationConfig> = {};
  for (const [channel, value] of Object.entries(parsed as Record<string, unknown>)) {
    const v = value as Partial<ValidationConfig> | null;
    if (
      typeof v !== 'object' ||
      v === null ||
      typeof v.group !== 'string' ||
      (v.testDocument === undefined && v.testFunction === undefined)
    ) {
      throw new MalformedRecordError(
        `PHOENIX_VALIDATION_CHANNELS.${channel} must have a group and a testDocument or testFunction`,
      );
    }
    out[channel] = {
      group: v.group,
      ...(typeof v.testDocument === 'string' ? { testDocument: v.testDocument } : {}),
      ...(typeof v.testFunction === 'string' ? { testFunction: v.testFunction } : {}),
      timeoutSeconds:
        typeof v.timeoutSeconds === 'number' && v.timeoutSeconds > 0
          ? v.timeoutSeconds
          : DEFAULT_VALIDATION_TIMEOUT_SECONDS,
    };
  }
  return out;
}

/** SSM command statuses after which nothing changes (docs: GetCommandInvocation, Status). */
export const FINAL_COMMAND_STATUSES: readonly string[] = [
  'Success',
  'Failed',
  'Cancelled',
  'TimedOut',
  'Undeliverable',
  'Terminated',
  'InvalidPlatform',
  'AccessDenied',
  'DeliveryTimedOut',
  'ExecutionTimedOut',
];

/** The test function's answer: passed only on `{ passed: true }`. */
export function functionVerdict(payload: string | undefined): { passed: boolean; output: string } {
  if (payload === undefined || payload === '')
    return { passed: false, output: 'the test function returned nothing' };
  try {
    const answer = JSON.parse(payload) as unknown;
    const passed =
      typeof answer === 'object' && answer !== null && (answer as { passed?: unknown }).passed === true;
    return { passed, output: payload };
  } catch {
    return { passed: false, output: `the test function returned no JSON: ${payload}` };
  }
}
