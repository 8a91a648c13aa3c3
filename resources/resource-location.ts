import * as pulumi from "@pulumi/pulumi";

export interface ResourceLocationArgs {
  /** The location's id, referenced by connectors and jobs. Defaults to the resource name plus a random suffix. Changing it replaces the location. */
  resourceLocationId?: pulumi.Input<string>;
  /** Display name; defaults to resourceLocationId. Changes update in place. */
  name?: pulumi.Input<string>;
  /** Jobs of this location that may run at once, 1-64 (default 2). Changes update in place. */
  maxConcurrentJobs?: pulumi.Input<number>;
}

const INPUTS = ["resourceLocationId", "name", "maxConcurrentJobs"] as const;
const COMPUTED_OUTPUTS = ["createdAt", "updatedAt"] as const;

/**
 * A resource location: a place where connectors run jobs. The engine refuses to delete it
 * while connectors are registered to it or its jobs are unfinished.
 */
export class ResourceLocation extends pulumi.CustomResource {
  static readonly __pulumiType = "imageport:index:ResourceLocation";

  /** Looks up an existing location by its id (for `ResourceLocation.get` and `pulumi import`). */
  static get(name: string, id: pulumi.Input<pulumi.ID>, opts?: pulumi.CustomResourceOptions): ResourceLocation {
    return new ResourceLocation(name, undefined, { ...opts, id });
  }

  static override isInstance(obj: unknown): obj is ResourceLocation {
    return (obj as { __pulumiType?: string } | undefined)?.__pulumiType === ResourceLocation.__pulumiType;
  }

  declare readonly resourceLocationId: pulumi.Output<string>;
  declare readonly name: pulumi.Output<string>;
  declare readonly maxConcurrentJobs: pulumi.Output<number>;
  /** When the location was created (ISO-8601, UTC). */
  declare readonly createdAt: pulumi.Output<string>;
  /** When the location was last changed (ISO-8601, UTC). */
  declare readonly updatedAt: pulumi.Output<string>;

  constructor(name: string, args?: ResourceLocationArgs, opts: pulumi.CustomResourceOptions = {}) {
    const inputs: pulumi.Inputs = {};
    for (const k of COMPUTED_OUTPUTS) inputs[k] = undefined;
    for (const k of INPUTS) inputs[k] = opts.id ? undefined : args?.[k];
    super(ResourceLocation.__pulumiType, name, inputs, opts);
  }
}
