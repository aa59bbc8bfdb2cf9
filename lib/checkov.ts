/**
 * Checkov (the scanner users' security teams run on the synthesized template) reads skips from
 * each resource's metadata: `Metadata: { checkov: { skip: [{ id, comment }] } }`. Each skip sits
 * beside the code that makes the finding true, with the reason a reviewer needs.
 */
import { CfnResource } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** One skipped Checkov check: its id (e.g. `CKV_AWS_117`) and why it does not apply. */
export interface CheckovSkip {
  readonly id: string;
  readonly comment: string;
}

/** The metadata key Checkov reads. */
export const CHECKOV_METADATA_KEY = 'checkov';

/**
 * Skips the checks on `construct`'s CloudFormation resource (the construct itself, or its default
 * child), merged with any skips already there; the same id twice is an error.
 */
export function skipCheckov(construct: IConstruct, ...skips: CheckovSkip[]): void {
  const resource = CfnResource.isCfnResource(construct) ? construct : construct.node.defaultChild;
  if (resource === undefined || !CfnResource.isCfnResource(resource)) {
    throw new Error(`${construct.node.path} has no CloudFormation resource to carry Checkov skips`);
  }
  const existing = (resource.getMetadata(CHECKOV_METADATA_KEY) as { skip?: CheckovSkip[] } | undefined)?.skip;
  const all = [...(existing ?? []), ...skips];
  const ids = all.map((s) => s.id);
  const twice = ids.filter((id, i) => ids.indexOf(id) !== i);
  if (twice.length > 0) throw new Error(`${construct.node.path} skips ${twice.join(', ')} twice`);
  resource.addMetadata(CHECKOV_METADATA_KEY, { skip: all });
}
