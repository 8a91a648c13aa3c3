// percent-encoding.h: how the line-protocol tools (volume-tool.h, hive-edit.c) put arbitrary
// names on one line: every byte outside [A-Za-z0-9._~/-] as %XX (engine: encodeArgument in
// engine/prepare/volume-tool.ts). Static inline, so a tool that uses part of it compiles clean.

#ifndef PERCENT_ENCODING_H
#define PERCENT_ENCODING_H

#include <stdio.h>
#include <string.h>

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
