import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO_ROOT } from "../helpers/paths";

/** DESIGN's layout has a Pulumi.yaml at the top: the repository root is the quickstart project. */
describe("the repository root is a Pulumi project (the quickstart)", function () {
  this.timeout(300_000);

  it("previews the quickstart's export, prepare and publish from the root, with no engine needed for a preview", () => {
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "root-project-"));
    try {
      // Own backend and stack config outside the checkout: the test leaves the root as it found it.
      const env = { ...process.env, PULUMI_BACKEND_URL: `file://${scratch}`, PULUMI_HOME: path.join(scratch, "home") };
      const pulumi = (...args: string[]) =>
        execFileSync(path.join(REPO_ROOT, "scripts/pulumi-env"), ["pulumi", "--non-interactive", "--color=never", ...args], { cwd: REPO_ROOT, env, encoding: "utf8", stdio: "pipe" });
      const config = path.join(scratch, "stack.yaml");
      pulumi("stack", "init", "root-check");
      pulumi("config", "set", "imageDir", scratch, "--config-file", config);
      const preview = pulumi("preview", "--config-file", config);
      for (const resource of ["ExportJob golden-export", "PrepareJob golden-pvs", "PublishJob golden-vdisk"]) assert.match(preview, new RegExp(`imageport:index:${resource} create`));
      assert.match(preview, /\+ 4 to create/);
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });
});
