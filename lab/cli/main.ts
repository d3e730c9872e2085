/**
 * Entry point of the `golab` command line. Each subcommand lives in its own module and
 * registers itself on the shared commander program.
 */
import { Command } from 'commander';
import { GolabError, ExitCode } from '../errors.ts';
import { registerDoctor } from './doctor.ts';
import { registerTrace } from './trace.ts';
import { registerVm } from './vm.ts';
import { registerMatrix } from './matrix.ts';
import { registerBench } from './bench.ts';

const program = new Command();
program
  .name('golab')
  .description('Trace and rewrite Go function arguments with uprobes through libbcc, across Go versions, ABIs and kernels.')
  .showHelpAfterError();

registerDoctor(program);
registerTrace(program);
registerVm(program);
registerMatrix(program);
registerBench(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof GolabError) {
    process.stderr.write(`${error.describe()}\n`);
    process.exit(error.exitCode);
  }
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(ExitCode.checkFailed);
}
