// line-protocol.h: what the line-protocol tools (volume-tool.h's, hive-edit.c) share (their
// engine side: engine/prepare/line-tool.ts). A tool starts with "ready ..." or refuses with
// "fail CODE text" (exit 2); a broken channel is one line on stderr (exit 1). Arbitrary names
// travel percent-encoded: every byte outside [A-Za-z0-9._~/-] as %XX (engine: encodeArgument
// in engine/prepare/volume-tool.ts). Static inline, so a tool that uses part of it compiles clean.

#ifndef LINE_PROTOCOL_H
#define LINE_PROTOCOL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/** A broken channel or a bad invocation: one line on stderr, exit 1. */
static inline void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(1);
}

/** The tool cannot work on what it was given: "fail CODE text" (CODE an engine error code), exit 2. */
static inline void refuse_to_start(const char *code, const char *fmt, ...) {
  printf("fail %s ", code);
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  fflush(stdout);
  exit(2);
}

static inline int hex_value(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/** Decodes in place; -1 on a bad escape or an encoded NUL. */
static inline int percent_decode(char *s) {
  char *out = s;
  for (char *p = s; *p; p++) {
    if (*p != '%') {
      *out++ = *p;
      continue;
    }
    int hi = hex_value(p[1]), lo = hi < 0 ? -1 : hex_value(p[2]);
    if (lo < 0 || (hi == 0 && lo == 0)) return -1;
    *out++ = (char)(hi * 16 + lo);
    p += 2;
  }
  *out = 0;
  return 0;
}

static inline void print_encoded(FILE *f, const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr("._~/-", *p)) fputc(*p, f);
    else fprintf(f, "%%%02X", *p);
  }
}

#endif
