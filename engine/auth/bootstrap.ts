import { randomUUID } from "node:crypto";
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ApiClientStore } from "../store/api-client-store";
import { generateClientSecret, hashClientSecret, verifyClientSecret } from "./client-secret";

export const CLIENT_FILE = "client.json";

export interface ClientFile {
  customerId: string;
  clientId: string;
  clientSecret: string;
}

/**
 * Makes sure the engine has a working API client for `customerId` and that <dataDir>/client.json
 * holds it (the CLI and the provider read that file). With `fixed`, that client id and secret are
 * used (tests); otherwise the existing file is kept if it still authenticates, else a new client is made.
 */
export async function ensureBootstrapClient(
  dataDir: string,
  customerId: string,
  clients: ApiClientStore,
  fixed?: { clientId: string; clientSecret: string },
): Promise<ClientFile> {
  const file = join(dataDir, CLIENT_FILE);
  if (fixed) {
    const client = { customerId, ...fixed };
    await register(clients, client);
    writeClientFile(file, client);
    return client;
  }
  const existing = readClientFile(file);
  if (existing && existing.customerId === customerId) {
    const stored = await clients.find(existing.clientId);
    if (stored?.customerId === customerId && (await verifyClientSecret(existing.clientSecret, stored.secretHash))) {
      return existing;
    }
  }
  // First start, a changed customer id, or a lost/edited file: the secret cannot be recovered
  // from its hash, so issue a new client. Clients issued earlier keep working.
  const client = { customerId, clientId: randomUUID(), clientSecret: generateClientSecret() };
  await register(clients, client);
  writeClientFile(file, client);
  return client;
}

async function register(clients: ApiClientStore, client: ClientFile): Promise<void> {
  const secretHash = await hashClientSecret(client.clientSecret);
  await clients.put({ clientId: client.clientId, customerId: client.customerId, secretHash });
}

function readClientFile(file: string): ClientFile | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const parsed = JSON.parse(readFileSync(file, "utf8")) as Partial<ClientFile>;
    const { customerId, clientId, clientSecret } = parsed;
    if (typeof customerId === "string" && typeof clientId === "string" && typeof clientSecret === "string") {
      return { customerId, clientId, clientSecret };
    }
  } catch {
    // unreadable: replaced below
  }
  return undefined;
}

/** Written to a fresh 0600 temp file then renamed, so the secret is never briefly world-readable. */
function writeClientFile(file: string, client: ClientFile): void {
  const tmp = `${file}.${process.pid}.tmp`;
  rmSync(tmp, { force: true }); // a leftover would keep its old mode: the file must be created here
  writeFileSync(tmp, JSON.stringify(client, null, 2) + "\n", { mode: 0o600 });
  renameSync(tmp, file);
}
