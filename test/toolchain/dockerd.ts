/**
 * A Docker daemon for tests: the running one if it answers, otherwise a private dockerd
 * started here (own socket, data root and exec root in a temporary directory, no iptables,
 * no bridge: build containers need no network) and stopped again by {@link DockerDaemon.stop}.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { execa } from 'execa';
import { connectDocker, defaultDockerSocket } from '../../lab/toolchain/docker.ts';

/** A daemon the tests may use. */
export interface DockerDaemon {
  readonly docker: Docker;
  /** True when this process started the daemon (and so will stop it). */
  readonly started: boolean;
  /** Stops the daemon if this process started it and removes its files; otherwise nothing. */
  stop(): Promise<void>;
}

/** Either a daemon, or the reason none could be had (for the skip message). */
export type DaemonOutcome = { readonly ok: true; readonly daemon: DockerDaemon } | { readonly ok: false; readonly reason: string };

const START_TIMEOUT_MS = 60_000;

/** Connects to the running daemon, or starts a private one. */
export async function obtainDockerDaemon(): Promise<DaemonOutcome> {
  try {
    const docker = await connectDocker({ socketPath: defaultDockerSocket(), timeoutMs: 3_000 });
    return { ok: true, daemon: { docker, started: false, stop: async () => undefined } };
  } catch {
    // Nothing answers: start one below.
  }
  const which = await execa('sh', ['-c', 'command -v dockerd'], { reject: false });
  if (which.exitCode !== 0) return { ok: false, reason: 'dockerd is not installed (apt-get install docker.io)' };

  const dir = await mkdtemp(path.join(os.tmpdir(), 'golab-dockerd-'));
  const socketPath = path.join(dir, 'docker.sock');
  const logFile = path.join(dir, 'dockerd.log');
  const { openSync, closeSync } = await import('node:fs');
  const log = openSync(logFile, 'a');
  const child: ChildProcess = spawn(
    which.stdout.trim(),
    [
      `--host=unix://${socketPath}`,
      `--data-root=${path.join(dir, 'data')}`,
      `--exec-root=${path.join(dir, 'exec')}`,
      `--pidfile=${path.join(dir, 'docker.pid')}`,
      '--iptables=false',
      '--ip6tables=false',
      '--bridge=none',
    ],
    { stdio: ['ignore', log, log] },
  );
  closeSync(log);
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });

  const stop = async (): Promise<void> => {
    if (!exited) {
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM'); // dockerd stops its containers and its managed containerd
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await gone;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (exited) {
      const tail = (await readFile(logFile, 'utf8').catch(() => '')).trim().split('\n').slice(-3).join(' | ');
      await stop();
      return { ok: false, reason: `dockerd exited at start: ${tail}` };
    }
    try {
      const docker = await connectDocker({ socketPath, timeoutMs: 2_000 });
      return { ok: true, daemon: { docker, started: true, stop } };
    } catch {
      if (Date.now() > deadline) {
        await stop();
        return { ok: false, reason: `dockerd did not answer on ${socketPath} within ${START_TIMEOUT_MS / 1000} s` };
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}
