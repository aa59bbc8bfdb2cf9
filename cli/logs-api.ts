/**
 * The few CloudWatch Logs calls Phoenix makes (FilterLogEvents for `phoenix events`, CreateLogGroup
 * for the local runtime's provisioning), through the SDK's `CloudWatchLogsClient`, against
 * `AWS_ENDPOINT_URL` (the emulator) or the regional endpoint.
 */
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  FilterLogEventsCommand,
  type FilterLogEventsCommandInput,
} from '@aws-sdk/client-cloudwatch-logs';

/** FilterLogEvents' request (the fields Phoenix uses). */
export interface FilterLogEventsInput {
  readonly logGroupName: string;
  /** Epoch milliseconds, inclusive. */
  readonly startTime?: number;
  readonly endTime?: number;
  readonly filterPattern?: string;
  readonly nextToken?: string;
  readonly limit?: number;
}

export interface FilteredLogEvent {
  readonly logStreamName?: string;
  readonly timestamp?: number;
  readonly message?: string;
  readonly ingestionTime?: number;
  readonly eventId?: string;
}

export interface FilterLogEventsOutput {
  readonly events?: FilteredLogEvent[];
  /** Absent (or null, from the emulator) on the last page. */
  readonly nextToken?: string;
}

export interface LogsApiOptions {
  readonly region: string;
  /** Default `$AWS_ENDPOINT_URL` (read by the SDK), else the regional endpoint. */
  readonly endpoint?: string;
  readonly credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  readonly maxAttempts?: number;
}

export interface LogsApi {
  filterLogEvents(input: FilterLogEventsInput): Promise<FilterLogEventsOutput>;
  createLogGroup(input: { logGroupName: string }): Promise<void>;
}

export function logsApi(options: LogsApiOptions): LogsApi {
  const client = new CloudWatchLogsClient({
    region: options.region,
    ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
    ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
    ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
  });
  return {
    async filterLogEvents(input) {
      const output = await client.send(new FilterLogEventsCommand(input as FilterLogEventsCommandInput));
      return {
        events: (output.events ?? []).map((e) => ({
          ...(e.logStreamName !== undefined ? { logStreamName: e.logStreamName } : {}),
          ...(e.timestamp !== undefined ? { timestamp: e.timestamp } : {}),
          ...(e.message !== undefined ? { message: e.message } : {}),
          ...(e.ingestionTime !== undefined ? { ingestionTime: e.ingestionTime } : {}),
          ...(e.eventId !== undefined ? { eventId: e.eventId } : {}),
        })),
        ...(typeof output.nextToken === 'string' && output.nextToken !== ''
          ? { nextToken: output.nextToken }
          : {}),
      };
    },
    async createLogGroup(input) {
      await client.send(new CreateLogGroupCommand(input));
    },
  };
}
