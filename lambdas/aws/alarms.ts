/**
 * CloudWatch alarms that gate rollouts (tag `phoenix:alarms`), read with DescribeAlarms (100 names
 * per call). The client lives here, not in clients.ts, so only the function that reads alarms
 * bundles it.
 */
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { aws } from './errors';

let client: CloudWatchClient | undefined;
/** The CloudWatch client (exported for the call counter of the promotion check). */
export const cloudWatch = () => (client ??= new CloudWatchClient({ retryMode: 'adaptive', maxAttempts: 5 }));

/** The state (`OK`, `ALARM`, `INSUFFICIENT_DATA`) of each named alarm that exists, metric or composite. */
export async function alarmStates(names: readonly string[]): Promise<Map<string, string>> {
  const states = new Map<string, string>();
  for (let i = 0; i < names.length; i += 100) {
    let token: string | undefined;
    do {
      const page = await aws('DescribeAlarms', () =>
        cloudWatch().send(
          new DescribeAlarmsCommand({
            AlarmNames: names.slice(i, i + 100),
            AlarmTypes: ['MetricAlarm', 'CompositeAlarm'],
            NextToken: token,
          }),
        ),
      );
      for (const alarm of [...(page.MetricAlarms ?? []), ...(page.CompositeAlarms ?? [])]) {
        if (alarm.AlarmName) states.set(alarm.AlarmName, alarm.StateValue ?? 'INSUFFICIENT_DATA');
      }
      token = page.NextToken;
    } while (token);
  }
  return states;
}
