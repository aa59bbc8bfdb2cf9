/** What a rule target receives: the event, or what its Input / InputPath make of it. */
import type { LocalRuleTarget } from '../template';

/** What the target receives: the event, or what the target's Input / InputPath / InputTransformer make of it. */
export function targetInput(target: LocalRuleTarget, body: string): unknown {
  if (target.input !== undefined) return JSON.parse(target.input) as unknown;
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    value = body; // an input transformer may produce plain text
  }
  if (target.inputPath !== undefined) return evaluatePath(target.inputPath, value);
  return value;
}

/** A simple JSONPath (`$`, `$.a.b`, `$.a[0]`, `$['a-b']`). */
export function evaluatePath(path: string, value: unknown): unknown {
  if (!path.startsWith('$')) throw new Error(`Unsupported InputPath ${JSON.stringify(path)}`);
  const re = /\.([A-Za-z_$][\w$-]*)|\['([^']*)'\]|\[(\d+)\]/gy;
  re.lastIndex = 1;
  let current = value;
  while (re.lastIndex < path.length) {
    const match = re.exec(path);
    if (match === null) throw new Error(`Unsupported InputPath ${JSON.stringify(path)}`);
    const key = match[1] ?? match[2] ?? Number(match[3]);
    current =
      current !== null && typeof current === 'object' ? (current as Record<string, unknown>)[key] : undefined;
  }
  return current;
}
