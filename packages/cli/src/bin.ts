#!/usr/bin/env node
import { runAudit } from './run.js';

const { code, failed } = await runAudit(process.argv.slice(2));
if (failed) process.exit(code);
process.exitCode = code;
