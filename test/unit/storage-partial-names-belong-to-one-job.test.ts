import assert from "node:assert/strict";
import { EngineError } from "../../engine/errors";
import { checkJobId, isPartialOf, partialName } from "../../engine/platforms/partial-names";

describe("storage: temporary names carry the job id and fit the file system", () => {
  it("names a partial .<name>.<jobId>.partial and recognises only that job's", () => {
    assert.equal(partialName("disk.vhdx", "job-1"), ".disk.vhdx.job-1.partial");
    assert.ok(isPartialOf(".disk.vhdx.job-1.partial", "job-1"));
    assert.ok(!isPartialOf(".disk.vhdx.job-12.partial", "job-1"));
    assert.ok(!isPartialOf(".disk.vhdx.xjob-1.partial", "job-1"));
    assert.ok(!isPartialOf("disk.vhdx.job-1.partial", "job-1"));
    assert.ok(!isPartialOf(".job-1.partial", "job-1"));
  });

  it("shortens partials of long names to 255 bytes, keeping two long names of one job apart", () => {
    const jobId = "0f8c3a52-8d4e-4b8f-9b0e-3f1c2d4e5f60";
    const stem = "é".repeat(120); // 240 bytes
    const a = partialName(`${stem}.vhdx`, jobId);
    const b = partialName(`${stem}.pvp`, jobId);
    for (const p of [a, b]) {
      assert.ok(Buffer.byteLength(p, "utf8") <= 255, `${Buffer.byteLength(p)} bytes`);
      assert.ok(isPartialOf(p, jobId));
      assert.ok(!p.includes("\ufffd"), "no character cut in half");
    }
    assert.notEqual(a, b);
  });

  it("refuses job ids that could escape a file name or a wildcard", () => {
    for (const id of ["", "../x", "a*b", "a b", "a;b", "x".repeat(65)]) {
      assert.throws(() => checkJobId(id), (e: EngineError) => e.code === "INTERNAL", id);
    }
  });
});
