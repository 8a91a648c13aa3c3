import Fastify, { FastifyInstance, LogController } from "fastify";
import { randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { Kysely } from "kysely";
import { registerCredentialRoutes } from "./api/credentials";
import { registerErrorHandling } from "./api/error-handler";
import { registerFormParser } from "./api/form-parser";
import { registerHealthRoutes } from "./api/health";
import { registerTokenRoutes } from "./api/token";
import { authenticate } from "./auth/authenticate";
import { ensureBootstrapClient } from "./auth/bootstrap";
import { TokenIssuer } from "./auth/tokens";
import { LogDestination, loggerOptions, openLogDestination, pathOnly } from "./logger";
import { loadMasterKey } from "./secrets/master-key";
import { SecretBox } from "./secrets/secret-box";
import { KyselyApiClientStore } from "./store/api-client-store";
import { KyselyCredentialStore } from "./store/credential-store";
import { openDatabase } from "./store/database";
import { verifyMasterKey } from "./store/key-check";
import { Database } from "./store/schema";

export const DEFAULT_HOST = "127.0.0.1";
export const DEFAULT_PORT = 7780;
export const DEFAULT_CUSTOMER_ID = "local";

export interface EngineOptions {
  /** Holds imageport.db, master.key, client.json and logs/. Created (mode 0700) if missing. */
  dataDir: string;
  /**
   * postgres:// (or postgresql://) URL of the database to keep the store in, instead of
   * <dataDir>/imageport.db. The master key stays in the data directory (or IMAGEPORT_MASTER_KEY).
   */
  databaseUrl?: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  customerId?: string;
  /** Fixed API client (tests); by default one is generated and written to <dataDir>/client.json. */
  bootstrapClient?: { clientId: string; clientSecret: string };
  /** Default <dataDir>/logs/imageportd.log. */
  logFile?: string;
  /** Also write the JSON log lines to stdout. */
  logToStdout?: boolean;
  logLevel?: string;
}

export interface Engine {
  url: string;
  port: number;
  customerId: string;
  close(): Promise<void>;
}

export async function createEngine(options: EngineOptions): Promise<Engine> {
  const dataDir = resolve(options.dataDir);
  const customerId = options.customerId ?? DEFAULT_CUSTOMER_ID;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });

  const logFile = options.logFile ?? join(dataDir, "logs", "imageportd.log");
  const log = openLogDestination(logFile, options.logToStdout ?? false);
  let db: Kysely<Database> | undefined;
  let app: FastifyInstance | undefined;
  try {
    const box = new SecretBox(loadMasterKey(dataDir));
    db = await openDatabase(dataDir, { databaseUrl: options.databaseUrl });
    await verifyMasterKey(db, box);
    const clients = new KyselyApiClientStore(db);
    const credentials = new KyselyCredentialStore(db, box);
    await ensureBootstrapClient(dataDir, customerId, clients, options.bootstrapClient);

    app = buildApp(log, options.logLevel, { clients, credentials, tokens: new TokenIssuer() });
    await app.listen({ host: options.host ?? DEFAULT_HOST, port: options.port ?? DEFAULT_PORT });
  } catch (err) {
    await app?.close();
    await db?.destroy();
    log.close();
    throw err;
  }

  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : (options.port ?? DEFAULT_PORT);
  const host = options.host ?? DEFAULT_HOST;
  const started = { app, db };
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    customerId,
    close() {
      // Idempotent: stop taking requests, let in-flight ones finish, then release the database and log.
      closing ??= (async () => {
        await started.app.close();
        await started.db.destroy();
        log.close();
      })();
      return closing;
    },
  };
}

function buildApp(
  log: LogDestination,
  level: string | undefined,
  deps: {
    clients: KyselyApiClientStore;
    credentials: KyselyCredentialStore;
    tokens: TokenIssuer;
  },
): FastifyInstance {
  const app = Fastify({
    logger: loggerOptions(log, level),
    logController: new LogController({ disableRequestLogging: true }), // replaced by the onResponse line below
    genReqId: () => randomUUID(),
    bodyLimit: 1024 * 1024,
    ajv: {
      customOptions: {
        allErrors: true, // report every bad field at once (bodies are small and flat; see validation-messages.ts)
        removeAdditional: false, // unknown properties are errors, not silently dropped
        coerceTypes: false,
        useDefaults: false,
        discriminator: true, // credential bodies: one schema branch per `type`
      },
    },
  });

  registerFormParser(app);
  registerErrorHandling(app);
  app.decorateRequest("auth", null);
  app.addHook("onRequest", authenticate(deps.tokens));
  app.addHook("onResponse", async (request, reply) => {
    request.log.info(
      {
        method: request.method,
        url: pathOnly(request.url),
        status: reply.statusCode,
        durationMs: Math.round(reply.elapsedTime * 10) / 10,
        ...(request.errorCode ? { code: request.errorCode } : {}),
      },
      "request completed",
    );
  });

  registerHealthRoutes(app);
  registerTokenRoutes(app, deps);
  registerCredentialRoutes(app, deps);
  return app;
}
