/**
 * The synthesized control plane, as the local runtime sees it: the CloudFormation template of
 * `PhoenixStack` turned into a plain model with physical names, ARNs and resolved values. Its rooms:
 *
 * - `template/model.ts`: the template and model types, the errors;
 * - `template/synth.ts`: synthesizing `PhoenixStack` without bundling;
 * - `template/resolver.ts`: names, ARNs and intrinsic functions;
 * - `template/resources.ts`: one reader per resource type (buses, queues, tables, functions,
 *   state machines, rules).
 */
import type { LocalFunction, LocalModel, LocalQueue, CfnTemplate, ResolveOptions } from './template/model';
import { createResolver, NO_VALUE } from './template/resolver';
import {
  eventBusesOf,
  functionsOf,
  queuesOf,
  rulesOf,
  stateMachinesOf,
  tablesOf,
} from './template/resources';

export * from './template/model';
export { physicalName } from './template/resolver';
export { synthesizeControlPlane } from './template/synth';

/** Turn a synthesized template into the local model (no I/O: names and ARNs are computed). */
export function resolveTemplate(template: CfnTemplate, options: ResolveOptions): LocalModel {
  const r = createResolver(template, options);
  const eventBuses = eventBusesOf(r);
  const queues = queuesOf(r);
  const tables = tablesOf(r);
  const functions = functionsOf(r);
  const stateMachines = stateMachinesOf(r);
  const rules = rulesOf(r, functions, stateMachines);
  return {
    region: r.region,
    account: r.account,
    partition: r.partition,
    endpoint: r.endpoint,
    eventBuses,
    queues,
    tables,
    functions,
    rules,
    stateMachines,
    resolve: (value, where) => {
      const resolved = r.resolve(value, where);
      return resolved === NO_VALUE ? undefined : resolved;
    },
    findFunction: (nameOrArn) => findFunction(functions, nameOrArn),
    findQueue: (arnUrlOrName) => findQueue(queues, arnUrlOrName),
  };
}

function findFunction(functions: readonly LocalFunction[], nameOrArn: string): LocalFunction | undefined {
  const match = /^arn:[^:]+:lambda:[^:]+:[^:]+:function:([^:]+)(?::[^:]+)?$/.exec(nameOrArn);
  const name = match?.[1] ?? nameOrArn.replace(/:(\$LATEST|[A-Za-z0-9_-]+)$/, '');
  return functions.find((fn) => fn.name === name || fn.name === nameOrArn);
}

function findQueue(queues: readonly LocalQueue[], arnUrlOrName: string): LocalQueue | undefined {
  return queues.find((q) => q.arn === arnUrlOrName || q.url === arnUrlOrName || q.name === arnUrlOrName);
}
