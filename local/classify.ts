/**
 * `phoenix events classify FILE...`: what Phoenix makes of each event ("why did Phoenix react to
 * this?"), with the intake's own normalization and the default configuration. One JSON object per
 * file, one per line, in order, each naming its `file` (as given on the command line); a file that is not JSON or not an EventBridge event gets a message
 * on stderr (and no line), the others are still classified, and the exit status is then 2.
 */
import { readFileSync } from 'node:fs';
import { MalformedEventError } from '../lambdas/domain/errors';
import { DEFAULT_INTAKE_CONFIG, type Intent, normalizeEvent, parseEnvelope } from '../lambdas/domain/intake';

export type Classification =
  | {
      intent: 'rollout';
      image: { imageId?: string; imageBuilderArn?: string; parameterName?: string };
      reason: string;
    }
  | { intent: 'replace'; cause: string; instanceIds: string[]; reason: string }
  | { intent: 'drain'; instanceId: string; groupName: string; hookName: string; reason: string }
  | { intent: 'ignore'; reason: string };

export function classification(intent: Intent): Classification {
  switch (intent.kind) {
    case 'rollout': {
      const image: { imageId?: string; imageBuilderArn?: string; parameterName?: string } = {};
      if (intent.imageId !== undefined) image.imageId = intent.imageId;
      if (intent.imageBuilderArn !== undefined) image.imageBuilderArn = intent.imageBuilderArn;
      if (intent.parameterName !== undefined) image.parameterName = intent.parameterName;
      return { intent: 'rollout', image, reason: intent.reason };
    }
    case 'replace':
      return {
        intent: 'replace',
        cause: intent.cause,
        instanceIds: [...intent.instanceIds],
        reason: intent.reason,
      };
    case 'drain':
      return {
        intent: 'drain',
        instanceId: intent.instanceId,
        groupName: intent.groupName,
        hookName: intent.hookName,
        reason: intent.reason,
      };
    case 'ignore':
      return { intent: 'ignore', reason: intent.reason };
  }
}

/** Classify each file; returns the exit status (0, or 2 when a file was not an event). */
export function classifyFiles(
  files: readonly string[],
  out: (line: string) => void = (line) => void process.stdout.write(`${line}\n`),
  err: (line: string) => void = (line) => void process.stderr.write(`${line}\n`),
): number {
  let status = 0;
  for (const file of files) {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      err(`phoenix events classify: ${file}: not a JSON file: ${(error as Error).message}`);
      status = 2;
      continue;
    }
    try {
      parseEnvelope(raw);
    } catch (error) {
      err(`phoenix events classify: ${file}: ${(error as Error).message}`);
      status = 2;
      continue;
    }
    try {
      out(JSON.stringify({ file, ...classification(normalizeEvent(raw, DEFAULT_INTAKE_CONFIG)) }));
    } catch (error) {
      // An event whose payload breaks its own contract (a malformed Phoenix command): the intake
      // sends it to its dead-letter queue; here it is reported as what Phoenix does with it.
      if (!(error instanceof MalformedEventError)) throw error;
      out(
        JSON.stringify({
          file,
          intent: 'ignore',
          reason: `rejected to the dead-letter queue: ${error.message}`,
        }),
      );
    }
  }
  return status;
}
