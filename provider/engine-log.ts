import * as grpc from "@grpc/grpc-js";
import * as enginerpc from "@pulumi/pulumi/proto/engine_grpc_pb";
import * as engineproto from "@pulumi/pulumi/proto/engine_pb";

/**
 * Sends messages to the Pulumi engine's log: ephemeral ones become the status line of a
 * resource while it works (progress), the others are kept as diagnostics.
 */
export class EngineLog {
  private client?: InstanceType<typeof enginerpc.EngineClient>;

  attach(address: string): void {
    this.client?.close();
    this.client = new enginerpc.EngineClient(address, grpc.credentials.createInsecure());
  }

  status(urn: string, message: string): void {
    this.send(urn, message, engineproto.LogSeverity.INFO, true);
  }

  warn(urn: string, message: string): void {
    this.send(urn, message, engineproto.LogSeverity.WARNING, false);
  }

  private send(urn: string, message: string, severity: number, ephemeral: boolean): void {
    if (!this.client) return;
    const req = new engineproto.LogRequest();
    req.setSeverity(severity as engineproto.LogSeverity);
    req.setMessage(message);
    req.setUrn(urn);
    req.setEphemeral(ephemeral);
    // Best effort: a lost status line must never fail the operation.
    this.client.log(req, () => undefined);
  }

  close(): void {
    this.client?.close();
  }
}
