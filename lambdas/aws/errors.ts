import { isRetryableByTrait, isServerError, isThrottlingError, isTransientError } from '@smithy/core/retry';
import { ConfigurationError, TransientAwsError } from '../domain/errors';
import { recordThrottle } from './metrics';

/**
 * Server faults some services name without a 5xx status (or that an emulator returns with
 * another one): the SDK's classification (below) decides by status code for these, not by name,
 * so the names are kept here.
 */
const SERVER_FAULT_NAMES = new Set([
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalError',
  'InternalFailure',
  'InternalServerError',
  'InternalServiceError',
  // Auto Scaling: another update of the same group is in progress; the SDK does not list it.
  'ResourceContention',
]);

interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
}

type ClassifiedError = Parameters<typeof isTransientError>[0];

/**
 * Is this error (from an SDK call) worth retrying later? The SDK's own classification
 * (`@smithy/core/retry`, what its retry strategy uses): a retryable trait, throttling (by name, or
 * 429), transient names (timeouts), network error codes (ECONNRESET, ECONNREFUSED, EPIPE,
 * ETIMEDOUT, …) and any 5xx status; plus the server-fault names above. A name in `code` rather
 * than `name` is classified too (the hand-written list matched both).
 */
export function isTransient(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as SdkErrorShape;
  if (sdkSaysTransient(error as ClassifiedError)) return true;
  if (SERVER_FAULT_NAMES.has(e.name ?? '') || SERVER_FAULT_NAMES.has(e.code ?? '')) return true;
  return e.code !== undefined && sdkSaysTransient({ name: e.code, message: '', $metadata: {} });
}

function sdkSaysTransient(error: ClassifiedError): boolean {
  return (
    isRetryableByTrait(error) || isThrottlingError(error) || isTransientError(error) || isServerError(error)
  );
}

/**
 * Run one AWS call; a transient failure (after the SDK's own retries) becomes a TransientAwsError
 * that the workflow retries, anything else passes through unchanged. A throttled call is counted
 * (metric `Throttles`, aws/metrics.ts).
 */
export async function aws<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (isThrottled(error)) recordThrottle();
    if (isTransient(error)) {
      const e = error as SdkErrorShape;
      throw new TransientAwsError(`${what}: ${e.name ?? 'error'}: ${e.message ?? String(error)}`, {
        cause: error,
      });
    }
    throw error;
  }
}

/** Is this error (from an SDK call) throttling (by name, or 429), as the SDK's retry strategy tells? */
export function isThrottled(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as SdkErrorShape;
  if (isThrottlingError(error as ClassifiedError)) return true;
  return e.code !== undefined && isThrottlingError({ name: e.code, message: '', $metadata: {} });
}

/** The name of an SDK error, or undefined. */
export function errorName(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null ? (error as SdkErrorShape).name : undefined;
}

/** A required environment variable, read at first use. */
export function requireEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new ConfigurationError(
      `environment variable ${name} is not set: the function is not wired as the CDK app wires it`,
    );
  }
  return value;
}
