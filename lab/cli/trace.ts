/** The `golab trace` command. */
import type { Command } from 'commander';

/** Registers `golab trace` on the program. */
export function registerTrace(program: Command): void {
  program.command('trace').description('(not yet implemented)').action(() => {
    throw new Error('golab trace is not implemented yet');
  });
}
