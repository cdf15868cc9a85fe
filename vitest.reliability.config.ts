import { defineConfig } from "vitest/config";

// The reliability suite: the real daemon as a child process under crashes, a full
// or read-only disk, a misbehaving registry and a long run (docs/reliability.md).
// Files run one at a time: each loads the machine on purpose, and a soak's memory
// figures mean nothing beside another test's daemon.
export default defineConfig({
  test: {
    name: "reliability",
    include: ["test/reliability/**/*.test.ts"],
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 60_000,
  },
});
