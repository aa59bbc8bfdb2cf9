import type { CfnResourceJson, Json } from './support';

/** Placeholder values for the pseudo parameters a definition may reference. */
const PSEUDO: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::Region': 'us-east-1',
  'AWS::AccountId': '123456789012',
  'AWS::URLSuffix': 'amazonaws.com',
};

/**
 * Renders a state machine's `DefinitionString` (a string or an `Fn::Join` of strings and
 * references) to the JSON Step Functions would receive, with placeholder ARNs in place of the
 * references. Throws on a reference it cannot render, so a new kind of token fails loudly.
 */
export function renderDefinition(
  definitionString: unknown,
  resources: Record<string, CfnResourceJson>,
): unknown {
  const arnOf = (logicalId: string): string => {
    const type = resources[logicalId]?.Type;
    switch (type) {
      case 'AWS::Lambda::Function':
        return `arn:aws:lambda:us-east-1:123456789012:function:${logicalId}`;
      case 'AWS::StepFunctions::StateMachine':
        return `arn:aws:states:us-east-1:123456789012:stateMachine:${logicalId}`;
      case 'AWS::SQS::Queue':
        return `arn:aws:sqs:us-east-1:123456789012:${logicalId}`;
      case 'AWS::Events::EventBus':
        return `arn:aws:events:us-east-1:123456789012:event-bus/${logicalId}`;
      case 'AWS::DynamoDB::Table':
        return `arn:aws:dynamodb:us-east-1:123456789012:table/${logicalId}`;
      default:
        throw new Error(`renderDefinition: no placeholder ARN for ${logicalId} (${String(type)})`);
    }
  };
  const render = (part: unknown): string => {
    if (typeof part === 'string') return part;
    if (typeof part === 'object' && part !== null) {
      const o = part as Record<string, unknown>;
      if (typeof o.Ref === 'string') {
        return PSEUDO[o.Ref] ?? (resources[o.Ref] ? logicalIdRef(o.Ref) : fail(part));
      }
      if (Array.isArray(o['Fn::GetAtt']) && o['Fn::GetAtt'][1] === 'Arn')
        return arnOf(String(o['Fn::GetAtt'][0]));
      if (Array.isArray(o['Fn::Join'])) {
        const [delimiter, parts] = o['Fn::Join'] as [string, unknown[]];
        return parts.map(render).join(delimiter);
      }
    }
    return fail(part);
  };
  // `Ref` of a resource: a state machine's or a function's ARN / name — ARNs serve for both here.
  const logicalIdRef = (logicalId: string): string => arnOf(logicalId);
  const fail = (part: unknown): never => {
    throw new Error(`renderDefinition: cannot render ${JSON.stringify(part)}`);
  };
  return JSON.parse(render(definitionString)) as unknown;
}

/** A state of a definition, with where it sits (nested Map/Parallel states included). */
export interface LocatedState {
  readonly path: string;
  readonly state: Record<string, Json>;
}

/** Every state of a definition, walking into Map (`Iterator`/`ItemProcessor`) and Parallel (`Branches`). */
export function allStates(definition: Json, where = '$'): LocatedState[] {
  const out: LocatedState[] = [];
  for (const [name, state] of Object.entries<Record<string, Json>>(definition?.States ?? {})) {
    const path = `${where}.States.${name}`;
    out.push({ path, state });
    for (const key of ['Iterator', 'ItemProcessor']) {
      if (state[key]) out.push(...allStates(state[key], `${path}.${key}`));
    }
    (state.Branches as unknown[] | undefined)?.forEach((branch, i) =>
      out.push(...allStates(branch, `${path}.Branches[${i}]`)),
    );
  }
  return out;
}

/**
 * What the local runtime (aws-local-stepfunctions 3) would silently ignore (docs/architecture.md,
 * "Toolchain facts"): JSONata anywhere, `Assign` anywhere, and the JSONata-only state fields
 * `Arguments` and `Output`.
 * Returns one line per finding, empty when the definition is pure JSONPath.
 */
export function unsupportedLocally(definition: unknown): string[] {
  const findings: string[] = [];
  const walk = (value: unknown, path: string): void => {
    if (Array.isArray(value)) {
      value.forEach((item, i) => walk(item, `${path}[${i}]`));
      return;
    }
    if (typeof value !== 'object' || value === null) return;
    for (const [key, child] of Object.entries(value)) {
      if (key === 'QueryLanguage' && child === 'JSONata') findings.push(`${path}.QueryLanguage = JSONata`);
      if (key === 'Assign') findings.push(`${path}.Assign`);
      walk(child, `${path}.${key}`);
    }
  };
  walk(definition, '$');
  for (const { path, state } of allStates(definition)) {
    for (const field of ['Arguments', 'Output']) {
      if (field in state) findings.push(`${path}.${field} (JSONata field)`);
    }
  }
  return findings;
}
