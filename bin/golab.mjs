#!/usr/bin/env node
// The golab CLI. TypeScript sources run through tsx's loader, resolved from this file's
// location so `npx golab` works from any directory.
import { register } from 'tsx/esm/api';

register();
await import('../lab/cli/main.ts');
