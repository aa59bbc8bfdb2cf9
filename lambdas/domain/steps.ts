/**
 * The Rollout workflow's steps: the names of its Task states and the `step` value the workflow
 * passes to the Lambda behind each. One place, shared by lib/rollout-workflow.ts (which builds the
 * state machine) and the handlers (which dispatch on `step`).
 */

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
} as const;
export type FleetStep = (typeof FleetSteps)[keyof typeof FleetSteps];

/** Steps served by the `rollout-record` function (DynamoDB + EventBridge). */
export const RecordSteps = {
  AcquireFleetLock: 'AcquireFleetLock',
  CommitRollout: 'CommitRollout',
  ReportOutcome: 'ReportOutcome',
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
 * Errors that a retry may cure (throttling, a 5xx from a service, a network fault). Each task of a
 * workflow retries these, with the Lambda service's own transient errors; everything else is
 * terminal and goes to the task's Catch.
 */
export const TRANSIENT_ERRORS = [
  'TransientAwsError',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
] as const;
