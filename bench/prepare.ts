// Benchmark (not a test): `$prepare` of a guest disk against `$export` (a verified copy) of the
// same disk in the same run, on the same engine. The disk: a 2 GiB-virtual qcow2 whose GPT
// holds an ext4 Linux root (BENCH_PREPARE_OS=linux, default) or an NTFS Windows volume with
// real hives (windows), filled with ~500 MiB of seeded random files. Both jobs read it from a
// local file:// directory and write a dynamic VHDX; the prepare job also finds the guest,
// reads its facts, writes the VDA controllers, a first-boot script and the change record.
// Goal: prepare <= 1.2x export (the ratio of the medians). Rounds alternate which job goes
// first; medians are printed with every round's value. It fails only when a job fails.
//
// Run: `npx tsc -p tsconfig.json && npm run bench:prepare` (after scripts/setup).
// Settings: BENCH_ROUNDS (7), BENCH_PREPARE_OS (linux | windows), BENCH_PREPARE_DATA_MIB (500),
// BENCH_DEADLINE_S (1200).

import { execFileSync } from "node:child_process";
import { createCipheriv, createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { EngineProcess } from "../test/helpers/engine-process";
import { makeWindowsImage } from "../test/helpers/guest-images";
import { Cleanups, median, MIB, numberKnob, runJob, TimedJob } from "./common";

const ROUNDS = Math.floor(numberKnob("BENCH_ROUNDS", 7));
const DATA = numberKnob("BENCH_PREPARE_DATA_MIB", 500) * MIB;
const OS = process.env.BENCH_PREPARE_OS ?? "linux";
const DEADLINE_MS = numberKnob("BENCH_DEADLINE_S", 1200) * 1000;
const VIRTUAL = 2048 * MIB;
const GOAL = 1.2;

const sbin = (name: string) => ["/usr/sbin", "/sbin"].map((d) => join(d, name)).find((p) => existsSync(p)) ?? name;

/** Seeded random files of 8 MiB (AES-CTR keystream), `bytes` in all, under dir/data. */
function writeData(dir: string, bytes: number): void {
  const key = createHash("sha256").update("bench/prepare").digest().subarray(0, 16);
  const cipher = createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
  mkdirSync(join(dir, "data"), { recursive: true });
  for (let i = 0, left = bytes; left > 0; i++, left -= 8 * MIB) writeFileSync(join(dir, "data", `file-${i}.bin`), cipher.update(Buffer.alloc(Math.min(8 * MIB, left))));
}

/** A GPT disk with an ext4 root at 1 MiB (mke2fs -d writes the tree in place, no root needed). */
function linuxDisk(work: string): string {
  const tree = join(work, "tree");
  mkdirSync(join(tree, "etc"), { recursive: true });
  mkdirSync(join(tree, "usr/bin"), { recursive: true });
  writeFileSync(join(tree, "etc/os-release"), 'PRETTY_NAME="Bench Linux"\nVERSION_ID="1"\nID=bench\n');
  writeFileSync(join(tree, "etc/hostname"), "bench\n");
  writeFileSync(join(tree, "etc/machine-id"), "0123456789abcdef0123456789abcdef\n");
  writeData(join(tree, "srv"), DATA);
  const raw = join(work, "disk.raw");
  writeFileSync(raw, "");
  execFileSync("truncate", ["-s", String(VIRTUAL), raw]);
  execFileSync(sbin("sfdisk"), ["--quiet", raw], { input: "label: gpt\nstart=2048, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n" });
  const blocks = (VIRTUAL - 2 * MIB) / 4096;
  execFileSync(sbin("mke2fs"), ["-q", "-F", "-t", "ext4", "-b", "4096", "-E", `offset=${MIB}`, "-d", tree, raw, String(blocks)]);
  rmSync(tree, { recursive: true, force: true });
  return raw;
}

async function windowsDisk(work: string): Promise<string> {
  // The guest-image helper's Windows volume is small; this one holds the data as well.
  const extra = join(work, "extra");
  writeData(extra, DATA);
  const image = await makeWindowsImage(work, "bench-windows", { scheme: "gpt", vdaVersion: "2203.0.0.1000", extraTree: extra, volumeMiB: 2000 });
  rmSync(extra, { recursive: true, force: true });
  return image.path;
}

function fmt(values: number[]): string {
  return `${median(values).toFixed(2)} s (${values.map((v) => v.toFixed(2)).join(", ")})`;
}

const cleanups = new Cleanups();
cleanups.main("bench/prepare", DEADLINE_MS, async () => {
  const work = mkdtempSync(join(tmpdir(), "imageport-bench-prepare-"));
  cleanups.add("work directory", () => rmSync(work, { recursive: true, force: true }));
  const input = join(work, "input");
  const output = join(work, "output");
  mkdirSync(input);
  mkdirSync(output);
  console.log(`bench/prepare: ${OS} guest, ${VIRTUAL / MIB} MiB virtual, ${DATA / MIB} MiB of data; ${cpus().length} cores, load ${loadavg()[0]!.toFixed(2)}`);
  const raw = OS === "windows" ? await windowsDisk(work) : linuxDisk(work);
  execFileSync("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", raw, join(input, "guest.qcow2")]);
  rmSync(raw);

  const engine = await EngineProcess.start();
  cleanups.add("engine", () => engine.stop());
  const location = (dir: string) => ({ location: pathToFileURL(dir).href + "/" });
  const common = { inputStorageLocation: location(input), inputImageFilename: "guest.qcow2", outputStorageLocation: location(output) };
  const exportJob = (round: number) => runJob(engine, "export", { ...common, outputImageFilename: `export-${round}.vhdx` }, DEADLINE_MS);
  const prepareJob = (round: number) =>
    runJob(
      engine,
      "prepare",
      {
        ...common,
        outputImageFilename: `prepare-${round}.vhdx`,
        provisioningType: "Mcs",
        xdReconfigure: [{ ParameterName: "controllers", ParameterValue: "ddc1.bench.example.com" }],
        domainUnjoin: true,
      },
      DEADLINE_MS,
    );

  const times = { export: [] as number[], prepare: [] as number[], prepareStep: [] as number[], exportConvert: [] as number[], prepareConvert: [] as number[], ratio: [] as number[] };
  let last: TimedJob | undefined;
  for (let round = 0; round < ROUNDS; round++) {
    const first = round % 2 === 0 ? "export" : "prepare";
    const a = first === "export" ? await exportJob(round) : await prepareJob(round);
    const b = first === "export" ? await prepareJob(round) : await exportJob(round);
    const [exp, prep] = first === "export" ? [a, b] : [b, a];
    times.export.push(exp.total);
    times.prepare.push(prep.total);
    times.prepareStep.push(prep.steps["step.prepare"] ?? NaN);
    times.exportConvert.push(exp.steps["step.convert"] ?? NaN);
    times.prepareConvert.push(prep.steps["step.convert"] ?? NaN);
    times.ratio.push(prep.total / exp.total);
    last = prep;
    rmSync(join(output, `export-${round}.vhdx`));
    rmSync(join(output, `prepare-${round}.vhdx`));
  }
  const changed = (last?.job.additionalInfo.artifacts as Record<string, unknown>).guestChangedBytes as number;
  // The ratio of the medians: single rounds vary with the disk's writeback far more than the two jobs differ.
  const ratio = median(times.prepare) / median(times.export);
  console.log("");
  console.log("| figure | value |");
  console.log("|---|---|");
  console.log(`| \`$export\` to dynamic VHDX, submit -> complete | ${fmt(times.export)} |`);
  console.log(`| \`$prepare\` (Mcs, controllers, domain unjoin) to dynamic VHDX, submit -> complete | ${fmt(times.prepare)} |`);
  console.log(`| of which the "prepare" step (find the guest, facts, edits, record) | ${fmt(times.prepareStep)} |`);
  console.log(`| the "convert" step (copy, proof; for prepare also the edits written over the copy and read back): export / prepare | ${fmt(times.exportConvert)} / ${fmt(times.prepareConvert)} |`);
  console.log(`| bytes the guest edits rewrote (the overlay) | ${(changed / MIB).toFixed(2)} MiB |`);
  console.log(`| **prepare / export**, medians (goal <= ${GOAL}x) | **${ratio.toFixed(2)}x** (rounds: ${times.ratio.map((r) => r.toFixed(2)).join(", ")}) |`);
});
