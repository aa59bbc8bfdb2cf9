/**
 * The control plane's resources, as synthesized by the CDK app, created in the shared emulator
 * (reset first), with process.env set as the functions' environment: what the handlers need to
 * run in a test exactly as they run in the local runtime. `freshWorld` adds the integration files'
 * common fixture on top (a World, clients, the outcome listener, optionally Step Functions).
 */
import { DescribeSubnetsCommand, DescribeVpcsCommand } from '@aws-sdk/client-ec2';
import { inject } from 'vitest';
import { resetEmulator } from '../../local/emulator';
import { LambdaFunctionError, mergeFunctionEnvironments } from '../../local/lambda-host';
import { silentLogger } from '../../local/log';
import { listenToOutcomes, type OutcomeListener } from '../../local/outcomes';
import { checkingSchemas } from './outcome-schemas';
import { provision, type RuleQueue } from '../../local/provision';
import { LocalStepFunctions } from '../../local/stepfunctions';
import {
  type LocalFunction,
  type LocalModel,
  resolveTemplate,
  synthesizeControlPlane,
} from '../../local/template';
import { World, worldClients } from '../../local/world';

export const REGION = 'us-east-1';

let synthesized: ReturnType<typeof synthesizeControlPlane> | undefined;

export interface FreshControlPlane {
  readonly endpoint: string;
  readonly model: LocalModel;
  /** The queue of each routed rule target (`phoenix-rule-<ruleLogicalId>`), for tests that read them directly. */
  readonly ruleQueues: readonly RuleQueue[];
}

export async function freshControlPlane(): Promise<FreshControlPlane> {
  const endpoint = inject('emulatorEndpoint');
  await resetEmulator(endpoint);
  synthesized ??= synthesizeControlPlane();
  const model = resolveTemplate(synthesized.template, { region: REGION, endpoint });
  const { ruleQueues } = await provision(model, { endpoint, region: REGION, log: silentLogger });
  Object.assign(process.env, mergeFunctionEnvironments(model.functions).shared, {
    AWS_REGION: REGION,
    AWS_ENDPOINT_URL: endpoint,
  });
  return { endpoint, model, ruleQueues };
}

/** The default VPC of the emulator and two of its subnets (for groups behind a target group). */
export interface DefaultNetwork {
  readonly vpcId: string;
  readonly subnets: string[];
}

/**
 * A fresh control plane (`freshControlPlane`) with what the integration files build on it: a World
 * to make fleets and images with, SDK clients on the emulator, a listener on the Phoenix bus's
 * outcome events and, when asked, a local Step Functions service with every state machine of the
 * template, whose tasks are answered by `tasks` (the handlers are not run: the steps under test
 * are called directly, the workflows have tests of their own).
 *
 *   beforeAll(async () => {
 *     const fx = await freshWorld();
 *     ({ world, outcomes } = fx);
 *     return fx.stop;
 *   });
 */
export interface ControlPlaneWorld extends FreshControlPlane {
  readonly world: World;
  readonly clients: ReturnType<typeof worldClients>;
  /** Config for an SDK v3 client the World has none of (e.g. ELBv2): endpoint, region, dummy credentials. */
  readonly clientConfig: {
    readonly region: string;
    readonly endpoint: string;
    readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  };
  /** The Phoenix bus. */
  readonly busName: string;
  /** The outcome listener (throws when made with `outcomes: false`). */
  readonly outcomes: OutcomeListener;
  /** The local Step Functions service (throws when made without `tasks`). */
  readonly service: LocalStepFunctions;
  /** The ARN of the state machine whose logical id contains `logicalIdPart`. */
  stateMachineArn(logicalIdPart: string): string;
  network(): Promise<DefaultNetwork>;
  /** Stop the listener and the service. */
  readonly stop: () => Promise<void>;
}

export interface FreshWorldOptions {
  /** Listen to the Phoenix bus's outcome events. @default true */
  readonly outcomes?: boolean;
  /**
   * Start a local Step Functions service whose Lambda tasks get this answer (`fn`: the task's
   * function in the template), point the SDK at it (`AWS_ENDPOINT_URL_SFN`).
   * @default no service
   */
  readonly tasks?: (fn: LocalFunction | undefined) => Promise<unknown>;
}

/** A task answer: the execution stays RUNNING (until aborted). */
export const neverEnds = (): Promise<unknown> => new Promise(() => undefined);

/** A task answer: the task fails (`NotRunHere`), so the execution fails. */
export const notRunHere = (): Promise<unknown> =>
  Promise.reject(
    new LambdaFunctionError({
      errorType: 'NotRunHere',
      errorMessage: 'intake test',
      functionName: 'x',
      requestId: 'r',
    }),
  );

export async function freshWorld(options: FreshWorldOptions = {}): Promise<ControlPlaneWorld> {
  const cp = await freshControlPlane();
  const { endpoint, model } = cp;
  const busName = model.eventBuses[0]!.name;
  const outcomes =
    (options.outcomes ?? true)
      ? checkingSchemas(await listenToOutcomes({ endpoint, region: REGION, eventBusName: busName }))
      : undefined;
  let service: LocalStepFunctions | undefined;
  const tasks = options.tasks;
  if (tasks !== undefined) {
    service = await LocalStepFunctions.start({
      log: silentLogger,
      invoker: {
        resolveFunction: (arn) => model.findFunction(arn),
        invoke: (arn) => tasks(model.findFunction(arn)),
      },
    });
    for (const machine of model.stateMachines) {
      service.registerStateMachine({
        name: machine.name,
        arn: machine.arn,
        definition: machine.definitionString,
      });
    }
    process.env['AWS_ENDPOINT_URL_SFN'] = service.endpoint;
  }
  const clients = worldClients({ endpoint, region: REGION });
  return {
    ...cp,
    world: new World({ endpoint, region: REGION }),
    clients,
    clientConfig: {
      region: REGION,
      endpoint,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    },
    busName,
    get outcomes(): OutcomeListener {
      if (outcomes === undefined) throw new Error('freshWorld({ outcomes: false }) has no outcome listener');
      return outcomes;
    },
    get service(): LocalStepFunctions {
      if (service === undefined)
        throw new Error('freshWorld() without `tasks` has no Step Functions service');
      return service;
    },
    stateMachineArn(logicalIdPart) {
      const machine = model.stateMachines.find((m) => m.logicalId.includes(logicalIdPart));
      if (machine === undefined)
        throw new Error(`no state machine whose logical id contains ${logicalIdPart}`);
      return machine.arn;
    },
    async network() {
      const vpcId = (await clients.ec2.send(new DescribeVpcsCommand({}))).Vpcs![0]!.VpcId!;
      const subnets = (
        await clients.ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }))
      )
        .Subnets!.map((s) => s.SubnetId!)
        .slice(0, 2);
      return { vpcId, subnets };
    },
    stop: async () => {
      await outcomes?.stop();
      await service?.close();
    },
  };
}
