#!/usr/bin/env node
// Entry point installed as `pgwarden`; the code is compiled to dist/ by `npm run build`.
import { existsSync } from 'node:fs';
const entry = new URL('../dist/cli/agent.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('pgwarden is not built yet: run `npm install && npm run build` in the pgwarden checkout\n');
  process.exit(1);
}
await import(entry.href);
