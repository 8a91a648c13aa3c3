import * as pulumi from "@pulumi/pulumi";

export type ConnectorStatus = "HEALTHY" | "UNHEALTHY";

export interface ConnectorRegistrationArgs {
  /** The connector's display name. Changing it replaces the registration (new id and code). */
  name: pulumi.Input<string>;
  /** The location whose jobs the connector runs; pass a ResourceLocation's output. Changing it replaces the registration. */
  resourceLocationId: pulumi.Input<string>;
  /** Jobs the connector runs at once, 1-64 (default 2). Changing it replaces the registration. */
  maxConcurrentJobs?: pulumi.Input<number>;
}

const INPUTS = ["name", "resourceLocationId", "maxConcurrentJobs"] as const;
const COMPUTED_OUTPUTS = ["connectorId", "status", "registered", "registrationCode", "registrationExpiresAt", "lastHeartbeatAt", "createdAt"] as const;

/**
 * A slot for a connector in a resource location, with the one-time code (a secret output,
 * valid once within an hour) that `imageport connector --code` registers with.
 */
export class ConnectorRegistration extends pulumi.CustomResource {
  static readonly __pulumiType = "imageport:index:ConnectorRegistration";

  /** Looks up an existing registration by connector id (for `ConnectorRegistration.get` and `pulumi import`). */
  static get(name: string, id: pulumi.Input<pulumi.ID>, opts?: pulumi.CustomResourceOptions): ConnectorRegistration {
    return new ConnectorRegistration(name, undefined as unknown as ConnectorRegistrationArgs, { ...opts, id });
  }

  static override isInstance(obj: unknown): obj is ConnectorRegistration {
    return (obj as { __pulumiType?: string } | undefined)?.__pulumiType === ConnectorRegistration.__pulumiType;
  }

  declare readonly name: pulumi.Output<string>;
  declare readonly resourceLocationId: pulumi.Output<string>;
  declare readonly maxConcurrentJobs: pulumi.Output<number>;
  /** The connector's id (a UUID), assigned by the engine. */
  declare readonly connectorId: pulumi.Output<string>;
  /** Health as of the last create or refresh; never drives a change. */
  declare readonly status: pulumi.Output<ConnectorStatus>;
  /** Whether the registration code was used. */
  declare readonly registered: pulumi.Output<boolean>;
  /** The one-time registration code (secret); absent after import. */
  declare readonly registrationCode: pulumi.Output<string | undefined>;
  /** Until when the code works; absent once it was used. */
  declare readonly registrationExpiresAt: pulumi.Output<string | undefined>;
  /** The last heartbeat as of the last create or refresh. */
  declare readonly lastHeartbeatAt: pulumi.Output<string | undefined>;
  declare readonly createdAt: pulumi.Output<string>;

  constructor(name: string, args: ConnectorRegistrationArgs, opts: pulumi.CustomResourceOptions = {}) {
    const inputs: pulumi.Inputs = {};
    for (const k of COMPUTED_OUTPUTS) inputs[k] = undefined;
    for (const k of INPUTS) inputs[k] = opts.id ? undefined : args?.[k];
    opts = pulumi.mergeOptions(opts, { additionalSecretOutputs: ["registrationCode"] });
    super(ConnectorRegistration.__pulumiType, name, inputs, opts);
  }
}
