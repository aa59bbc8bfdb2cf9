/**
 * Blue-green rollouts: pure decisions. The fleet (blue group, tagged `phoenix:fleet`) is left on its
 * launch template version; a second group (green) is cloned from it with the new version, validated,
 * attached to the blue group's target groups, and then the fleet's identity (its `phoenix:*` tags)
 * moves to green and blue is deleted. Phoenix finds a fleet by its tag, never by a group's name.
 */
import { createHash } from 'node:crypto';
import { Tags } from './contract';
import type { WorkflowState } from './rollout';

/** A group tag as Auto Scaling reports it. */
export interface GroupTag {
  readonly key: string;
  readonly value: string;
  readonly propagateAtLaunch: boolean;
}

/** The green group of a blue-green rollout (`$.green`). */
export interface GreenState {
  readonly groupName: string;
  /** The launch template version (with the new image) green launches from; blue never points at it. */
  readonly launchTemplateVersion: string;
  /** The blue group's target groups, attached to green once it is healthy at its capacity. */
  readonly targetGroupArns: readonly string[];
  /** Green's desired capacity now: 1 for a canary (`phoenix:canary=true`), then the fleet's. */
  readonly desired: number;
  /** Green is attached to the target groups. */
  readonly attached: boolean;
  /** The fleet's identity tags (every `phoenix:*` tag of blue), moved to green at cutover. */
  readonly identityTags: readonly GroupTag[];
}

/** Where a green health check stands (`$.greenCheck`). */
export interface GreenCheck {
  /** What is being waited for: `capacity:<desired>` or `targets:<desired>` (a new key restarts the count). */
  readonly key: string;
  readonly ready: boolean;
  readonly checks: number;
}

/** Where the retirement of the blue group stands (`$.retire`). */
export interface RetireProgress {
  /** Blue was deleted (or was already gone). */
  readonly deleted: boolean;
  /** Blue instances still registered (draining) in a target group. */
  readonly draining: number;
  readonly checks: number;
  /** Set while blue waits because green serves fewer than the fleet's floor: how many green serves. */
  readonly greenServing?: number;
}

/** The workflow state of a blue-green rollout, as its steps receive it. */
export interface BlueGreenWorkflowState extends WorkflowState {
  readonly green?: GreenState;
  readonly greenCheck?: GreenCheck;
  readonly retire?: RetireProgress;
}

/** Tags that mark a group in transition; never part of a fleet's identity. */
export const TRANSITION_TAGS: readonly string[] = [Tags.greenOf, Tags.blueOf, Tags.rollout];

/** Is this tag part of the fleet's identity (moved from blue to green at cutover)? */
export function isIdentityTag(key: string): boolean {
  return key.startsWith('phoenix:') && !TRANSITION_TAGS.includes(key);
}

/**
 * The green group's name: deterministic in (fleet, execution), so a retried step finds the group it
 * made; at most 255 characters, as Auto Scaling allows.
 */
export function greenGroupName(fleet: string, execution: string): string {
  const digest = createHash('sha256').update(`${fleet}\n${execution}`).digest('hex').slice(0, 12);
  return `phoenix-${fleet.slice(0, 200)}-${digest}`;
}

/**
 * The green group's tags at creation: every tag of blue except the fleet's identity (`phoenix:*`,
 * which stays on blue until cutover, so the fleet never has two groups) and the keys Auto Scaling
 * reserves (`aws:*`, e.g. CloudFormation's), plus `phoenix:green-of=<fleet>` and
 * `phoenix:rollout=<execution>`.
 */
export function greenTags(blueTags: readonly GroupTag[], fleet: string, execution: string): GroupTag[] {
  const kept = blueTags.filter((t) => !t.key.startsWith('phoenix:') && !t.key.startsWith('aws:'));
  return [
    ...kept,
    { key: Tags.greenOf, value: fleet, propagateAtLaunch: false },
    { key: Tags.rollout, value: execution, propagateAtLaunch: false },
  ];
}

/** The fleet's identity tags among a group's tags. */
export function identityTags(tags: readonly GroupTag[]): GroupTag[] {
  return tags.filter((t) => isIdentityTag(t.key));
}

/** Green's first desired capacity: one instance for a canary (when the fleet has more than one), else the fleet's. */
export function initialGreenCapacity(desiredCapacity: number, canary: boolean): number {
  return canary ? Math.min(1, desiredCapacity) : desiredCapacity;
}
