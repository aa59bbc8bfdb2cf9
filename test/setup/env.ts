/**
 * vitest setupFiles: the environment every test file starts with. No real AWS: dummy credentials,
 * a region, no X-Ray, quiet Powertools. Files that talk to the emulator call `useEmulator()`
 * (test/support/emulator.ts), which points the SDK at it.
 */
process.env.AWS_REGION ??= 'us-east-1';
process.env.AWS_ACCESS_KEY_ID ??= 'testing';
process.env.AWS_SECRET_ACCESS_KEY ??= 'testing';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
process.env.POWERTOOLS_TRACE_ENABLED = 'false';
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
// The local runtime's own log lines: errors only, unless asked for more.
process.env.PHOENIX_LOCAL_LOG_LEVEL ??= 'error';
// Never reach a real account by accident through a profile.
delete process.env.AWS_PROFILE;
