import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { SmbCredential } from "./credential";

// smbclient reads the password from an authentication file (`-A`), so it is never in an argv
// (visible in ps) or in the environment. The file lives in a fresh 0700 directory, is created
// 0600, and is deleted as soon as smbclient exits.

export function authFileContent(credential: SmbCredential): string {
  const lines = [`username=${credential.username}`, `password=${credential.password}`];
  if (credential.domain) lines.push(`domain=${credential.domain}`);
  return `${lines.join("\n")}\n`;
}

export async function withAuthFile<T>(credential: SmbCredential, use: (file: string) => Promise<T>): Promise<T> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), "imageport-smb-"));
  try {
    const file = path.join(dir, "auth");
    await fs.promises.writeFile(file, authFileContent(credential), { mode: 0o600, flag: "wx" });
    return await use(file);
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}
