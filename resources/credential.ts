import * as pulumi from "@pulumi/pulumi";

export type CredentialType = "UsernamePassword" | "Aws" | "Azure" | "Gcp";

export interface CredentialArgs {
  /** The wallet id jobs reference. Defaults to the resource name plus a random suffix. Changing it replaces the credential. */
  credentialId?: pulumi.Input<string>;
  /** What the credential is for. Changing it replaces the credential. */
  type: pulumi.Input<CredentialType>;
  /** UsernamePassword: the user name. */
  username?: pulumi.Input<string>;
  /** UsernamePassword: the user's domain. */
  domain?: pulumi.Input<string>;
  /** UsernamePassword: the password (secret, write-only). */
  password?: pulumi.Input<string>;
  /** Aws: the access key id. */
  accessKeyId?: pulumi.Input<string>;
  /** Aws: the secret access key (secret, write-only). */
  secretAccessKey?: pulumi.Input<string>;
  /** Aws: a session token (secret, write-only). */
  sessionToken?: pulumi.Input<string>;
  /** Azure: the tenant id. */
  tenantId?: pulumi.Input<string>;
  /** Azure: the application (client) id. */
  clientId?: pulumi.Input<string>;
  /** Azure: the client secret (secret, write-only). */
  clientSecret?: pulumi.Input<string>;
  /** Gcp: the service-account key JSON (secret, write-only). */
  serviceAccountKey?: pulumi.Input<string>;
}

const SECRET_INPUTS = ["password", "secretAccessKey", "sessionToken", "clientSecret", "serviceAccountKey"] as const;
const PLAIN_INPUTS = ["credentialId", "type", "username", "domain", "accessKeyId", "tenantId", "clientId"] as const;
const COMPUTED_OUTPUTS = ["state", "createdAt", "updatedAt", "clientEmail", "projectId"] as const;

/**
 * An entry of the credential wallet: the secret a job uses to reach a platform or a share.
 * Secrets are write-only: the API never returns them; changing one updates in place.
 */
export class Credential extends pulumi.CustomResource {
  static readonly __pulumiType = "imageport:index:Credential";

  /** Looks up an existing credential by its wallet id (for `Credential.get` and `pulumi import`). */
  static get(name: string, id: pulumi.Input<pulumi.ID>, opts?: pulumi.CustomResourceOptions): Credential {
    return new Credential(name, undefined as unknown as CredentialArgs, { ...opts, id });
  }

  static override isInstance(obj: unknown): obj is Credential {
    return (obj as { __pulumiType?: string } | undefined)?.__pulumiType === Credential.__pulumiType;
  }

  declare readonly credentialId: pulumi.Output<string>;
  declare readonly type: pulumi.Output<CredentialType>;
  declare readonly username: pulumi.Output<string | undefined>;
  declare readonly domain: pulumi.Output<string | undefined>;
  declare readonly password: pulumi.Output<string | undefined>;
  declare readonly accessKeyId: pulumi.Output<string | undefined>;
  declare readonly secretAccessKey: pulumi.Output<string | undefined>;
  declare readonly sessionToken: pulumi.Output<string | undefined>;
  declare readonly tenantId: pulumi.Output<string | undefined>;
  declare readonly clientId: pulumi.Output<string | undefined>;
  declare readonly clientSecret: pulumi.Output<string | undefined>;
  declare readonly serviceAccountKey: pulumi.Output<string | undefined>;
  /** The wallet's state of the credential (`Ok`). */
  declare readonly state: pulumi.Output<string>;
  declare readonly createdAt: pulumi.Output<string>;
  declare readonly updatedAt: pulumi.Output<string>;
  /** Gcp: the service account's e-mail, read from the key. */
  declare readonly clientEmail: pulumi.Output<string | undefined>;
  /** Gcp: the project id, read from the key. */
  declare readonly projectId: pulumi.Output<string | undefined>;

  constructor(name: string, args: CredentialArgs, opts: pulumi.CustomResourceOptions = {}) {
    const inputs: pulumi.Inputs = {};
    for (const k of COMPUTED_OUTPUTS) inputs[k] = undefined;
    if (!opts.id) {
      for (const k of PLAIN_INPUTS) inputs[k] = args?.[k];
      for (const k of SECRET_INPUTS) inputs[k] = args?.[k] === undefined ? undefined : pulumi.secret(args[k]);
    } else {
      for (const k of [...PLAIN_INPUTS, ...SECRET_INPUTS]) inputs[k] = undefined;
    }
    opts = pulumi.mergeOptions(opts, { additionalSecretOutputs: [...SECRET_INPUTS] });
    super(Credential.__pulumiType, name, inputs, opts);
  }
}
