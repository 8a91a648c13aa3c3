#!/usr/bin/env node
import { EngineError } from "../engine/errors";
import { buildProgram } from "./program";

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    // Engine errors carry a stable code and a message written for the user; others are unexpected.
    const text =
      err instanceof EngineError ? `${err.message} (${err.code})` : err instanceof Error ? err.message : String(err);
    process.stderr.write(`imageport: ${text}\n`);
    process.exit(1);
  });
