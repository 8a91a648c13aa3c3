// Benchmark (not a test): export a 2 GiB disk holding ~440 MiB of data to VHDX, through the
// engine, on a local share and on a Samba share, against `qemu-img convert` of the same disk
// measured in the same run. Run: `npm run bench` (after scripts/setup). Prints figures only.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Job } from "../client/jobs";
import { waitForJob } from "../client/waiter";
import { makeSparseDisk } from "../test/helpers/disks";
import { EngineProcess } from "../test/helpers/engine-process";
import { startSamba, unixUserName } from "../test/helpers/samba";

const MIB = 1024 * 1024;
const VIRTUAL = 2048 * MIB;
const DATA = 440 * MIB;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Peak resident memory of a process, from /proc (kB -> MiB). */
function peakRssMiB(pid: number): number {
  const kb = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return Number(kb) / 1024;
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "imageport-bench-"));
  const input = join(root, "in");
  const local = join(root, "local-share");
  const share = join(root, "smb-share");
  for (const d of [input, local, share]) mkdirSync(d);
  execFileSync("chmod", ["0777", share]);
  const user = { username: unixUserName(), password: "bench-password" };
  const samba = await startSamba({ shares: { images: share }, users: [user] });
  const engine = await EngineProcess.start();
  try {
    const source = join(input, "golden.qcow2");
    await makeSparseDisk({ path: source, format: "qcow2", virtualSize: VIRTUAL, dataBytes: DATA, seed: "bench", chunk: MIB });
    console.log(`source: ${source}: qcow2, virtual ${VIRTUAL / MIB} MiB, data ${DATA / MIB} MiB, file ${(statSync(source).size / MIB).toFixed(0)} MiB`);

    const authFile = join(root, "smb-auth");
    writeFileSync(authFile, `username = ${user.username}\npassword = ${user.password}\n`, { mode: 0o600 });
    const client = engine.client();
    await client.credentials.create("bench-smb", { type: "UsernamePassword", ...user } as never);

    const baseline: number[] = [];
    const viaLocal: number[] = [];
    const viaSmb: number[] = [];
    const baselinePut: number[] = [];
    const baselineSync: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // Baseline: the conversion alone, as a user would run it by hand.
      const out = join(root, `baseline-${round}.vhdx`);
      let t = process.hrtime.bigint();
      execFileSync("qemu-img", ["convert", "-f", "qcow2", "-O", "vhdx", "-o", "subformat=dynamic", source, out]);
      baseline.push(seconds(t));
      // The engine makes its output durable before naming it: conversion + fsync, for reference.
      t = process.hrtime.bigint();
      execFileSync("sync", [out]);
      baselineSync.push(baseline[round]! + seconds(t));
      // Baseline for the share: conversion, then smbclient put.
      t = process.hrtime.bigint();
      execFileSync("smbclient", [`//127.0.0.1/images`, "-p", String(samba.port), "-m", "SMB3", "-A", authFile, "-c", `put ${out} baseline-${round}.vhdx`], { stdio: "ignore" });
      baselinePut.push(baseline[round]! + seconds(t));
      rmSync(out);

      for (const [target, times] of [
        [{ location: pathToFileURL(local).href + "/" }, viaLocal],
        [{ location: samba.location("images"), credentialId: "bench-smb" }, viaSmb],
      ] as const) {
        t = process.hrtime.bigint();
        const job = (await client.jobs.start("export", {
          inputStorageLocation: { location: pathToFileURL(input).href + "/" },
          inputImageFilename: "golden.qcow2",
          outputStorageLocation: target,
          outputImageFilename: `export-${round}.vhdx`,
          outputImageFormat: "vhdx",
        })) as Job;
        const result = await waitForJob(client.jobs, job.id, { maxWaitMs: 600_000, minDelayMs: 50, maxDelayMs: 200 });
        if (result.last?.status !== "complete") throw new Error(`export failed: ${JSON.stringify(result.last?.error)}`);
        times.push(seconds(t));
      }
      rmSync(join(local, `export-${round}.vhdx`));
      rmSync(join(share, `export-${round}.vhdx`));
      rmSync(join(share, `baseline-${round}.vhdx`));
    }

    const b = median(baseline);
    const row = (name: string, values: number[], base = b) =>
      console.log(`${name.padEnd(44)} median ${median(values).toFixed(2)} s  (${values.map((v) => v.toFixed(2)).join(", ")})  ratio ${(median(values) / base).toFixed(2)}x`);
    console.log(`\n${ROUNDS} rounds on ${require("node:os").cpus().length} cores; ratio = median / median of qemu-img convert`);
    row("qemu-img convert -O vhdx (baseline)", baseline);
    row("qemu-img convert + fsync of the output", baselineSync);
    row("engine export to VHDX, local share", viaLocal);
    row("engine export to VHDX, Samba share", viaSmb);
    row("qemu-img convert + smbclient put", baselinePut);
    console.log(`${"engine export, Samba share vs convert+put".padEnd(44)} ratio ${(median(viaSmb) / median(baselinePut)).toFixed(2)}x`);
    console.log(`engine process peak RSS: ${peakRssMiB(engine.child.pid!).toFixed(0)} MiB (disk data ${DATA / MIB} MiB)`);
  } finally {
    await engine.stop();
    await samba.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
