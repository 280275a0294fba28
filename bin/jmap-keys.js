#!/usr/bin/env node
// The jmap-keys command line: loads the TypeScript sources through tsx, in this process.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
