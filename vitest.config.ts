import { defineConfig } from 'vitest/config';

// Two projects: pure-logic unit tests beside the code (no privileges needed), and integration
// tests that attach real uprobes. Integration files run one at a time: they share the kernel's
// uprobe and perf state, and each starts tracees and may boot VMs.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['lab/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
