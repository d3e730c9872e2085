/** The `golab bench` command. */
import type { Command } from 'commander';

/** Registers `golab bench` on the program. */
export function registerBench(program: Command): void {
  program.command('bench').description('(not yet implemented)').action(() => {
    throw new Error('golab bench is not implemented yet');
  });
}
