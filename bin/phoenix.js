#!/usr/bin/env node
// The `phoenix` CLI entry: runs bin/phoenix-cli.ts through tsx (no build step).
'use strict';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// TypeScript through require(): the CLI and the handler modules the local runtime loads.
require('tsx/cjs');
require('./phoenix-cli.ts')
  .main(process.argv)
  .catch((error) => {
    process.stderr.write(
      `phoenix: ${error && error.name ? `${error.name}: ` : ''}${error && error.message ? error.message : String(error)}\n`,
    );
    process.exit(1);
  });
