// Preloaded into the engine by bench/vsphere.ts when BENCH_CPU_PROF is set (NODE_OPTIONS
// --require; `--cpu-prof` itself is not allowed there): profiles the whole process with the
// inspector and writes a .cpuprofile (Chrome DevTools format) into BENCH_CPU_PROF at exit.
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { join } from "node:path";

const dir = process.env.BENCH_CPU_PROF;
if (dir) {
  const session = new Session();
  session.connect();
  session.post("Profiler.enable");
  session.post("Profiler.setSamplingInterval", { interval: 1000 });
  session.post("Profiler.start");
  process.once("exit", () => {
    // An in-process session answers synchronously, so this works inside "exit".
    session.post("Profiler.stop", (error, result) => {
      if (!error) writeFileSync(join(dir, `engine-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
