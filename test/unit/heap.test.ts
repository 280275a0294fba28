import { describe, expect, it } from 'vitest';
import { tuneHeapGrowth } from '../../src/heap.js';

// Its effect (peak RSS of a server running /set batches) is measured by the bench: bench/README.md, round 6.
describe('heap growth', () => {
  it('leaves the heap alone when the operator sized it, on the command line or in NODE_OPTIONS', () => {
    expect(tuneHeapGrowth(['--max-old-space-size=512'], '')).toBe(false);
    expect(tuneHeapGrowth([], '--enable-source-maps --heap-growing-percent=300')).toBe(false);
    expect(tuneHeapGrowth([], '--max_old_space_size=2048')).toBe(false);
    expect(tuneHeapGrowth(['--optimize-for-size'], '')).toBe(false);
  });

  it('applies itself otherwise', () => {
    expect(tuneHeapGrowth(['--enable-source-maps'], '--trace-warnings')).toBe(true);
  });
});
