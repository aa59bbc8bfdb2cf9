/**
 * The Rollout workflow's steps: the names of its Task states and the `step` value the workflow
 * passes to the Lambda behind each. One place, shared by lib/rollout-workflow.ts (which builds the
 * state machine) and the handlers (which dispatch on `step`).
 */
import { ErrorNames } from './errors';

/** Steps served by the `rollout-fleet` function (EC2 + Auto Scaling). */
export const FleetSteps = {
  ValidateImage: 'ValidateImage',
  ReconcileLaunchTemplate: 'ReconcileLaunchTemplate',
  LaunchBatch: 'LaunchBatch',
  CheckBatchHealth: 'CheckBatchHealth',
  RetireBatch: 'RetireBatch',
  /** Are the fleet's gating alarms (tag `phoenix:alarms`) OK? Before the start, after each batch, after the bake. */
  CheckAlarms: 'CheckAlarms',
  StartRollback: 'StartRollback',
  CheckRollbackCapacity: 'CheckRollbackCapacity',
  FinishRollback: 'FinishRollback',
  /** The image as EC2 reports it (its CreationDate orders rollouts: supersede, late images). Before the lock. */
  ReadImage: 'ReadImage',
  /** Suspend AZRebalance, AlarmNotification and ScheduledActions (those not already suspended) before the first change. */
  SuspendScalingProcesses: 'SuspendScalingProcesses',
  /** Give the group back its limits (desired/max as at the start) and resume the processes Phoenix suspended. */
  ReleaseFleet: 'ReleaseFleet',
  /** Blue-green (`phoenix:strategy=blue-green`): a launch template version and the green group cloned from blue. */
  CreateGreenGroup: 'CreateGreenGroup',
  /** Blue-green: is green at its capacity, InService, Healthy and healthy in its target groups? */
  CheckGreenHealth: 'CheckGreenHealth',
  /** Blue-green: attach blue's target groups to green. */
  AttachGreenTargetGroups: 'AttachGreenTargetGroups',
  /** Blue-green canary: green from 1 instance to the fleet's capacity. */
  ScaleGreenGroup: 'ScaleGreenGroup',
  /** Blue-green: the fleet's identity (its `phoenix:*` tags) moves from blue to green. */
  CutOverToGreen: 'CutOverToGreen',
  /** Blue-green, after cutover: detach blue from the target groups, let it drain, delete it. */
  RetireBlue: 'RetireBlue',
  /** Blue-green rollback: the identity back on blue if needed, green detached and deleted. */
  DiscardGreen: 'DiscardGreen',
  /**
   * After a rollback, before its report: when the image caused it (domain/quarantine.ts), tag the
   * AMI `phoenix:quarantined=<reason>`. Its failure never fails the rollback (reported instead).
   */
  QuarantineImage: 'QuarantineImage',
} as const;
export type FleetStep = (typeof FleetSteps)[keyof typeof FleetSteps];

/** Steps served by the `rollout-record` function (DynamoDB + EventBridge). */
export const RecordSteps = {
  AcquireFleetLock: 'AcquireFleetLock',
  CommitRollout: 'CommitRollout',
  ReportOutcome: 'ReportOutcome',
  /** Continue-as-new: a continuation takes the fleet lock from its predecessor. */
  TakeOverFleetLock: 'TakeOverFleetLock',
  /** At a batch boundary: was the rollout superseded or its fleet paused? Past its deadline? Where does it continue? */
  CheckSafePoint: 'CheckSafePoint',
  /**
   * No global rollout slot free (`RolloutSlotQueuedError`): register the task token
   * (`.waitForTaskToken`) as a waiter on the slots, or take a slot freed meanwhile and wake itself.
   */
  WaitForRolloutSlot: 'WaitForRolloutSlot',
} as const;
export type RecordStep = (typeof RecordSteps)[keyof typeof RecordSteps];

/** Steps of the Replace workflow, all served by the `replace` function. */
export const ReplaceSteps = {
  ResolveInstance: 'ResolveInstance',
  TaintInstance: 'TaintInstance',
  AcquireReplacementSlot: 'AcquireReplacementSlot',
  ReplaceInstance: 'ReplaceInstance',
  WaitForReplacement: 'WaitForReplacement',
  ReleaseReplacementSlot: 'ReleaseReplacementSlot',
} as const;
export type ReplaceStep = (typeof ReplaceSteps)[keyof typeof ReplaceSteps];

/**
 * Drain steps, served by the `drain` function (ELBv2 + SSM + Auto Scaling): in the Replace workflow
 * before the old instance goes (DeregisterInstance, StartFlush, CheckFlush), and in the Drain
 * workflow of the termination lifecycle hook (ResolveLifecycleAction, StartFlush, CheckFlush,
 * CompleteLifecycleAction, ReportDrainFailed).
 */
export const DrainSteps = {
  DeregisterInstance: 'DeregisterInstance',
  StartFlush: 'StartFlush',
  CheckFlush: 'CheckFlush',
  ResolveLifecycleAction: 'ResolveLifecycleAction',
  CompleteLifecycleAction: 'CompleteLifecycleAction',
  ReportDrainFailed: 'ReportDrainFailed',
} as const;
export type DrainStep = (typeof DrainSteps)[keyof typeof DrainSteps];

/** Steps of the Validate workflow (post-creation image validation), all served by the `validate` function. */
export const ValidateSteps = {
  /** Point the validation group at a new launch template version with the image, desired capacity 1. */
  PrepareValidation: 'PrepareValidation',
  /** Is the validation instance (of the image) InService and healthy? Past the deadline: ValidationTimedOutError. */
  CheckValidationInstance: 'CheckValidationInstance',
  /** Send the SSM test document to the instance (nothing when the channel has only a test function). */
  StartValidationTest: 'StartValidationTest',
  /** Poll the SSM command to a final status, then call the test function; the verdict and the output. */
  CheckValidationTest: 'CheckValidationTest',
  /** Desired capacity 0 (always, whatever happened before). */
  CleanUpValidation: 'CleanUpValidation',
  /** Is the validation instance gone? */
  CheckValidationCleanup: 'CheckValidationCleanup',
  /** Record the verdict; passed: the channel's rollouts; failed: quarantine and ImageValidationFailed. */
  ReportValidation: 'ReportValidation',
} as const;
export type ValidateStep = (typeof ValidateSteps)[keyof typeof ValidateSteps];

/** The Replace workflow's own step that terminates the old instance once it is drained (replace function). */
export const RetireInstanceStep = 'RetireInstance';

/**
 * Errors that a retry may cure (throttling, a 5xx from a service, a network fault). Each task of a
 * workflow retries these, with the Lambda service's own transient errors and the runtime's death
 * (`Runtime.ExitError`: the runtime exited, e.g. killed or out of memory; `Sandbox.Timedout`: the
 * function ran out of time; `Lambda.Unknown`: how Step Functions names an unhandled Lambda error
 * such as these, docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html).
 * The runtime may die before or after a step's side effect: every step is idempotent (it reads
 * what is there before it acts, and a retry of a step that took effect finds it done), so a retry
 * is safe. Everything else is terminal and goes to the task's Catch.
 */
export const TRANSIENT_ERRORS = [
  ErrorNames.TransientAwsError,
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.Unknown',
  'Runtime.ExitError',
  'Sandbox.Timedout',
] as const;
