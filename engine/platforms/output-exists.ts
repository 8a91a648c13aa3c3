import { EngineError, jobFailure } from "../errors";

/** The one OUTPUT_EXISTS message: names the file, the location and the option that allows replacing. */
export function outputExists(name: string, uri: string, isDirectory: boolean): EngineError {
  return jobFailure(
    "OUTPUT_EXISTS",
    isDirectory
      ? `The output '${name}' cannot be written to ${uri}: a directory of that name exists. Remove it or choose another output file name.`
      : `The output '${name}' already exists in ${uri} and was left untouched. To replace it, send the job with ` +
          `overwriteOutput: true; otherwise remove it or choose another output file name.`,
  );
}
