/**
 * `npm run fuzz`: the long fuzz run of the lab/elf readers.
 *
 *   node --import tsx lab/elf/fuzz-cli.ts --cases 10000 [--seed 1] [--time-bound 2000]
 *   node --import tsx lab/elf/fuzz-cli.ts --replay <caseSeed>
 *
 * The cases run in a child process so that a hang (a case that never returns) or a crash of the
 * process (out of memory) can be seen by this one, which then prints the case seed that reproduces it.
 */
import { Command } from 'commander';
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  buildCorpus, describeFailure, formatSummary, runCase, runFuzz,
  type FuzzCaseReport, type FuzzSeed, type FuzzSummary,
} from './fuzz.ts';
import { BuildDir } from './test-support.ts';

/** What the parent sends the child that runs the cases. */
interface ChildInput {
  seeds: { name: string; path: string }[];
  cases: number;
  seed: number;
  timeBoundMs: number;
}

type ChildMessage =
  | { type: 'start'; index: number; caseSeed: number }
  | { type: 'failure'; report: FuzzCaseReport }
  | { type: 'done'; summary: FuzzSummary };

const program = new Command()
  .name('fuzz-cli')
  .description('Fuzz the lab/elf readers with mutated real Go binaries.')
  .option('--cases <n>', 'number of cases', '10000')
  .option('--seed <n>', 'run seed', '1')
  .option('--time-bound <ms>', 'a case slower than this fails', '2000')
  .option('--hang <ms>', 'a case running longer than this is a hang: stop and report it', '20000')
  .option('--replay <caseSeed>', 'run the one case with this case seed and print what every reader did')
  .option('--child', 'internal: run the cases sent by the parent process')
  .parse();
const opts = program.opts<{ cases: string; seed: string; timeBound: string; hang: string; replay?: string; child?: boolean }>();

if (opts.child) {
  process.once('message', (input: ChildInput) => {
    const seeds: FuzzSeed[] = input.seeds.map((s) => ({ name: s.name, data: readFileSync(s.path) }));
    const post = (m: ChildMessage): void => void process.send!(m);
    const summary = runFuzz(seeds, {
      cases: input.cases,
      seed: input.seed,
      timeBoundMs: input.timeBoundMs,
      onCaseStart: (index, caseSeed) => post({ type: 'start', index, caseSeed }),
      onCase: (report) => {
        if (report.failure) post({ type: 'failure', report });
      },
    });
    process.send!({ type: 'done', summary } satisfies ChildMessage, () => process.exit(0));
  });
} else {
  const builds = new BuildDir();
  let exitCode = 0;
  try {
    process.stderr.write('fuzz: building the seed corpus…\n');
    const seeds = await buildCorpus(builds);
    process.stderr.write(`fuzz: ${seeds.length} seed binaries: ${seeds.map((s) => s.name).join(', ')}\n`);
    if (opts.replay !== undefined) {
      const report = runCase(seeds, 0, Number(opts.replay) >>> 0, Number(opts.timeBound));
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      exitCode = report.failure ? 1 : 0;
    } else {
      exitCode = await runInChild(seeds, Number(opts.cases), Number(opts.seed), Number(opts.timeBound), Number(opts.hang));
    }
  } finally {
    builds.remove();
  }
  process.exit(exitCode);
}

/**
 * Runs the cases in a child process (a hang there cannot block this one); kills it when a case
 * runs past `hangMs`. Resolves to the process exit code.
 */
function runInChild(seeds: FuzzSeed[], cases: number, seed: number, timeBoundMs: number, hangMs: number): Promise<number> {
  const input: ChildInput = { seeds: seeds.map((s) => ({ name: s.name, path: s.path ?? '' })), cases, seed, timeBoundMs };
  const child = fork(fileURLToPath(import.meta.url), ['--child'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let current = { index: -1, caseSeed: 0, since: Date.now() };
  const started = Date.now();
  let finished = false;
  return new Promise((resolve) => {
    const finish = (code: number): void => {
      if (finished) return;
      finished = true;
      clearInterval(watchdog);
      if (child.exitCode === null) child.kill('SIGKILL');
      resolve(code);
    };
    const watchdog = setInterval(() => {
      if (current.index >= 0 && Date.now() - current.since > hangMs) {
        process.stdout.write(`fuzz: HANG in case ${current.index} (case seed ${current.caseSeed}): no result after ${hangMs} ms; replay: node --import tsx lab/elf/fuzz-cli.ts --replay ${current.caseSeed}\n`);
        finish(1);
      }
    }, 250);
    child.on('message', (m: ChildMessage) => {
      if (m.type === 'start') {
        current = { index: m.index, caseSeed: m.caseSeed, since: Date.now() };
        if (m.index > 0 && m.index % 1000 === 0) process.stderr.write(`fuzz: ${m.index}/${cases} cases, ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
      } else if (m.type === 'failure') {
        process.stdout.write(`fuzz: FAILURE ${describeFailure(m.report)}\n`);
      } else {
        process.stdout.write(`${formatSummary(m.summary)}, ${((Date.now() - started) / 1000).toFixed(0)} s wall\n`);
        finish(m.summary.failures.length > 0 ? 1 : 0);
      }
    });
    child.on('exit', (code, signal) => {
      if (finished) return;
      process.stdout.write(`fuzz: the case runner exited (${signal ?? code}) in case ${current.index} (case seed ${current.caseSeed}); replay: node --import tsx lab/elf/fuzz-cli.ts --replay ${current.caseSeed}\n`);
      finish(1);
    });
    child.send(input);
  });
}
