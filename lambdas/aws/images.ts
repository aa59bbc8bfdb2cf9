/**
 * The quarantine tag on an AMI (issue 13 §3): `phoenix:quarantined=<reason>`, set by the Rollout
 * workflow (QuarantineImage) and the Validate workflow, removed by `phoenix release`.
 */
import { CreateTagsCommand, DeleteTagsCommand } from '@aws-sdk/client-ec2';
import { Tags } from '../domain/contract';
import { ec2 } from './clients';
import { aws } from './errors';

/** Tag the image quarantined (idempotent: CreateTags overwrites the value). */
export async function tagImageQuarantined(imageId: string, reason: string): Promise<void> {
  await aws('CreateTags', () =>
    ec2().send(
      new CreateTagsCommand({ Resources: [imageId], Tags: [{ Key: Tags.quarantined, Value: reason }] }),
    ),
  );
}

/** Remove the quarantine tag (idempotent: deleting an absent tag succeeds). */
export async function untagImageQuarantined(imageId: string): Promise<void> {
  await aws('DeleteTags', () =>
    ec2().send(new DeleteTagsCommand({ Resources: [imageId], Tags: [{ Key: Tags.quarantined }] })),
  );
}
