// smb-common.h: what the SMB tools (smb-sparse-put.c, smb-read.c) share: the failure line, the
// smbclient -A authentication file (the password is never on the command line, in the
// environment or printed) and one libsmbclient context restricted to SMB3.
//
// Failures: one line on stderr, exit 1: "error <step> <ERRNO name or -> <text>".

#ifndef SMB_COMMON_H
#define SMB_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <libsmbclient.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct {
  char username[256];
  char password[256];
  char domain[256];
} creds;

static void fail(const char *step, int err, const char *fmt, ...) {
  const char *name = err ? strerrorname_np(err) : NULL;
  fprintf(stderr, "error %s %s ", step, name ? name : "-");
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  if (err) fprintf(stderr, ": %s", strerror(err));
  fputc('\n', stderr);
  exit(1);
}

static void copy_value(char *dst, size_t size, const char *value) {
  if (strlen(value) >= size) fail("auth", 0, "a value in the authentication file is too long");
  strcpy(dst, value);
}

// smbclient's -A format: "key = value" lines; the value starts after the '=' and any blanks.
static void read_auth_file(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) fail("auth", errno, "cannot open the authentication file");
  char line[1024];
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = 0;
    char *eq = strchr(line, '=');
    if (!eq) continue;
    char *key_end = eq;
    while (key_end > line && (key_end[-1] == ' ' || key_end[-1] == '\t')) key_end--;
    *key_end = 0;
    char *value = eq + 1;
    while (*value == ' ' || *value == '\t') value++;
    if (strcmp(line, "username") == 0) copy_value(creds.username, sizeof creds.username, value);
    else if (strcmp(line, "password") == 0) copy_value(creds.password, sizeof creds.password, value);
    else if (strcmp(line, "domain") == 0) copy_value(creds.domain, sizeof creds.domain, value);
  }
  explicit_bzero(line, sizeof line);
  fclose(f);
  if (!creds.username[0]) fail("auth", 0, "the authentication file has no username");
}

static void auth_fn(SMBCCTX *c, const char *srv, const char *shr, char *wg, int wglen, char *un, int unlen,
                    char *pw, int pwlen) {
  (void)c, (void)srv, (void)shr;
  if (creds.domain[0]) snprintf(wg, wglen, "%s", creds.domain);
  snprintf(un, unlen, "%s", creds.username);
  snprintf(pw, pwlen, "%s", creds.password);
}

/** The context every tool uses: logon from the auth file, no guest fallback, SMB3 only. */
static SMBCCTX *smb_connect(const char *auth, long port, long timeout_sec) {
  signal(SIGPIPE, SIG_IGN); // a dropped connection is an EPIPE/ECONNRESET we report, not a silent death
  read_auth_file(auth);
  SMBCCTX *ctx = smbc_new_context();
  if (!ctx) fail("init", errno, "smbc_new_context");
  smbc_setDebug(ctx, 0);
  smbc_setOptionDebugToStderr(ctx, 1); // stdout carries only our lines
  smbc_setTimeout(ctx, (int)(timeout_sec * 1000));
  smbc_setPort(ctx, (uint16_t)port);
  smbc_setOptionNoAutoAnonymousLogin(ctx, 1); // a refused logon fails; it never becomes a guest session
  smbc_setFunctionAuthDataWithContext(ctx, auth_fn);
  if (!smbc_init_context(ctx)) fail("init", errno, "smbc_init_context");
  if (!smbc_setOptionProtocols(ctx, "SMB3", "SMB3")) fail("init", 0, "cannot restrict the protocol to SMB3");
  smbc_set_context(ctx);
  return ctx;
}

/** Parses -A AUTH -p PORT -t TIMEOUT; returns optind. */
static int smb_options(int argc, char **argv, const char **auth, long *port, long *timeout_sec) {
  for (int opt; (opt = getopt(argc, argv, "A:p:t:")) != -1;) {
    if (opt == 'A') *auth = optarg;
    else if (opt == 'p') *port = strtol(optarg, NULL, 10);
    else if (opt == 't') *timeout_sec = strtol(optarg, NULL, 10);
    else fail("usage", 0, "unknown option");
  }
  return *auth && *port > 0 && *port <= 65535 && *timeout_sec > 0 ? optind : -1;
}

#endif
