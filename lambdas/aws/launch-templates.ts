/** Launch templates as EC2 reports them (the adoption check of a rollout). */
import { DescribeLaunchTemplatesCommand } from '@aws-sdk/client-ec2';
import type { LaunchTemplateFacts } from '../domain/adoption';
import { aws } from './errors';
import { ec2 } from './clients';

/** A launch template's id, name and tags (ec2:DescribeLaunchTemplates, read-only). */
export async function describeLaunchTemplate(launchTemplateId: string): Promise<LaunchTemplateFacts> {
  const page = await aws('DescribeLaunchTemplates', () =>
    ec2().send(new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: [launchTemplateId] })),
  );
  const found = page.LaunchTemplates?.[0];
  const tags: Record<string, string> = {};
  for (const t of found?.Tags ?? []) if (t.Key !== undefined) tags[t.Key] = t.Value ?? '';
  return {
    id: found?.LaunchTemplateId ?? launchTemplateId,
    ...(found?.LaunchTemplateName !== undefined ? { name: found.LaunchTemplateName } : {}),
    tags,
  };
}
