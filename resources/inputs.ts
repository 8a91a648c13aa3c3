import * as pulumi from "@pulumi/pulumi";

/** Builds the inputs a resource registers: the given args, or (when reading by id) nothing but output slots. */
export function resourceInputs(
  args: object | undefined,
  opts: pulumi.CustomResourceOptions,
  inputKeys: readonly string[],
  outputKeys: readonly string[],
): pulumi.Inputs {
  const inputs: pulumi.Inputs = {};
  for (const k of outputKeys) inputs[k] = undefined;
  for (const k of inputKeys) inputs[k] = opts.id ? undefined : (args as Record<string, unknown> | undefined)?.[k];
  return inputs;
}
