import { App } from 'aws-cdk-lib';
import { addCompliance, PhoenixStack } from '../lib';

// Environment-agnostic unless the CLI knows an account and region: `cdk synth` works offline.
const account = process.env.CDK_DEFAULT_ACCOUNT;
const region = process.env.CDK_DEFAULT_REGION;

const app = new App();
new PhoenixStack(app, 'Phoenix', { env: account && region ? { account, region } : undefined });
addCompliance(app);
app.synth();
