/** The `golab vm` command. */
import type { Command } from 'commander';

/** Registers `golab vm` on the program. */
export function registerVm(program: Command): void {
  program.command('vm').description('(not yet implemented)').action(() => {
    throw new Error('golab vm is not implemented yet');
  });
}
