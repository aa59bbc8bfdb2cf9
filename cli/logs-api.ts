/**
 * The few CloudWatch Logs calls Phoenix makes (FilterLogEvents for `phoenix events`, CreateLogGroup
 * for the local runtime's provisioning), over the service's real wire protocol (AWS JSON 1.1,
 * `X-Amz-Target: Logs_20140328.<Action>`), signed with the SDK's own SigV4 signer and credentials
 * chain, against `AWS_ENDPOINT_URL` (the emulator) or the regional endpoint.
 *
 * Why not `@aws-sdk/client-cloudwatch-logs`: it is not yet a dependency of the project (pinned
 * clients, 3.922.0). Adding it makes this module a thin wrapper of `CloudWatchLogsClient`; the
 * input and output shapes here are that client's, field for field.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { SignatureV4 } from '@smithy/signature-v4';

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
  readonly nextToken?: string;
}

/** A CloudWatch Logs call failed: `name` is the service's error code (e.g. `ResourceNotFoundException`). */
export class LogsApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly statusCode: number,
  ) {
    super(`${code}: ${message}`);
    this.name = code;
  }
}

export interface LogsApiOptions {
  readonly region: string;
  /** Default `$AWS_ENDPOINT_URL`, else `https://logs.<region>.amazonaws.com`. */
  readonly endpoint?: string;
  readonly credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

export interface LogsApi {
  filterLogEvents(input: FilterLogEventsInput): Promise<FilterLogEventsOutput>;
  createLogGroup(input: { logGroupName: string }): Promise<void>;
}

export function logsApi(options: LogsApiOptions): LogsApi {
  const endpoint = new URL(
    options.endpoint ?? process.env['AWS_ENDPOINT_URL'] ?? `https://logs.${options.region}.amazonaws.com`,
  );
  const signer = new SignatureV4({
    service: 'logs',
    region: options.region,
    sha256: Sha256,
    credentials: options.credentials ?? fromNodeProviderChain(),
  });
  async function call<T>(action: string, input: object): Promise<T> {
    const body = JSON.stringify(input);
    const signed = await signer.sign({
      method: 'POST',
      protocol: endpoint.protocol,
      hostname: endpoint.hostname,
      ...(endpoint.port !== '' ? { port: Number(endpoint.port) } : {}),
      path: endpoint.pathname,
      headers: {
        host: endpoint.host,
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': `Logs_20140328.${action}`,
      },
      body,
    });
    const response = await fetch(endpoint, {
      method: 'POST',
      headers: signed.headers,
      body,
    });
    const text = await response.text();
    const parsed = (text === '' ? {} : JSON.parse(text)) as Record<string, unknown>;
    if (!response.ok) {
      const field = (name: string) => (typeof parsed[name] === 'string' ? parsed[name] : undefined);
      const type = field('__type') ?? response.headers.get('x-amzn-errortype') ?? 'LogsError';
      const code = type.split('#').pop()!.split(':')[0]!;
      const message = field('message') ?? field('Message') ?? text;
      throw new LogsApiError(code, message, response.status);
    }
    return parsed as T;
  }
  return {
    filterLogEvents: (input) => call<FilterLogEventsOutput>('FilterLogEvents', input),
    async createLogGroup(input) {
      await call('CreateLogGroup', input);
    },
  };
}
