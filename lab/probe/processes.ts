/** Which running processes execute a given binary (a uprobe on a path hits them all). */
import { readdirSync, realpathSync, statSync } from 'node:fs';

/** PIDs whose executable is `binaryPath` (same file: device and inode), excluding this process. */
export function processesRunning(binaryPath: string): number[] {
  let target;
  try {
    target = statSync(realpathSync(binaryPath));
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const exe = statSync(`/proc/${entry}/exe`);
      if (exe.dev === target.dev && exe.ino === target.ino) pids.push(pid);
    } catch {
      // Gone, or a kernel thread.
    }
  }
  return pids;
}
