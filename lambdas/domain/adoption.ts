/**
 * The adoption contract's checks that IAM cannot make for Phoenix: pure functions, no SDK.
 *
 * Phoenix's policies (lib/capabilities/) version a launch template only when it carries
 * `phoenix:fleet`, and change blue-green green groups only by the names Phoenix generates. A
 * rollout checks the first before anything launches, so that a fleet whose template is not adopted
 * is rejected with a reason (`RolloutRejected`) rather than an AccessDenied half-way.
 */
import { Tags } from './contract';

/**
 * The names of green groups (`greenGroupName`: `phoenix-<fleet>-<12 hex digits>`) as an IAM
 * wildcard pattern, for the ARN `...:autoScalingGroupName/<name>` in Phoenix's policies.
 */
export const GREEN_GROUP_NAME_PATTERN = 'phoenix-*-????????????';

/** Does `value` match an IAM wildcard `pattern` (`*` any run of characters, `?` one character)? */
export function matchesIamPattern(pattern: string, value: string): boolean {
  const regex = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${regex}$`, 's').test(value);
}

/** What the check reads of a launch template (EC2 DescribeLaunchTemplates). */
export interface LaunchTemplateFacts {
  readonly id: string;
  readonly name?: string;
  readonly tags: Readonly<Record<string, string>>;
}

/**
 * Why a fleet's launch template cannot be rolled out (it does not carry `phoenix:fleet`), or
 * undefined when it can. Any value adopts the template; the fleet's name is the natural one.
 */
export function launchTemplateViolation(template: LaunchTemplateFacts, fleet: string): string | undefined {
  if (template.tags[Tags.fleet] !== undefined) return undefined;
  const named = template.name !== undefined ? `${template.id} (${template.name})` : template.id;
  return `launch template ${named} of fleet ${fleet} is not tagged ${Tags.fleet}: Phoenix versions only launch templates that carry it (tag it ${Tags.fleet}=${fleet} to adopt it)`;
}
