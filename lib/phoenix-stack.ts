import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { PhoenixControlPlane, type PhoenixControlPlaneProps } from './control-plane';

export interface PhoenixStackProps extends StackProps {
  /**
   * Settings of the control plane.
   * @default - the `PhoenixControlPlane` defaults (bus `phoenix`, stateful resources retained)
   */
  readonly controlPlane?: PhoenixControlPlaneProps;
}

/** The deployable Phoenix stack: the control plane and what an operator needs to reach it. */
export class PhoenixStack extends Stack {
  /** The control plane the stack deploys. */
  public readonly controlPlane: PhoenixControlPlane;

  constructor(scope: Construct, id: string, props: PhoenixStackProps = {}) {
    super(scope, id, {
      description: 'Phoenix: event-driven control plane for immutable EC2 Auto Scaling fleets',
      ...props,
    });
    this.controlPlane = new PhoenixControlPlane(this, 'ControlPlane', props.controlPlane);

    new CfnOutput(this, 'EventBusName', {
      description: 'The Phoenix event bus: put PublishImage commands here, read outcomes',
      value: this.controlPlane.eventBus.eventBusName,
    });
    new CfnOutput(this, 'PublishGuardPolicyArn', {
      description:
        'Attach to non-operator roles: only operators may write /phoenix/channels/* or tag an AMI phoenix:channel',
      value: this.controlPlane.publishGuard.managedPolicyArn,
    });
    new CfnOutput(this, 'PublishGuardScp', {
      description: 'The publish guard as a service control policy (for the organization)',
      value: this.controlPlane.authorization.publishGuardScp(),
    });
    new CfnOutput(this, 'OutcomeLogGroupName', {
      description:
        'The outcome archive: every outcome event (phoenix events reads it: PHOENIX_OUTCOME_LOG_GROUP)',
      value: this.controlPlane.outcomeArchive.logGroup.logGroupName,
    });
    new CfnOutput(this, 'TableName', {
      description: 'The fleet records table',
      value: this.controlPlane.table.tableName,
    });
    new CfnOutput(this, 'RolloutStateMachineArn', {
      description: 'The Rollout workflow',
      value: this.controlPlane.rolloutWorkflow.stateMachine.stateMachineArn,
    });
    new CfnOutput(this, 'ReplaceStateMachineArn', {
      description: 'The Replace workflow: one execution per instance to replace',
      value: this.controlPlane.replaceWorkflow.stateMachine.stateMachineArn,
    });
    new CfnOutput(this, 'DrainStateMachineArn', {
      description: 'The Drain workflow: one execution per termination lifecycle action',
      value: this.controlPlane.drainWorkflow.stateMachine.stateMachineArn,
    });
  }
}
