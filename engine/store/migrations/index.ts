import { Migration, MigrationProvider } from "kysely";
import { credentials } from "./0001-credentials";
import { apiClients } from "./0002-api-clients";
import { jobs } from "./0003-jobs";
import { jobClientTokens } from "./0004-job-client-tokens";

// Migrations live in code (not a folder scan) so they ship inside dist/ with no file lookup.
// Kysely applies them in key order; never rename or edit one that has shipped, add a new one.
const migrations: Record<string, Migration> = {
  "0001-credentials": credentials,
  "0002-api-clients": apiClients,
  "0003-jobs": jobs,
  "0004-job-client-tokens": jobClientTokens,
};

export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};
