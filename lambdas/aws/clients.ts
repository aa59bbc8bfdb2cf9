/**
 * SDK v3 client singletons: created once per execution environment, on first use.
 *
 * Nothing here knows which runtime it is in: in AWS the clients reach the regional endpoints; in
 * the local runtime and the tests, `AWS_ENDPOINT_URL` (and `AWS_ENDPOINT_URL_SFN`) point them at
 * the emulator, which the SDK reads by itself. Adaptive retry keeps fan-out within API rates.
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';

const config = { retryMode: 'adaptive', maxAttempts: 5 } as const;

function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

export const ec2 = /* @__PURE__ */ lazy(() => new EC2Client(config));
export const autoScaling = /* @__PURE__ */ lazy(() => new AutoScalingClient(config));
export const dynamo = /* @__PURE__ */ lazy(() => new DynamoDBClient(config));
export const eventBridge = /* @__PURE__ */ lazy(() => new EventBridgeClient(config));
export const stepFunctions = /* @__PURE__ */ lazy(() => new SFNClient(config));
export const ssm = /* @__PURE__ */ lazy(() => new SSMClient(config));
export const loadBalancing = /* @__PURE__ */ lazy(() => new ElasticLoadBalancingV2Client(config));
