#!/usr/bin/env node
// `npm start`: the server (src/main.ts), compiled when dist/ is up to date (see launch.js).
import { launch } from './launch.js';

await launch('main');
