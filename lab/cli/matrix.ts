/** The `golab matrix` command. */
import type { Command } from 'commander';

/** Registers `golab matrix` on the program. */
export function registerMatrix(program: Command): void {
  program.command('matrix').description('(not yet implemented)').action(() => {
    throw new Error('golab matrix is not implemented yet');
  });
}
