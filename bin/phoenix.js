#!/usr/bin/env node
// The `phoenix` CLI entry: runs bin/phoenix-cli.ts through tsx (no build step).
'use strict';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// TypeScript through require(): the CLI and the handler modules the local runtime loads.
require('tsx/cjs');
require('./phoenix-cli.ts')
  .main(process.argv)
  .catch((error) => {
    // A refused connection is said plainly (the endpoint, is `phoenix local` running?), not as the
    // SDK's TransientAwsError … ECONNREFUSED.
    const unreachable = require('../cli/target.ts').unreachableMessage(error);
    const message =
      unreachable ??
      `${error && error.name ? `${error.name}: ` : ''}${error && error.message ? error.message : String(error)}`;
    process.stderr.write(`phoenix: ${message}\n`);
    process.exit(require('../cli/exit-codes.ts').ExitCodes.failure);
  });
