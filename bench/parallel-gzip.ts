// Compression throughput of the GCP upload's gzip: one zlib stream (createGzip, level 6, what
// the upload used before) against engine/platforms/gcp parallelGzip, on incompressible data
// (random, the worst case and what bench:upload sends), fed in 1 MiB pieces as the sparse tar
// hands them on, plus the CRC32 parallelGzip takes on the main thread. Prints, asserts nothing.
//
// Command: `npx tsc -p tsconfig.json && npm run bench:gzip`
// Settings: BENCH_ROUNDS (3), BENCH_MIB (440), BENCH_VARIANTS (1: also other block sizes and
// concurrencies; 0: only the defaults).

import { randomBytes } from "node:crypto";
import { cpus, loadavg } from "node:os";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip, crc32 } from "node:zlib";
import { GZIP_BLOCK, gzipConcurrency, parallelGzip, ParallelGzipOptions } from "../engine/platforms/gcp/parallel-gzip";
import { median, MIB, numberKnob, seconds, Series } from "./common";

const ROUNDS = numberKnob("BENCH_ROUNDS", 3);
const SIZE_MIB = numberKnob("BENCH_MIB", 440);
const VARIANTS = numberKnob("BENCH_VARIANTS", 1) !== 0;

async function* pieces(data: Buffer[]): AsyncGenerator<Buffer> {
  yield* data;
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function timed(run: () => Promise<number>): Promise<{ s: number; cpu: number; bytes: number }> {
  const cpu0 = cpuSeconds();
  const t0 = process.hrtime.bigint();
  const bytes = await run();
  return { s: seconds(t0), cpu: cpuSeconds() - cpu0, bytes };
}

async function viaCreateGzip(data: Buffer[]): Promise<number> {
  let bytes = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      done();
    },
  });
  await pipeline(Readable.from(pieces(data), { highWaterMark: 1 }), createGzip({ level: 6 }), sink);
  return bytes;
}

async function viaParallel(data: Buffer[], options: ParallelGzipOptions): Promise<number> {
  let bytes = 0;
  for await (const out of parallelGzip(pieces(data), options)) bytes += out.length;
  return bytes;
}

async function main() {
  console.log(
    `machine: ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")} at start; Node ${process.version}; ` +
      `UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE ?? "(4)"}; default concurrency ${gzipConcurrency()}, block ${GZIP_BLOCK / MIB} MiB`,
  );
  const data = Array.from({ length: SIZE_MIB }, () => randomBytes(MIB));
  const total = SIZE_MIB * MIB;

  const cases: [string, () => Promise<number>][] = [
    ["createGzip level 6 (one thread)", () => viaCreateGzip(data)],
    [`parallelGzip (defaults: ${gzipConcurrency()} at once, 1 MiB blocks)`, () => viaParallel(data, {})],
  ];
  if (VARIANTS) {
    for (const concurrency of [1, 2, 3, 4]) {
      if (concurrency !== gzipConcurrency()) cases.push([`parallelGzip, ${concurrency} at once, 1 MiB blocks`, () => viaParallel(data, { concurrency })]);
    }
    cases.push([`parallelGzip, ${gzipConcurrency()} at once, 128 KiB blocks (pigz's)`, () => viaParallel(data, { blockSize: 128 * 1024 })]);
    cases.push([`parallelGzip, ${gzipConcurrency()} at once, 4 MiB blocks`, () => viaParallel(data, { blockSize: 4 * MIB })]);
  }
  cases.push([
    "zlib.crc32 alone (main thread)",
    async () => {
      let crc = 0;
      for (const d of data) crc = crc32(d, crc);
      return crc === -1 ? 0 : 0;
    },
  ]);

  const series = cases.map(() => new Series());
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, [name, run]] of cases.entries()) {
      const r = await timed(run);
      series[i]!.add(r);
      console.log(`round ${round + 1}: ${name}: ${r.s.toFixed(2)} s, ${(total / MIB / r.s).toFixed(0)} MiB/s, CPU ${r.cpu.toFixed(2)} s, out ${(r.bytes / MIB).toFixed(2)} MiB`);
    }
  }

  const base = series[0]!.med("s");
  console.log(`\n${SIZE_MIB} MiB of random data, ${ROUNDS} round(s), medians; load average at end ${loadavg().map((l) => l.toFixed(2)).join(" ")}\n`);
  console.log("| case | wall | throughput | process CPU | output | vs createGzip |");
  console.log("|---|---|---|---|---|---|");
  for (const [i, [name]] of cases.entries()) {
    const s = series[i]!;
    const wall = s.med("s");
    console.log(
      `| ${name} | ${wall.toFixed(2)} s (${s.list("s")}) | ${(total / MIB / wall).toFixed(0)} MiB/s | ${median(s.values("cpu")).toFixed(2)} s | ` +
        `${s.med("bytes") ? `${(s.med("bytes") / MIB).toFixed(2)} MiB` : "-"} | ${(wall / base).toFixed(2)}x |`,
    );
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
