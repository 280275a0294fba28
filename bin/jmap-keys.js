#!/usr/bin/env node
// The jmap-keys command line (src/cli/main.ts), compiled when dist/ is up to date (see launch.js).
import { launch } from './launch.js';

await launch('cli/main');
