/**
 * Runs the benches (`npm run bench`, or `npm run bench -- pull` for some of them) one after
 * another and closes with each one's verdict. Exits 1 when a bench errs or misses its goal.
 * A new bench is a module under scripts/bench/ exporting a function that returns a BenchResult,
 * listed in BENCHES below.
 */
import { ecrBench } from './bench/ecr.ts';
import { gcpBench } from './bench/gcp.ts';
import { cappedBench, latencyBench, pullBench } from './bench/pull.ts';
import { mixedPullBench } from './bench/pull-mixed.ts';
import { refreshBench } from './bench/refresh.ts';
import type { Bench, BenchResult } from './bench/types.ts';

export const BENCHES: readonly Bench[] = [
  { name: 'pull', run: () => pullBench() },
  { name: 'pull-mixed', run: () => mixedPullBench() },
  // The pieces of `pull`, one at a time.
  { name: 'pull-latency', run: () => latencyBench({}) },
  { name: 'pull-capped', run: () => cappedBench({}) },
  { name: 'ecr', run: () => ecrBench() },
  { name: 'gcp', run: () => gcpBench() },
  { name: 'refresh', run: () => refreshBench() },
];

async function main(argv: readonly string[]): Promise<number> {
  const unknown = argv.filter((name) => !BENCHES.some((bench) => bench.name === name));
  if (unknown.length > 0) {
    console.error(`unknown bench ${unknown.join(', ')}; known: ${BENCHES.map((bench) => bench.name).join(', ')}`);
    return 2;
  }
  // With no names: every bench once (`pull` already holds pull-latency and pull-capped).
  const selected = argv.length === 0 ? BENCHES.filter((bench) => bench.name !== 'pull-latency' && bench.name !== 'pull-capped') : BENCHES.filter((bench) => argv.includes(bench.name));
  const results: BenchResult[] = [];
  let failed = false;
  for (const bench of selected) {
    console.log(`\n== bench ${bench.name}`);
    const started = Date.now();
    try {
      results.push(await bench.run());
    } catch (error) {
      failed = true;
      results.push({ name: bench.name, verdict: `${bench.name}: error: ${error instanceof Error ? error.message : String(error)}`, met: false });
    }
    console.log(`(bench ${bench.name} took ${((Date.now() - started) / 1000).toFixed(0)} s)`);
  }
  console.log('\n== verdicts');
  for (const result of results) console.log(result.verdict);
  return failed || results.some((result) => !result.met) ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
