import { strict as assert } from "assert";
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { SCHEMA_PATH } from "../../provider/schema";

/** The SDK classes in resources/ and schema.json describe the same types. */
describe("SDK classes agree with schema.json", () => {
  const schema = JSON.parse(fs.readFileSync(SCHEMA_PATH, "utf8"));
  const registered: pulumi.runtime.MockResourceArgs[] = [];

  before(async () => {
    await pulumi.runtime.setMocks(
      {
        newResource: (args) => {
          registered.push(args);
          return { id: `${args.name}-id`, state: args.inputs };
        },
        call: () => ({}),
      },
      "project",
      "stack",
      false,
    );
  });

  for (const [token, spec] of Object.entries<Record<string, Record<string, unknown>>>(schema.resources)) {
    const className = token.split(":").pop()!;

    it(`${className}: the constructor sends every schema input and no other`, async () => {
      const sdk = await import("../../resources");
      const Class = (sdk as unknown as Record<string, new (n: string, a: object) => pulumi.CustomResource>)[className];
      assert.ok(Class, `resources/ exports no class ${className}`);
      const args = Object.fromEntries(Object.keys(spec.inputProperties).map((k) => [k, k === "type" ? "UsernamePassword" : `v-${k}`]));
      const resource = new Class(`probe-${className}`, args);
      await new Promise((r) => resource.urn.apply(r));
      const sent = registered.find((r) => r.name === `probe-${className}`)!;
      assert.equal(sent.type, token);
      assert.deepEqual(Object.keys(sent.inputs).sort(), Object.keys(spec.inputProperties).sort());
      // Every output of the schema is a property of the instance.
      for (const out of Object.keys(spec.properties)) {
        assert.ok(pulumi.Output.isInstance((resource as unknown as Record<string, unknown>)[out]), `${className}.${out} is not an output`);
      }
    });

    it(`${className}: marks exactly the schema's secret inputs secret`, async () => {
      const sdk = await import("../../resources");
      const Class = (sdk as unknown as Record<string, new (n: string, a: object) => pulumi.CustomResource>)[className];
      const args = Object.fromEntries(Object.keys(spec.inputProperties).map((k) => [k, `v-${k}`]));
      const resource = new Class(`secret-probe-${className}`, args) as unknown as Record<string, pulumi.Output<unknown>>;
      for (const [key, prop] of Object.entries(spec.inputProperties as Record<string, { secret?: boolean }>)) {
        const isSecret = await (resource[key] as unknown as { isSecret: Promise<boolean> }).isSecret;
        assert.equal(isSecret, !!prop.secret, `${className}.${key} secret=${isSecret}, schema says ${!!prop.secret}`);
      }
    });
  }
});
