// Windows guests are prepared by editing their SYSTEM and SOFTWARE hives offline through
// native/hive-edit (libhivex). What the engine writes must read back exactly with libhivex-bin's
// own tools (hivexget, hivexml), leave every other key and value alone, be listed in the change
// record the user reads, reach the file only on commit, and a damaged hive must be refused with
// GUEST_REGISTRY_CORRUPT. The hives are built from a hand-made empty hive and seeded by hivexsh.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, promises as fs, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EngineError } from "../../engine/errors";
import { decodeValue, encodeValue, Hive, hiveEditPath, HiveName, openHive, RegistryChange, RegistryValue } from "../../engine/prepare/windows/registry";
import { HiveEntry, hivexget, hivexsh, hiveTree, rawValue } from "../helpers/hive-oracle";
import { writeMinimalHive } from "../helpers/minimal-hive";

const never = new AbortController().signal;
const COMPUTER_NAME_KEY = "ControlSet001\\Control\\ComputerName\\ComputerName";
const UNINSTALL = "Microsoft\\Windows\\CurrentVersion\\Uninstall";

const SYSTEM_SEED = `
add Select
cd Select
setval 3
Current
dword:1
Default
dword:1
LastKnownGood
dword:1
cd \\ 
add ControlSet001
cd ControlSet001
add Control
add Services
cd Control
add ComputerName
cd ComputerName
add ComputerName
cd ComputerName
setval 1
ComputerName
string:GOLDEN-01
cd \\ 
cd ControlSet001\\Services
add Tcpip
cd Tcpip
setval 2
DependOnService
hex:7:54006300700000000000
Start
dword:1
add Parameters
cd Parameters
setval 3
Hostname
string:golden-01
NV Hostname
string:golden-01
@
string:tcp defaults
cd \\ 
add Setup
cd Setup
setval 3
CmdLine
string:
SetupType
dword:0
SystemSetupInProgress
dword:0`;

const SOFTWARE_SEED = `
add Microsoft
cd Microsoft
add Windows NT
add Windows
cd Windows NT
add CurrentVersion
cd CurrentVersion
setval 5
ProductName
string:Windows Server 2022 Datacenter
CurrentBuild
string:20348
DisplayVersion
string:21H2
EditionID
string:ServerDatacenter
InstallDate
dword:0x61b8a2c0
cd \\ 
cd Microsoft\\Windows
add CurrentVersion
cd CurrentVersion
add Uninstall
cd Uninstall
add OldAgent
add Keep
cd OldAgent
setval 2
DisplayName
string:Old Agent
DisplayVersion
string:1.0
add Components
cd Components
setval 1
Core
dword:1
cd \\ 
cd ${UNINSTALL}\\Keep
setval 1
DisplayName
hex:1:4b0065006500700020006d0065000000
cd \\ 
add Odd
cd Odd
setval 5
NoNul
hex:1:410042004300
OddLength
hex:1:4100420043
BigEndian
hex:5:00000102
MultiNoDoubleNul
hex:7:610000006200
ShortDword
hex:4:01`;

describe("prepare: registry edits through hive-edit read back with hivexget", function () {
  this.timeout(60_000);
  let dir: string;
  let systemSeed: string;
  let softwareSeed: string;

  before(async () => {
    assert.ok(existsSync(hiveEditPath()), `${hiveEditPath()} is missing: run scripts/setup (it compiles native/hive-edit.c)`);
    dir = mkdtempSync(join(tmpdir(), "imageport-hive-"));
    systemSeed = join(dir, "SYSTEM.seed");
    softwareSeed = join(dir, "SOFTWARE.seed");
    await writeMinimalHive(systemSeed);
    await writeMinimalHive(softwareSeed);
    await hivexsh(systemSeed, SYSTEM_SEED);
    await hivexsh(softwareSeed, SOFTWARE_SEED);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  // A failed assertion must not leave a tool running (mocha would wait for it forever).
  const opened: Hive[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((h) => h.close()));
  });
  const open = async (file: string, name: HiveName) => {
    const hive = await openHive(file, name, never);
    opened.push(hive);
    return hive;
  };

  let copies = 0;
  const copyOf = async (seed: string) => {
    const file = join(dir, `hive-${++copies}`);
    await fs.copyFile(seed, file);
    return file;
  };
  const sha256 = async (file: string) => createHash("sha256").update(await fs.readFile(file)).digest("hex");

  it("the hand-made empty hive opens in hivexml and takes keys and values from hive-edit", async () => {
    const file = join(dir, "empty");
    await writeMinimalHive(file);
    assert.deepEqual([...(await hiveTree(file)).keys()], ["\\"]);
    const hive = await open(file, "SYSTEM");
    await hive.set("A\\B", "V", { type: "REG_DWORD", data: 7 });
    await hive.commit();
    await hive.close();
    assert.equal(await hivexget(file, "\\A\\B", "V"), "7\n");
  });

  it("writes each type so that hivexget reads back exactly what was set, and records old and new values", async () => {
    const file = await copyOf(systemSeed);
    const hive = await open(file, "SYSTEM");
    const computerName = "Zürich-Ωmega ✓";
    const cmdLine = "%SystemRoot%\\System32\\cmd.exe /c C:\\imageport\\first-boot.cmd";
    const controllers = ["ddc1.example.com", "ddc2.example.com", "Ünïcode-ddc"];
    const service = "ControlSet001\\Services\\ImageportFirstBoot";
    await hive.set(COMPUTER_NAME_KEY, "ComputerName", { type: "REG_SZ", data: computerName });
    await hive.set("Setup", "CmdLine", { type: "REG_EXPAND_SZ", data: cmdLine });
    await hive.set("Setup", "SetupType", { type: "REG_DWORD", data: 2 });
    await hive.set(`${service}\\Parameters`, "Controllers", { type: "REG_MULTI_SZ", data: controllers });
    await hive.set(service, "Stamp", { type: "REG_QWORD", data: "9007199254740993" }); // 2^53 + 1: no JS number holds it
    await hive.set(service, "", { type: "REG_BINARY", data: "00ff7f80" });
    await hive.commit();
    await hive.close();

    assert.equal(await hivexget(file, `\\${COMPUTER_NAME_KEY}`, "ComputerName"), `${computerName}\n`);
    assert.equal(await hivexget(file, "\\Setup", "CmdLine"), `${cmdLine}\n`);
    assert.equal(await hivexget(file, "\\Setup", "SetupType"), "2\n");
    assert.deepEqual((await hivexget(file, `\\${service}\\Parameters`, "Controllers")).split("\n").filter(Boolean), controllers);
    assert.equal(await hivexget(file, `\\${service}`, "Stamp"), "9007199254740993\n");

    // The exact bytes and type numbers, through the value cells hivexml points at.
    const tree = await hiveTree(file);
    const exact = async (path: string) => rawValue(file, tree.get(path)!.vkOffset);
    const utf16z = (s: string) => Buffer.from(s + "\0", "utf16le");
    assert.deepEqual(await exact(`\\${COMPUTER_NAME_KEY}:ComputerName`), { type: 1, bytes: utf16z(computerName) });
    assert.deepEqual(await exact("\\Setup:CmdLine"), { type: 2, bytes: utf16z(cmdLine) });
    assert.deepEqual(await exact("\\Setup:SetupType"), { type: 4, bytes: Buffer.from([2, 0, 0, 0]) });
    assert.deepEqual(await exact(`\\${service}\\Parameters:Controllers`), { type: 7, bytes: Buffer.concat([...controllers.map(utf16z), Buffer.alloc(2)]) });
    assert.deepEqual(await exact(`\\${service}:Stamp`), { type: 11, bytes: Buffer.from("0100000000002000", "hex") });
    assert.deepEqual(await exact(`\\${service}:`), { type: 3, bytes: Buffer.from("00ff7f80", "hex") });

    const expected: RegistryChange[] = [
      change("SYSTEM", "set-value", COMPUTER_NAME_KEY, "ComputerName", { type: "REG_SZ", data: "GOLDEN-01" }, { type: "REG_SZ", data: computerName }),
      change("SYSTEM", "set-value", "Setup", "CmdLine", { type: "REG_SZ", data: "" }, { type: "REG_EXPAND_SZ", data: cmdLine }),
      change("SYSTEM", "set-value", "Setup", "SetupType", { type: "REG_DWORD", data: 0 }, { type: "REG_DWORD", data: 2 }),
      { hive: "SYSTEM", action: "create-key", key: service },
      { hive: "SYSTEM", action: "create-key", key: `${service}\\Parameters` },
      change("SYSTEM", "set-value", `${service}\\Parameters`, "Controllers", undefined, { type: "REG_MULTI_SZ", data: controllers }),
      change("SYSTEM", "set-value", service, "Stamp", undefined, { type: "REG_QWORD", data: "9007199254740993" }),
      change("SYSTEM", "set-value", service, "", undefined, { type: "REG_BINARY", data: "00ff7f80" }),
    ];
    assert.deepEqual(hive.changes, expected);
    // The record is JSON a user reads.
    assert.equal(
      JSON.stringify(hive.changes[2]),
      '{"hive":"SYSTEM","action":"set-value","key":"Setup","name":"SetupType","old":{"type":"REG_DWORD","data":0},"new":{"type":"REG_DWORD","data":2}}',
    );
    await assertOnlyTouched(systemSeed, file, hive.changes);
  });

  it("deletes values and whole keys, records each removed value and key, and ignores what is missing", async () => {
    const file = await copyOf(softwareSeed);
    const hive = await open(file, "SOFTWARE");
    await hive.deleteValue("Microsoft\\Windows NT\\CurrentVersion", "DisplayVersion");
    await hive.deleteKey(`${UNINSTALL}\\OldAgent`);
    await hive.deleteValue("Microsoft\\Windows NT\\CurrentVersion", "NoSuchValue");
    await hive.deleteValue("No\\Such\\Key", "DisplayVersion");
    await hive.deleteKey(`${UNINSTALL}\\NoSuchAgent`);
    assert.equal(await hive.get("Microsoft\\Windows NT\\CurrentVersion", "DisplayVersion"), undefined);
    assert.equal(await hive.subkeys(`${UNINSTALL}\\OldAgent`), undefined);
    await hive.commit();
    await hive.close();

    assert.deepEqual(hive.changes, [
      change("SOFTWARE", "delete-value", "Microsoft\\Windows NT\\CurrentVersion", "DisplayVersion", { type: "REG_SZ", data: "21H2" }),
      change("SOFTWARE", "delete-value", `${UNINSTALL}\\OldAgent`, "DisplayName", { type: "REG_SZ", data: "Old Agent" }),
      change("SOFTWARE", "delete-value", `${UNINSTALL}\\OldAgent`, "DisplayVersion", { type: "REG_SZ", data: "1.0" }),
      change("SOFTWARE", "delete-value", `${UNINSTALL}\\OldAgent\\Components`, "Core", { type: "REG_DWORD", data: 1 }),
      { hive: "SOFTWARE", action: "delete-key", key: `${UNINSTALL}\\OldAgent\\Components` },
      { hive: "SOFTWARE", action: "delete-key", key: `${UNINSTALL}\\OldAgent` },
    ]);
    await assert.rejects(hivexget(file, "\\Microsoft\\Windows NT\\CurrentVersion", "DisplayVersion"));
    await assert.rejects(hivexget(file, `\\${UNINSTALL}\\OldAgent`, "DisplayName"));
    assert.equal(await hivexget(file, "\\Microsoft\\Windows NT\\CurrentVersion", "ProductName"), "Windows Server 2022 Datacenter\n");
    assert.equal(await hivexget(file, `\\${UNINSTALL}\\Keep`, "DisplayName"), "Keep me\n");
    await assertOnlyTouched(softwareSeed, file, hive.changes);
  });

  it("matches keys and value names case-insensitively and keeps the names as the hive spells them", async () => {
    const file = await copyOf(systemSeed);
    const hive = await open(file, "SYSTEM");
    assert.deepEqual(await hive.get("\\select\\", "CURRENT"), { type: "REG_DWORD", data: 1 });
    await hive.set("SELECT", "current", { type: "REG_DWORD", data: 2 });
    assert.deepEqual(await hive.values("Select"), [
      { name: "Current", type: "REG_DWORD", length: 4 },
      { name: "Default", type: "REG_DWORD", length: 4 },
      { name: "LastKnownGood", type: "REG_DWORD", length: 4 },
    ]);
    assert.deepEqual(await hive.subkeys(""), ["ControlSet001", "Select", "Setup"]);
    // Beyond ASCII too: Windows upper-cases every character, so these name one key and one value.
    await hive.set("Ünïcode Ω\\Sub", "naïve ✓ 100%", { type: "REG_DWORD", data: 1 });
    await hive.set("ünïcode ω\\SUB", "NAÏVE ✓ 100%", { type: "REG_DWORD", data: 3 });
    await hive.set("ÜNÏCODE Ω", "-", { type: "REG_SZ", data: "a value named -" });
    assert.deepEqual(await hive.subkeys("\\"), ["ControlSet001", "Select", "Setup", "Ünïcode Ω"]);
    assert.deepEqual(await hive.values("Ünïcode Ω\\Sub"), [{ name: "naïve ✓ 100%", type: "REG_DWORD", length: 4 }]);
    await hive.commit();
    await hive.close();
    assert.equal(await hivexget(file, "\\Select", "Current"), "2\n");
    assert.equal(await hivexget(file, "\\Ünïcode Ω\\Sub", "naïve ✓ 100%"), "3\n");
    assert.equal(await hivexget(file, "\\Ünïcode Ω", "-"), "a value named -\n");
  });

  it("records nothing for a set of an identical value, and reads odd stored values tolerantly", async () => {
    const file = await copyOf(softwareSeed);
    const hive = await open(file, "SOFTWARE");
    await hive.set("Microsoft\\Windows NT\\CurrentVersion", "ProductName", { type: "REG_SZ", data: "Windows Server 2022 Datacenter" });
    await hive.set("Microsoft\\Windows NT\\CurrentVersion", "InstallDate", { type: "REG_DWORD", data: 0x61b8a2c0 });
    assert.deepEqual(hive.changes, []);
    // The same text as another type is a change.
    await hive.set("Microsoft\\Windows NT\\CurrentVersion", "CurrentBuild", { type: "REG_EXPAND_SZ", data: "20348" });
    assert.equal(hive.changes.length, 1);

    assert.deepEqual(await hive.get("Odd", "NoNul"), { type: "REG_SZ", data: "ABC" });
    assert.deepEqual(await hive.get("Odd", "OddLength"), { type: "REG_SZ", data: "AB" });
    assert.deepEqual(await hive.get("Odd", "BigEndian"), { type: "REG_DWORD_BIG_ENDIAN", data: 258 });
    assert.deepEqual(await hive.get("Odd", "MultiNoDoubleNul"), { type: "REG_MULTI_SZ", data: ["a", "b"] });
    assert.deepEqual(await hive.get("Odd", "ShortDword"), { type: "REG_DWORD", data: 1 });
    assert.equal(await hive.get("Odd", "Missing"), undefined);
    assert.equal(await hive.get("No\\Such\\Key", "NoNul"), undefined);
    await hive.close();
  });

  it("leaves the file byte for byte as it was when the hive is closed without commit", async () => {
    const file = await copyOf(systemSeed);
    const before = await sha256(file);
    const hive = await open(file, "SYSTEM");
    await hive.set("Setup", "SetupType", { type: "REG_DWORD", data: 1 });
    await hive.set("New\\Key", "Value", { type: "REG_SZ", data: "x" });
    await hive.deleteKey("ControlSet001\\Services\\Tcpip");
    await hive.deleteValue("Select", "Current");
    assert.deepEqual(await hive.get("Setup", "SetupType"), { type: "REG_DWORD", data: 1 }); // seen inside the session
    await hive.close();
    assert.equal(await sha256(file), before);
    assert.equal(await hivexget(file, "\\Setup", "SetupType"), "0\n");
  });

  it("stops the tool when the job is cancelled: later edits fail with the cancellation and the file stays as it was", async () => {
    const file = await copyOf(systemSeed);
    const before = await sha256(file);
    const cancel = new AbortController();
    const hive = await openHive(file, "SYSTEM", cancel.signal);
    opened.push(hive);
    await hive.set("Setup", "SetupType", { type: "REG_DWORD", data: 1 });
    const reason = new Error("job cancelled");
    cancel.abort(reason);
    await assert.rejects(hive.commit(), (e: unknown) => e === reason);
    await hive.close();
    assert.equal(await sha256(file), before);
  });

  it("round-trips every value shape through its bytes and refuses values it cannot store", () => {
    const values: RegistryValue[] = [
      { type: "REG_SZ", data: "" },
      { type: "REG_EXPAND_SZ", data: "%ProgramFiles%\\Ω" },
      { type: "REG_MULTI_SZ", data: [] },
      { type: "REG_DWORD", data: 0xffffffff },
      { type: "REG_DWORD_BIG_ENDIAN", data: 0x01020304 },
      { type: "REG_QWORD", data: "18446744073709551615" },
      { type: "REG_BINARY", data: "" },
      { type: "REG_NONE", data: "ab" },
      { type: "REG_TYPE_4660", data: "0102" },
    ];
    for (const value of values) {
      const { type, bytes } = encodeValue(value);
      assert.deepEqual(decodeValue(type, bytes), value);
    }
    const refused: RegistryValue[] = [
      { type: "REG_SZ", data: "a\0b" },
      { type: "REG_MULTI_SZ", data: ["a", ""] },
      { type: "REG_DWORD", data: -1 },
      { type: "REG_DWORD", data: 1.5 },
      { type: "REG_QWORD", data: "18446744073709551616" },
      { type: "REG_BINARY", data: "abc" },
    ];
    for (const value of refused) assert.throws(() => encodeValue(value), (e: unknown) => e instanceof EngineError && e.code === "GUEST_EDIT_FAILED", JSON.stringify(value));
  });

  it("refuses a truncated hive, a bad magic and a flipped checksum byte with GUEST_REGISTRY_CORRUPT, writing nothing", async () => {
    const damages: Record<string, (b: Buffer) => Buffer> = {
      truncated: (b) => b.subarray(0, b.length - 4096),
      "cut inside a bin": (b) => b.subarray(0, 4096 + 1000),
      "bad magic": (b) => Buffer.concat([Buffer.from("rEgf"), b.subarray(4)]),
      "flipped checksum byte": (b) => {
        const c = Buffer.from(b);
        c[0x1fc] ^= 0x40;
        return c;
      },
      "not a hive at all": () => Buffer.from("Windows Registry Editor Version 5.00\r\n"),
    };
    const good = await fs.readFile(softwareSeed);
    assert.ok(good.length > 8192, "the seeded hive has more than one bin");
    for (const [damage, make] of Object.entries(damages)) {
      const file = join(dir, `damaged-${damage.replace(/ /g, "-")}`);
      const bytes = make(good);
      await fs.writeFile(file, bytes);
      await assert.rejects(openHive(file, "SOFTWARE", never), (e: unknown) => {
        assert.ok(e instanceof EngineError, `${damage}: ${String(e)}`);
        assert.equal(e.code, "GUEST_REGISTRY_CORRUPT", `${damage}: ${e.message}`);
        assert.match(e.message, /SOFTWARE registry hive/);
        return true;
      });
      assert.deepEqual(await fs.readFile(file), bytes, damage);
    }
    await assert.rejects(openHive(join(dir, "no-such-hive"), "SYSTEM", never), (e: unknown) => e instanceof EngineError && e.code === "GUEST_EDIT_FAILED");
  });
});

function change(hive: HiveName, action: RegistryChange["action"], key: string, name: string, old?: RegistryValue, value?: RegistryValue): RegistryChange {
  return { hive, action, key, name, ...(old ? { old } : {}), ...(value ? { new: value } : {}) };
}

/**
 * Every key and value of `before` but those the changes name is in `after` as it was (as hivexml
 * shows it and byte for byte), and nothing else is new.
 */
async function assertOnlyTouched(beforeFile: string, afterFile: string, changes: readonly RegistryChange[]): Promise<void> {
  const touched = new Set(changes.map((c) => (c.name === undefined ? `\\${c.key}` : `\\${c.key}:${c.name}`)));
  const untouched = async (file: string, tree: Map<string, HiveEntry | undefined>) => {
    const kept = new Map<string, unknown>();
    for (const [path, entry] of tree) {
      if (!touched.has(path)) kept.set(path, entry && { type: entry.type, value: entry.value, raw: await rawValue(file, entry.vkOffset) });
    }
    return kept;
  };
  const before = await hiveTree(beforeFile);
  const after = await hiveTree(afterFile);
  assert.deepEqual(await untouched(afterFile, after), await untouched(beforeFile, before));
  for (const c of changes) {
    const path = c.name === undefined ? `\\${c.key}` : `\\${c.key}:${c.name}`;
    assert.equal(after.has(path), c.action === "set-value" || c.action === "create-key", `${c.action} ${path}`);
  }
}
