import * as pulumi from "@pulumi/pulumi";

export interface ProviderArgs {
  /** A URL (default: the embedded engine, http://127.0.0.1:7780) or a Citrix Cloud region: api-us, api-eu, api-ap-s, citrixcloud.jp. Env: IMAGEPORT_ENDPOINT. */
  endpoint?: pulumi.Input<string>;
  /** Customer id (`local` on the embedded engine). Env: IMAGEPORT_CUSTOMER_ID. */
  customerId?: pulumi.Input<string>;
  /** API client id. Env: IMAGEPORT_CLIENT_ID. */
  clientId?: pulumi.Input<string>;
  /** API client secret. Env: IMAGEPORT_CLIENT_SECRET. */
  clientSecret?: pulumi.Input<string>;
}

/** An explicitly configured imageport provider, e.g. to reach a second engine. */
export class Provider extends pulumi.ProviderResource {
  static readonly __pulumiType = "imageport";

  static override isInstance(obj: unknown): obj is Provider {
    return pulumi.ProviderResource.isInstance(obj) && (obj as { __pulumiType?: string }).__pulumiType === Provider.__pulumiType;
  }

  constructor(name: string, args: ProviderArgs = {}, opts: pulumi.ResourceOptions = {}) {
    const inputs: pulumi.Inputs = {
      endpoint: args.endpoint,
      customerId: args.customerId,
      clientId: args.clientId,
      clientSecret: args.clientSecret === undefined ? undefined : pulumi.secret(args.clientSecret),
    };
    super(Provider.__pulumiType, name, inputs, opts);
  }
}
