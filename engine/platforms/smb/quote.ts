import { jobFailure } from "../../errors";

// smbclient splits `-c` at every ';' (quotes do not protect it) and its tokenizer knows double
// quotes but no escape, so a name holding '"' or ';' cannot be passed safely: it is refused
// rather than risk running a different command. Wildcards are refused too (del/ls expand them).
const UNQUOTABLE = /["*?<>|:;\\/\u0000-\u001f\u007f]/;

/** `"name"` for an smbclient command line. */
export function quoteSmbName(name: string, uri: string): string {
  if (name.length === 0 || UNQUOTABLE.test(name)) {
    throw jobFailure(
      "SHARE_WRITE_FAILED",
      `The file name '${name.replace(/[\u0000-\u001f\u007f]/g, "?")}' cannot be used on the SMB location ${uri}: ` +
        `SMB file names here may not contain " * ? < > | : ; \\ / or control characters. Choose another name.`,
    );
  }
  return `"${name}"`;
}
