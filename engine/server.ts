import Fastify, { FastifyInstance, LogController } from "fastify";
import { randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { Kysely } from "kysely";
import { registerConnectorRoutes } from "./api/connectors";
import { registerCredentialRoutes } from "./api/credentials";
import { registerErrorHandling } from "./api/error-handler";
import { registerFormParser } from "./api/form-parser";
import { registerHealthRoutes } from "./api/health";
import { registerJobRoutes } from "./api/jobs";
import { registerLocationRoutes } from "./api/locations";
import { registerOpenApi, registerOpenApiRoute } from "./api/openapi";
import { registerTokenRoutes } from "./api/token";
import { authenticate } from "./auth/authenticate";
import { ensureBootstrapClient } from "./auth/bootstrap";
import { TokenIssuer } from "./auth/tokens";
import { LogDestination, loggerOptions, openLogDestination, pathOnly } from "./logger";
import { loadMasterKey } from "./secrets/master-key";
import { SecretBox } from "./secrets/secret-box";
import { ConnectorLoop } from "./runner/connector-loop";
import { ConnectorService } from "./runner/connector-service";
import { InProcessChannel } from "./runner/in-process-channel";
import { JobService } from "./runner/job-service";
import { KyselyApiClientStore } from "./store/api-client-store";
import { ConnectorStore } from "./store/connector-store";
import { JobStore } from "./store/job-store";
import { LocationStore } from "./store/location-store";
import { KyselyCredentialStore } from "./store/credential-store";
import { openDatabase } from "./store/database";
import { configureFileRoots } from "./platforms/local/file-roots";
import { checkListenAddress, TlsFiles } from "./listen";
import { lockDataDir } from "./store/data-dir-lock";
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
  /** Default 127.0.0.1; any other address needs `tls`. */
  host?: string;
  /** Serve HTTPS with this certificate and key (PEM text). */
  tls?: TlsFiles;
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
  /** Jobs the embedded connector runs at once (the `local` location's limit). Default 2. */
  localConcurrency?: number;
  /** Directories file:// locations may lie under (default: the home and temporary directories). */
  fileRoots?: string[];
  /**
   * Run the embedded connector for the `local` location (default true). Engines sharing one
   * PostgreSQL store share that connector's identity: run it in one of them only.
   */
  localConnector?: boolean;
}

export interface Engine {
  url: string;
  port: number;
  customerId: string;
  /** Every route served, as "METHOD /path" (for the test that keeps the OpenAPI document in step). */
  routes: string[];
  close(): Promise<void>;
}

export async function createEngine(options: EngineOptions): Promise<Engine> {
  const dataDir = resolve(options.dataDir);
  const customerId = options.customerId ?? DEFAULT_CUSTOMER_ID;
  checkListenAddress(options.host ?? DEFAULT_HOST, options.tls);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // Before anything touches the store (or the log): a second engine on this directory stops here.
  const lock = lockDataDir(dataDir);
  try {
    if (options.fileRoots) configureFileRoots(options.fileRoots);
  } catch (err) {
    lock.release();
    throw err;
  }

  const logFile = options.logFile ?? join(dataDir, "logs", "imageportd.log");
  let log: LogDestination;
  try {
    log = openLogDestination(logFile, options.logToStdout ?? false);
  } catch (err) {
    lock.release();
    throw err;
  }
  let db: Kysely<Database> | undefined;
  let app: FastifyInstance | undefined;
  let connector: ConnectorLoop | undefined;
  let sweeper: NodeJS.Timeout | undefined;
  try {
    const box = new SecretBox(loadMasterKey(dataDir));
    db = await openDatabase(dataDir, { databaseUrl: options.databaseUrl });
    await verifyMasterKey(db, box);
    const clients = new KyselyApiClientStore(db);
    const credentials = new KyselyCredentialStore(db, box);
    await ensureBootstrapClient(dataDir, customerId, clients, options.bootstrapClient);

    const tokens = new TokenIssuer();
    const jobs = new JobStore(db);
    const locations = new LocationStore(db);
    const connectors = new ConnectorStore(db);
    const jobService = new JobService({ jobs, locations, connectors, credentials, runsLocal: options.localConnector !== false });
    const connectorService = new ConnectorService({ connectors, locations, clients, jobs, tokens });

    app = await buildApp(log, options.logLevel, options.tls, {
      clients,
      credentials,
      tokens,
      jobs,
      locations,
      connectors,
      jobService,
      connectorService,
    });

    // The embedded connector: jobs of the `local` location run in this process. Jobs it was
    // running when the engine last stopped are started again (or failed after too many tries).
    const embedded = await connectorService.ensureEmbedded(customerId, options.localConcurrency ?? 2);
    if (options.localConnector !== false) {
      const recovered = await jobs.takeBack(
        { connectorId: embedded.id },
        { code: "ENGINE_RESTARTED", message: "The engine stopped while this job was running." },
      );
      for (const job of recovered) app.log.warn({ jobId: job.id, status: job.status, attempt: job.attempt }, "job taken back after engine restart");
      connector = new ConnectorLoop(new InProcessChannel(jobService, customerId, embedded.id), {
        slots: embedded.maxConcurrentJobs,
        workRoot: join(dataDir, "work"),
        log: app.log.child({ connectorId: embedded.id }),
      });
      const loop = connector;
      jobService.events.on("submitted", () => loop.wake());
    }
    const appLog = app.log;
    sweeper = setInterval(() => {
      jobService.sweep().catch((err: unknown) => appLog.error({ err }, "job sweep failed"));
    }, 5000);
    sweeper.unref();

    await app.listen({ host: options.host ?? DEFAULT_HOST, port: options.port ?? DEFAULT_PORT });
    connector?.start();
  } catch (err) {
    clearInterval(sweeper);
    await connector?.stop();
    await app?.close();
    await db?.destroy();
    log.close();
    lock.release();
    throw err;
  }

  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : (options.port ?? DEFAULT_PORT);
  const host = options.host ?? DEFAULT_HOST;
  const started = { app, db, connector, sweeper: sweeper! };
  let closing: Promise<void> | undefined;
  return {
    url: `${options.tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${port}`,
    routes: routeList(app),
    port,
    customerId,
    close() {
      // Idempotent: stop taking requests, let in-flight ones finish, then release the database and log.
      closing ??= (async () => {
        clearInterval(started.sweeper);
        await started.connector?.stop();
        await started.app.close();
        await started.db.destroy();
        log.close();
        lock.release();
      })();
      return closing;
    },
  };
}

function routeList(app: FastifyInstance): string[] {
  return [...((app as unknown as { routeList: string[] }).routeList)];
}

async function buildApp(
  log: LogDestination,
  level: string | undefined,
  tls: TlsFiles | undefined,
  deps: {
    clients: KyselyApiClientStore;
    credentials: KyselyCredentialStore;
    tokens: TokenIssuer;
    jobs: JobStore;
    locations: LocationStore;
    connectors: ConnectorStore;
    jobService: JobService;
    connectorService: ConnectorService;
  },
): Promise<FastifyInstance> {
  const app = Fastify({
    ...(tls ? { https: { cert: tls.cert, key: tls.key } } : {}),
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

  const routes: string[] = [];
  app.addHook("onRoute", (route) => {
    for (const method of [route.method].flat()) if (method !== "HEAD") routes.push(`${method} ${route.url}`);
  });
  app.decorate("routeList", routes);
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

  await registerOpenApi(app);
  registerHealthRoutes(app);
  registerOpenApiRoute(app);
  registerTokenRoutes(app, deps);
  registerCredentialRoutes(app, deps);
  registerJobRoutes(app, deps);
  registerLocationRoutes(app, deps);
  registerConnectorRoutes(app, deps);
  return app;
}
