/**
 * The error answers of the api proxy, as each service gives them in its own protocol, so that the
 * handlers' SDK clients parse the very name AWS would send (and retry, or not, as against AWS):
 *
 * | service (signing name)                  | throttling                                        | 5xx                          |
 * | --------------------------------------- | ------------------------------------------------- | ---------------------------- |
 * | ec2 (EC2 query, `<Response><Errors>`)   | `RequestLimitExceeded`, HTTP 503                  | `InternalError`, HTTP 500    |
 * | autoscaling, elasticloadbalancing, monitoring (query, `<ErrorResponse>`) | `Throttling`, HTTP 400 | `InternalFailure`, HTTP 500 |
 * | dynamodb (JSON 1.0)                     | `ProvisionedThroughputExceededException`, HTTP 400 | `InternalServerError`, HTTP 500 |
 * | events (JSON 1.1)                       | `ThrottlingException`, HTTP 400                   | `InternalException`, HTTP 500 |
 * | ssm (JSON 1.1)                          | `ThrottlingException`, HTTP 400                   | `InternalServerError`, HTTP 500 |
 * | sqs (JSON 1.0)                          | `ThrottlingException`, HTTP 400                   | `InternalFailure`, HTTP 500  |
 * | states and any other JSON service       | `ThrottlingException`, HTTP 400                   | `ServiceUnavailable`, HTTP 503 |
 *
 * Sources: the EC2 API's error codes (RequestLimitExceeded, InternalError), the common errors of
 * the query APIs (Throttling, InternalFailure, ServiceUnavailable), DynamoDB's, EventBridge's and
 * Systems Manager's API references (their error lists); the same shapes as the realism layer's
 * token buckets (local/realism/phoenix_realism.py).
 */
import { randomUUID } from 'node:crypto';

export type ErrorKind = 'throttle' | 'server-error';

export interface ErrorAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** The error name the SDK parses from it. */
  readonly name: string;
}

const QUERY_SERVICES = new Set(['autoscaling', 'elasticloadbalancing', 'monitoring', 'iam', 'sts']);

const JSON_ERRORS: Readonly<Record<string, Record<ErrorKind, readonly [number, string]>>> = {
  dynamodb: {
    throttle: [400, 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException'],
    'server-error': [500, 'com.amazonaws.dynamodb.v20120810#InternalServerError'],
  },
  events: { throttle: [400, 'ThrottlingException'], 'server-error': [500, 'InternalException'] },
  ssm: { throttle: [400, 'ThrottlingException'], 'server-error': [500, 'InternalServerError'] },
  sqs: {
    throttle: [400, 'com.amazonaws.sqs#ThrottlingException'],
    'server-error': [500, 'com.amazonaws.sqs#InternalFailure'],
  },
};
const JSON_DEFAULT: Record<ErrorKind, readonly [number, string]> = {
  throttle: [400, 'ThrottlingException'],
  'server-error': [503, 'ServiceUnavailable'],
};

/** The answer of `service` (its SigV4 signing name) for an error of `kind`. */
export function errorAnswer(service: string, kind: ErrorKind, requestId: string = randomUUID()): ErrorAnswer {
  if (service === 'ec2') {
    const [status, code, message] =
      kind === 'throttle'
        ? [503, 'RequestLimitExceeded', 'Request limit exceeded.']
        : [500, 'InternalError', 'An internal error has occurred.'];
    return {
      status,
      name: code,
      headers: { 'content-type': 'text/xml;charset=UTF-8' },
      body:
        '<?xml version="1.0" encoding="UTF-8"?>\n' +
        `<Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors>` +
        `<RequestID>${requestId}</RequestID></Response>`,
    };
  }
  if (QUERY_SERVICES.has(service)) {
    const [status, type, code, message] =
      kind === 'throttle'
        ? [400, 'Sender', 'Throttling', 'Rate exceeded']
        : [
            500,
            'Receiver',
            'InternalFailure',
            'The request processing has failed because of an unknown error, exception or failure.',
          ];
    return {
      status,
      name: code,
      headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
      body:
        `<ErrorResponse><Error><Type>${type}</Type><Code>${code}</Code><Message>${message}</Message></Error>` +
        `<RequestId>${requestId}</RequestId></ErrorResponse>`,
    };
  }
  const [status, type] = (JSON_ERRORS[service] ?? JSON_DEFAULT)[kind];
  const name = type.slice(type.lastIndexOf('#') + 1);
  const message = kind === 'throttle' ? 'Rate exceeded' : 'The service is unavailable. Try again.';
  return {
    status,
    name,
    headers: {
      'content-type':
        service === 'dynamodb' || service === 'sqs'
          ? 'application/x-amz-json-1.0'
          : 'application/x-amz-json-1.1',
      'x-amzn-requestid': requestId,
      'x-amzn-errortype': name,
    },
    body: JSON.stringify({ __type: type, message }),
  };
}

/**
 * The signing name of a request (its SigV4 credential scope: `ec2`, `autoscaling`, `dynamodb`,
 * `states`…), or '' when it is not signed.
 */
export function signingService(authorization: string | undefined): string {
  const match = /Credential=[^/,\s]+\/\d{8}\/[^/]+\/([^/]+)\//.exec(authorization ?? '');
  return match?.[1] ?? '';
}
