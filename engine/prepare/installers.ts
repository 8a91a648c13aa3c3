// Installers the job stages into the guest, each run once at first boot in INSTALL_ORDER with
// the silent switches of its kind: .msi through msiexec /qn, .exe with /quiet /norestart (the
// switches of Citrix's installers), .ps1 through PowerShell; .deb through apt-get, .rpm through
// rpm, .sh through sh.

import * as nodePath from "node:path";
import { jobFailure } from "../errors";
import { RecordingVolume } from "./change-record";
import { cmdQuote, FirstBootStep, LINUX_DIR, WINDOWS_DIR } from "./first-boot";
import { StagedInstaller } from "./request";

export const INSTALLER_EXTENSIONS = { windows: [".msi", ".exe", ".ps1"], linux: [".deb", ".rpm", ".sh"] };

/** Copies each installer into the guest and returns its first-boot step (Windows or Linux). */
export async function stageInstallers(volume: RecordingVolume, installers: StagedInstaller[], os: "windows" | "linux"): Promise<FirstBootStep[]> {
  if (installers.length === 0) return [];
  const dir = `${os === "windows" ? WINDOWS_DIR : LINUX_DIR}/installers`;
  await volume.mkdirs(dir);
  const steps: FirstBootStep[] = [];
  for (const installer of installers) {
    await volume.writeFile(`${dir}/${installer.fileName}`, installer.data, 0o600);
    steps.push({ name: `install-${installer.kind}`, command: installCommand(installer.fileName, os), needsRestart: true });
  }
  return steps;
}

export function installCommand(fileName: string, os: "windows" | "linux"): string {
  const ext = nodePath.extname(fileName).toLowerCase();
  if (os === "windows") {
    const path = `%SystemRoot%\\imageport\\installers\\${fileName}`;
    if (ext === ".msi") return `msiexec.exe /i ${cmdQuote(path)} /qn /norestart /l*v ${cmdQuote(path + ".log")}`;
    if (ext === ".exe") return `${cmdQuote(path)} /quiet /norestart`;
    if (ext === ".ps1") return `powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -File ${cmdQuote(path)}`;
  } else {
    const path = `"$D/installers/${fileName}"`;
    if (ext === ".deb") return `env DEBIAN_FRONTEND=noninteractive apt-get install -y ${path}`;
    if (ext === ".rpm") return `rpm -Uvh ${path}`;
    if (ext === ".sh") return `sh ${path}`;
  }
  throw jobFailure("GUEST_EDIT_FAILED", `The installer '${fileName}' cannot run in a ${os === "windows" ? "Windows" : "Linux"} guest: use ${os === "windows" ? ".msi, .exe or .ps1" : ".deb, .rpm or .sh"}.`);
}

