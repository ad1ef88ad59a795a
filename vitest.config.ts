import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Integration tests share one OpenSearch node and one Redis: run files one at a time so that
    // timings and index state do not interfere.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
