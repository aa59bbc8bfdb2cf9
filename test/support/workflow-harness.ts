/**
 * Runs one synthesized state machine of the CDK app locally (aws-local-stepfunctions behind the
 * local Step Functions service) with its Lambda tasks bound to scripted step doubles: the
 * workflow tests check a definition's routing (steps, Retry, Catch, outcomes), not the steps.
 */
import { afterAll, beforeAll, beforeEach } from 'vitest';
import {
  DrainSteps,
  FleetSteps,
  RecordSteps,
  ReplaceSteps,
  RetireInstanceStep,
  type DrainStep,
  type FleetStep,
  type RecordStep,
  type ReplaceStep,
} from '../../lambdas/domain/steps';
import type * as blueGreen from '../../lambdas/steps/blue-green';
import type * as drain from '../../lambdas/steps/drain';
import type * as fleet from '../../lambdas/steps/fleet';
import type * as record from '../../lambdas/steps/record';
import type * as rolling from '../../lambdas/steps/rolling';
import type * as replace from '../../lambdas/steps/replace';
import { LambdaFunctionError } from '../../local/lambda-host';
import { silentLogger } from '../../local/log';
import { type ExecutionRecord, LocalStepFunctions } from '../../local/stepfunctions';
import { type LocalModel, resolveTemplate, synthesizeControlPlane } from '../../local/template';

/** The real step behind each `step` value the workflows pass to their Lambda tasks. */
interface StepFunctions {
  [FleetSteps.ValidateImage]: typeof fleet.validateImage;
  [FleetSteps.ReconcileLaunchTemplate]: typeof rolling.reconcileLaunchTemplate;
  [FleetSteps.LaunchBatch]: typeof rolling.launchBatch;
  [FleetSteps.CheckBatchHealth]: typeof rolling.checkBatchHealth;
  [FleetSteps.RetireBatch]: typeof rolling.retireBatch;
  [FleetSteps.CheckAlarms]: typeof fleet.checkAlarms;
  [FleetSteps.StartRollback]: typeof rolling.startRollback;
  [FleetSteps.CheckRollbackCapacity]: typeof rolling.checkRollbackCapacity;
  [FleetSteps.FinishRollback]: typeof rolling.finishRollback;
  [FleetSteps.ReadImage]: typeof fleet.readImage;
  [FleetSteps.SuspendScalingProcesses]: typeof fleet.suspendScalingProcesses;
  [FleetSteps.ReleaseFleet]: typeof fleet.releaseFleet;
  [FleetSteps.CreateGreenGroup]: typeof blueGreen.createGreenGroup;
  [FleetSteps.CheckGreenHealth]: typeof blueGreen.checkGreenHealth;
  [FleetSteps.AttachGreenTargetGroups]: typeof blueGreen.attachGreenTargetGroups;
  [FleetSteps.ScaleGreenGroup]: typeof blueGreen.scaleGreenGroup;
  [FleetSteps.CutOverToGreen]: typeof blueGreen.cutOverToGreen;
  [FleetSteps.RetireBlue]: typeof blueGreen.retireBlue;
  [FleetSteps.DiscardGreen]: typeof blueGreen.discardGreen;
  [FleetSteps.QuarantineImage]: typeof fleet.quarantineImage;
  [RecordSteps.AcquireFleetLock]: typeof record.acquireFleetLock;
  [RecordSteps.CommitRollout]: typeof record.commitRollout;
  [RecordSteps.ReportOutcome]: typeof record.reportOutcome;
  [RecordSteps.TakeOverFleetLock]: typeof record.takeOverFleetLock;
  [RecordSteps.CheckSafePoint]: typeof record.checkSafePoint;
  [RecordSteps.WaitForRolloutSlot]: typeof record.waitForRolloutSlot;
  [ReplaceSteps.ResolveInstance]: typeof replace.resolveInstance;
  [ReplaceSteps.TaintInstance]: typeof replace.taintInstance;
  [ReplaceSteps.AcquireReplacementSlot]: typeof replace.acquireReplacementSlot;
  [ReplaceSteps.ReplaceInstance]: typeof replace.replaceInstance;
  [ReplaceSteps.WaitForReplacement]: typeof replace.waitForReplacement;
  [ReplaceSteps.ReleaseReplacementSlot]: typeof replace.releaseReplacementSlot;
  [RetireInstanceStep]: typeof replace.retireInstance;
  [DrainSteps.DeregisterInstance]: typeof drain.deregisterInstance;
  [DrainSteps.StartFlush]: typeof drain.startFlush;
  [DrainSteps.CheckFlush]: typeof drain.checkFlush;
  [DrainSteps.ResolveLifecycleAction]: typeof drain.resolveLifecycleAction;
  [DrainSteps.CompleteLifecycleAction]: typeof drain.completeAction;
  [DrainSteps.ReportDrainFailed]: typeof drain.reportDrainFailed;
}

/** Every step of the workflows (a step added to lambdas/domain/steps.ts must be added above). */
export type StepName = FleetStep | RecordStep | ReplaceStep | DrainStep | typeof RetireInstanceStep;
type Missing = Exclude<StepName, keyof StepFunctions>;
const everyStepHasItsFunction: [Missing] extends [never] ? true : Missing = true;
void everyStepHasItsFunction;

/** What the real step returns: a double must return the same shape. */
export type StepResult<S extends StepName> = Awaited<ReturnType<StepFunctions[S]>>;

/**
 * A step double: gets the task's payload and how many times the step ran before, returns what the
 * real step returns (or throws `fail(...)`).
 */
export type Script<R = unknown> = (payload: Record<string, any>, call: number) => R;

/** The doubles of a test file, each typed by the real step's result. */
export type Scripts = { [S in StepName]?: Script<StepResult<S>> };

export interface Call {
  readonly handler: string;
  readonly step: string;
  readonly payload: Record<string, any>;
}

/** A failure as Lambda reports it, so Retry and Catch see the name. */
export const fail = (errorType: string, errorMessage: string) =>
  new LambdaFunctionError({ errorType, errorMessage, functionName: 'double', requestId: 'r' });

/**
 * Set up the harness for a test file: the state machine whose logical id contains
 * `logicalIdPart`, fresh scripts (from `makeScripts`) and an empty call log before each test.
 */
export function useWorkflow(logicalIdPart: string, makeScripts: () => Scripts) {
  const harness = {
    model: undefined as unknown as LocalModel,
    service: undefined as unknown as LocalStepFunctions,
    stateMachineArn: '',
    scripts: {} as Scripts,
    calls: [] as Call[],
    /** Every execution of the last `run`: the first, then its continuations (continue-as-new). */
    executions: [] as ExecutionRecord[],
    /**
     * Start an execution named `name` with `input` and wait for its end; an execution that ends
     * handing over to a continuation (output `{continued: <name>}`) is followed to the last one,
     * whose record is returned.
     */
    async run(name: string, input: unknown) {
      const { executionArn } = harness.service.startExecution({
        stateMachineArn: harness.stateMachineArn,
        name,
        input: JSON.stringify(input),
      });
      harness.executions = [];
      let record = await harness.service.waitForExecution(executionArn, { timeoutMs: 30_000 });
      harness.executions.push(record);
      for (;;) {
        const continued =
          record.status === 'SUCCEEDED' && record.output !== undefined
            ? (JSON.parse(record.output) as { continued?: unknown }).continued
            : undefined;
        if (typeof continued !== 'string') return record;
        const next = record.executionArn.replace(/:[^:]+$/, `:${continued}`);
        record = await harness.service.waitForExecution(next, { timeoutMs: 30_000 });
        harness.executions.push(record);
      }
    },
    steps: () => harness.calls.map((c) => c.step),
  };

  beforeAll(async () => {
    const { template } = synthesizeControlPlane();
    harness.model = resolveTemplate(template, { region: 'us-east-1', endpoint: 'http://127.0.0.1:9' });
    harness.service = await LocalStepFunctions.start({
      timeScale: 0.001,
      log: silentLogger,
      invoker: {
        resolveFunction: (arn) => harness.model.findFunction(arn),
        invoke: async (arn, payload) => {
          const fn = harness.model.findFunction(arn);
          if (!fn) throw new Error(`unknown function ${arn}`);
          const p = payload as Record<string, any>;
          const step = String(p['step']);
          const count = harness.calls.filter((c) => c.step === step).length;
          harness.calls.push({ handler: fn.handler, step, payload: p });
          const script = (harness.scripts as Record<string, Script | undefined>)[step];
          if (!script) throw fail('ConfigurationError', `no script for ${step}`);
          return script(p, count);
        },
      },
    });
    const machine = harness.model.stateMachines.find((m) => m.logicalId.includes(logicalIdPart));
    if (!machine)
      throw new Error(`the template has no state machine whose logical id contains ${logicalIdPart}`);
    harness.service.registerStateMachine({
      name: machine.name,
      arn: machine.arn,
      definition: machine.definitionString,
    });
    harness.stateMachineArn = machine.arn;
  });

  afterAll(async () => {
    await harness.service?.close();
  });

  beforeEach(() => {
    harness.scripts = makeScripts();
    harness.calls = [];
  });

  return harness;
}
