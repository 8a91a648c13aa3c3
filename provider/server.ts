import * as grpc from "@grpc/grpc-js";
import * as provrpc from "@pulumi/pulumi/proto/provider_grpc_pb";
import * as provproto from "@pulumi/pulumi/proto/provider_pb";
import * as plugproto from "@pulumi/pulumi/proto/plugin_pb";
import * as statusproto from "@pulumi/pulumi/proto/status_pb";
import * as emptyproto from "google-protobuf/google/protobuf/empty_pb";
import * as anyproto from "google-protobuf/google/protobuf/any_pb";
import * as structproto from "google-protobuf/google/protobuf/struct_pb";
import { ImageportClient, ImageportError } from "../client";
import { resolveSettings } from "./config";
import { diffInputs } from "./diff";
import { validateInputs } from "./validate";
import { EngineLog } from "./engine-log";
import { FunctionHandler } from "./functions";
import { OperationContext, ResourceHandler } from "./handler";
import { compact, conceal, containsUnknown, PropertyMap, reveal } from "./properties";
import { PACKAGE_VERSION, resourceSpec, ResourceSpec, schemaText } from "./schema";

type Call<Req> = grpc.ServerUnaryCall<Req, unknown>;
type Done<Res> = grpc.sendUnaryData<Res>;

const Kind = provproto.PropertyDiff.Kind;

/**
 * The ResourceProvider gRPC service. Unlike @pulumi/pulumi's provider host, it takes the
 * provider configuration from Configure, honours Cancel, and passes each operation its
 * custom timeout, so configuration, deadlines and cancellation work as users expect.
 */
export class ProviderServer {
  private client?: ImageportClient;
  private configError?: Error;
  private readonly inflight = new Set<AbortController>();
  readonly log = new EngineLog();

  constructor(
    private readonly handlers: Record<string, ResourceHandler>,
    private readonly functions: Record<string, FunctionHandler> = {},
  ) {}

  /** Serves on 127.0.0.1 and resolves with the port. */
  async listen(): Promise<{ port: number; server: grpc.Server }> {
    const server = new grpc.Server({ "grpc.max_receive_message_length": 1 << 30 });
    server.addService(provrpc.ResourceProviderService, this.service() as grpc.UntypedServiceImplementation);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    return { port, server };
  }

  private service(): Record<string, unknown> {
    return {
      getPluginInfo: (_: Call<unknown>, done: Done<plugproto.PluginInfo>) => {
        const info = new plugproto.PluginInfo();
        info.setVersion(PACKAGE_VERSION);
        done(null, info);
      },
      getSchema: (call: Call<provproto.GetSchemaRequest>, done: Done<provproto.GetSchemaResponse>) => {
        const res = new provproto.GetSchemaResponse();
        res.setSchema(schemaText);
        done(null, res);
      },
      attach: (call: Call<plugproto.PluginAttach>, done: Done<emptyproto.Empty>) => {
        this.log.attach(call.request.getAddress());
        done(null, new emptyproto.Empty());
      },
      checkConfig: unary(async (req: provproto.CheckRequest) => {
        const res = new provproto.CheckResponse();
        res.setInputs(req.getNews());
        return res;
      }),
      diffConfig: unary(async (req: provproto.DiffRequest) => {
        const olds = reveal(req.getOldInputs()?.toJavaScript() ?? req.getOlds()?.toJavaScript() ?? {}).values;
        const news = reveal(req.getNews()?.toJavaScript() ?? {}).values;
        const res = new provproto.DiffResponse();
        const changed = JSON.stringify(compact(olds)) !== JSON.stringify(compact(news));
        // Pointing the provider elsewhere never replaces resources; it changes where they are read.
        res.setChanges(changed ? provproto.DiffResponse.DiffChanges.DIFF_SOME : provproto.DiffResponse.DiffChanges.DIFF_NONE);
        return res;
      }),
      configure: unary(async (req: provproto.ConfigureRequest) => {
        this.configure(req);
        const res = new provproto.ConfigureResponse();
        res.setAcceptsecrets(true);
        res.setSupportspreview(true);
        return res;
      }),
      cancel: (_: Call<unknown>, done: Done<emptyproto.Empty>) => {
        for (const c of this.inflight) c.abort(new ImageportError("CANCELLED", "the operation was cancelled by the Pulumi engine"));
        done(null, new emptyproto.Empty());
      },
      check: unary(async (req: provproto.CheckRequest) => {
        const { handler } = this.lookup(req.getType(), req.getUrn());
        const spec = this.spec(req.getType(), req.getUrn());
        const news = reveal(req.getNews()?.toJavaScript() ?? {});
        const olds = reveal(req.getOlds()?.toJavaScript() ?? {}).values;
        const checked = handler.check(news.values, olds, {
          urn: req.getUrn(),
          name: req.getName() || req.getUrn().split("::").pop() || "resource",
          randomSeed: Buffer.from(req.getRandomseed_asU8()),
          secretKeys: news.secretKeys,
        });
        // The handler's own word on a property wins over the generic schema check of it.
        const reported = new Set(checked.failures.map((f) => f.property));
        const generic = validateInputs(spec.token, checked.inputs).filter((f) => !reported.has(f.property));
        const result = { inputs: checked.inputs, failures: [...checked.failures, ...generic] };
        const res = new provproto.CheckResponse();
        res.setInputs(toStruct(conceal(result.inputs, [...spec.secrets, ...news.secretKeys])));
        res.setFailuresList(
          result.failures.map((f) => {
            const failure = new provproto.CheckFailure();
            failure.setProperty(f.property);
            failure.setReason(f.reason);
            return failure;
          }),
        );
        return res;
      }),
      diff: unary(async (req: provproto.DiffRequest) => {
        const spec = this.spec(req.getType(), req.getUrn());
        const oldInputs = req.getOldInputs()?.toJavaScript();
        const olds = reveal(oldInputs && Object.keys(oldInputs).length ? oldInputs : req.getOlds()?.toJavaScript() ?? {}).values;
        const news = reveal(req.getNews()?.toJavaScript() ?? {}).values;
        const ignored = new Set(req.getIgnorechangesList());
        const diff = diffInputs(spec, olds, news);
        for (const k of ignored) delete diff.changes[k];
        const { handler } = this.lookup(req.getType(), req.getUrn());
        // A write-only secret Pulumi never saw (an imported resource) is a change only if the
        // API says it differs from the stored one.
        const unseen = Object.keys(diff.changes).filter((k) => spec.secrets.has(k) && olds[k] === undefined && !containsUnknown(news[k]));
        if (unseen.length > 0 && handler.confirmUnchanged && this.client) {
          const same = await this.operate(req.getUrn(), 0, (ctx) => handler.confirmUnchanged!(req.getId(), news, unseen, ctx));
          for (const k of same) delete diff.changes[k];
        }
        const res = new provproto.DiffResponse();
        const keys = Object.keys(diff.changes);
        const replaces = keys.filter((k) => diff.changes[k].replace);
        res.setChanges(keys.length ? provproto.DiffResponse.DiffChanges.DIFF_SOME : provproto.DiffResponse.DiffChanges.DIFF_NONE);
        res.setReplacesList(replaces);
        res.setDeletebeforereplace(replaces.length > 0 && (handler.deleteBeforeReplace?.(olds, news) ?? false));
        res.setDiffsList(keys);
        res.setHasdetaileddiff(true);
        const detailed = res.getDetaileddiffMap();
        for (const k of keys) {
          const c = diff.changes[k];
          const pd = new provproto.PropertyDiff();
          pd.setKind(
            c.kind === "add" ? (c.replace ? Kind.ADD_REPLACE : Kind.ADD)
            : c.kind === "delete" ? (c.replace ? Kind.DELETE_REPLACE : Kind.DELETE)
            : c.replace ? Kind.UPDATE_REPLACE : Kind.UPDATE,
          );
          pd.setInputdiff(true);
          detailed.set(k, pd);
        }
        return res;
      }),
      create: unary(async (req: provproto.CreateRequest) => {
        const spec = this.spec(req.getType(), req.getUrn());
        const { handler } = this.lookup(req.getType(), req.getUrn());
        const inputs = reveal(req.getProperties()?.toJavaScript() ?? {});
        const res = new provproto.CreateResponse();
        if (req.getPreview()) {
          // Nothing is created during preview; outputs the program reads stay unknown.
          res.setProperties(req.getProperties());
          return res;
        }
        const created = await this.operate(req.getUrn(), req.getTimeout(), (ctx) => handler.create(inputs.values, ctx));
        res.setId(created.id);
        res.setProperties(toStruct(this.outputs(spec, created.outputs, inputs.secretKeys)));
        return res;
      }),
      read: unary(async (req: provproto.ReadRequest) => {
        const spec = this.spec(req.getType(), req.getUrn());
        const { handler } = this.lookup(req.getType(), req.getUrn());
        const state = reveal(req.getProperties()?.toJavaScript() ?? {});
        const inputs = reveal(req.getInputs()?.toJavaScript() ?? {});
        const secretKeys = new Set([...state.secretKeys, ...inputs.secretKeys]);
        const found = await this.operate(req.getUrn(), req.getTimeout(), (ctx) => handler.read(req.getId(), state.values, inputs.values, ctx));
        const res = new provproto.ReadResponse();
        if (!found) return res; // an empty id tells the engine the resource is gone
        res.setId(found.id);
        res.setProperties(toStruct(this.outputs(spec, found.outputs, secretKeys)));
        res.setInputs(toStruct(conceal(compact(found.inputs), [...spec.secrets, ...secretKeys])));
        return res;
      }),
      update: unary(async (req: provproto.UpdateRequest) => {
        const spec = this.spec(req.getType(), req.getUrn());
        const { handler } = this.lookup(req.getType(), req.getUrn());
        const news = reveal(req.getNews()?.toJavaScript() ?? {});
        const res = new provproto.UpdateResponse();
        if (req.getPreview()) {
          res.setProperties(req.getNews());
          return res;
        }
        const state = reveal(req.getOlds()?.toJavaScript() ?? {}).values;
        const outputs = await this.operate(req.getUrn(), req.getTimeout(), (ctx) => handler.update(req.getId(), state, news.values, ctx));
        res.setProperties(toStruct(this.outputs(spec, outputs, news.secretKeys)));
        return res;
      }),
      invoke: unary(async (req: provproto.InvokeRequest) => {
        const fn = this.functions[req.getTok()];
        if (!fn) throw new Error(`imageport does not implement the function ${req.getTok()}`);
        const args = reveal(req.getArgs()?.toJavaScript() ?? {}).values;
        const result = await this.operate(req.getTok(), 0, (ctx) => fn(args, ctx));
        const res = new provproto.InvokeResponse();
        res.setReturn(toStruct(compact(result)));
        return res;
      }),
      delete: unary(async (req: provproto.DeleteRequest) => {
        const { handler } = this.lookup(req.getType(), req.getUrn());
        const state = reveal(req.getProperties()?.toJavaScript() ?? {}).values;
        await this.operate(req.getUrn(), req.getTimeout(), (ctx) => handler.delete(req.getId(), state, ctx));
        return new emptyproto.Empty();
      }),
    };
  }

  private configure(req: provproto.ConfigureRequest): void {
    const config: Record<string, string | undefined> = {};
    const args = req.getArgs()?.toJavaScript();
    if (args && Object.keys(args).length) {
      for (const [k, v] of Object.entries(reveal(args).values)) if (typeof v === "string") config[k] = v;
    } else {
      // Older engines send "imageport:config:endpoint"-style variables instead of args.
      for (const [k, v] of req.getVariablesMap().entries()) config[k.split(":").pop()!] = v;
    }
    try {
      const settings = resolveSettings(config);
      this.client = new ImageportClient({ endpoint: settings.endpoint, credentials: settings.credentials });
      this.configError = undefined;
    } catch (e) {
      // Reported when a resource operation needs the API, not at Configure: preview and
      // check of programs that create nothing must still work.
      this.configError = e as Error;
    }
  }

  private lookup(type: string, urn: string): { handler: ResourceHandler } {
    const token = type || urnType(urn);
    const handler = this.handlers[token];
    if (!handler) throw new Error(`imageport does not implement the resource type ${token}`);
    return { handler };
  }

  private spec(type: string, urn: string): ResourceSpec {
    const token = type || urnType(urn);
    const spec = resourceSpec(token);
    if (!spec) throw new Error(`schema.json has no resource type ${token}`);
    return spec;
  }

  private outputs(spec: ResourceSpec, outputs: PropertyMap, secretKeys: Set<string>): PropertyMap {
    return conceal(compact(outputs), [...spec.secrets, ...secretKeys]);
  }

  /** Runs one resource operation with the API client, a cancel signal and its status line. */
  private async operate<T>(urn: string, timeoutSeconds: number, fn: (ctx: OperationContext) => Promise<T>): Promise<T> {
    if (!this.client) throw this.configError ?? new Error("the imageport provider was not configured");
    const controller = new AbortController();
    this.inflight.add(controller);
    try {
      return await fn({
        urn,
        client: this.client,
        signal: controller.signal,
        timeoutSeconds,
        status: (message) => this.log.status(urn, message),
        warn: (message) => this.log.warn(urn, message),
      });
    } finally {
      this.inflight.delete(controller);
    }
  }
}

function urnType(urn: string): string {
  // urn:pulumi:stack::project::[parent$]type::name
  const parts = urn.split("::");
  return (parts[2] ?? "").split("$").pop() ?? "";
}

function toStruct(values: PropertyMap): structproto.Struct {
  return structproto.Struct.fromJavaScript(values as Record<string, structproto.JavaScriptValue>);
}

/** Adapts an async handler to grpc-js, turning errors into gRPC statuses. */
function unary<Req, Res>(fn: (req: Req) => Promise<Res>) {
  return (call: Call<Req>, done: Done<Res>) => {
    fn(call.request).then(
      (res) => done(null, res),
      (err: unknown) => done(toGrpcError(err)),
    );
  };
}

/**
 * A created-but-failed resource carries its id so the engine records it (no orphans);
 * everything else becomes an UNKNOWN status whose message is shown to the user.
 */
function toGrpcError(err: unknown): grpc.ServiceError {
  const e = err instanceof Error ? err : new Error(String(err));
  const metadata = new grpc.Metadata();
  const partial = e as Error & { id?: string; properties?: PropertyMap };
  if (partial.id) {
    const detail = new provproto.ErrorResourceInitFailed();
    detail.setId(partial.id);
    detail.setProperties(toStruct(partial.properties ?? {}));
    detail.setReasonsList([e.message]);
    const any = new anyproto.Any();
    any.pack(detail.serializeBinary(), "pulumirpc.ErrorResourceInitFailed");
    const status = new statusproto.Status();
    status.setCode(grpc.status.UNKNOWN);
    status.setMessage(e.message);
    status.addDetails(any);
    metadata.add("grpc-status-details-bin", Buffer.from(status.serializeBinary()));
  }
  return Object.assign(new Error(e.message), { code: grpc.status.UNKNOWN, details: e.message, metadata }) as grpc.ServiceError;
}
