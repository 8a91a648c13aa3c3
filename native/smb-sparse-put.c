// smb-sparse-put: copies a local file to an SMB share sending only its non-zero data, so the
// share stores the file's holes as holes (smbclient put sends every byte, holes as zeros).
//
//   smb-sparse-put -A AUTH_FILE -p PORT -t TIMEOUT_SEC LOCAL_FILE smb://HOST/SHARE/DIR/NAME
//
// AUTH_FILE is smbclient's -A format (username=, password=, domain= lines): the password is
// never on the command line or in the environment, and never printed. The URL's segments are
// percent-encoded. Flow: open the remote file O_WRONLY|O_CREAT|O_TRUNC (SMB3 only), walk the
// local file's data extents (SEEK_DATA/SEEK_HOLE), read them in CHUNK pieces, write each run of
// non-zero BLOCKs at its offset, set the size with ftruncate (trailing holes), close.
//
// stdout: "progress <bytes covered> <size>" at most every PROGRESS_MS, then "done <size> <bytes sent>".
// On failure, one line on stderr, exit 1: "error <step> <ERRNO name or -> <text>", where step is
// usage | auth | local | init | open | write | truncate | close.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libsmbclient.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

// Zero runs are skipped at the granularity of a file system block on the share (4 KiB on
// ext4/xfs/btrfs): a smaller zero run could not become a hole there, and data extents are
// themselves in such blocks, so runs stay long and writes few.
#define BLOCK 4096
// Bytes read (and at most written) per call: large SMB3 writes, few round trips.
#define CHUNK (4 * 1024 * 1024)
#define PROGRESS_MS 250

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

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int is_zero(const unsigned char *p, size_t n) {
  // The first byte, then the buffer against itself shifted by one: all equal to p[0].
  return p[0] == 0 && memcmp(p, p + 1, n - 1) == 0;
}

static void write_at(int fd, const unsigned char *buf, size_t len, off_t offset) {
  if (smbc_lseek(fd, offset, SEEK_SET) < 0) fail("write", errno, "seeking to %lld", (long long)offset);
  while (len > 0) {
    ssize_t n = smbc_write(fd, buf, len);
    if (n < 0) fail("write", errno, "writing %zu bytes at %lld", len, (long long)offset);
    if (n == 0) fail("write", EIO, "the server accepted no bytes at %lld", (long long)offset);
    buf += n, len -= (size_t)n, offset += n;
  }
}

int main(int argc, char **argv) {
  const char *auth = NULL;
  long port = 445, timeout_sec = 60;
  for (int opt; (opt = getopt(argc, argv, "A:p:t:")) != -1;) {
    if (opt == 'A') auth = optarg;
    else if (opt == 'p') port = strtol(optarg, NULL, 10);
    else if (opt == 't') timeout_sec = strtol(optarg, NULL, 10);
    else fail("usage", 0, "unknown option");
  }
  if (!auth || optind + 2 != argc || port <= 0 || port > 65535 || timeout_sec <= 0) {
    fail("usage", 0, "usage: smb-sparse-put -A AUTH_FILE -p PORT -t TIMEOUT_SEC LOCAL_FILE smb://HOST/SHARE/PATH");
  }
  const char *local = argv[optind], *url = argv[optind + 1];
  signal(SIGPIPE, SIG_IGN); // a dropped connection is an EPIPE/ECONNRESET we report, not a silent death
  read_auth_file(auth);

  int in = open(local, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (in < 0 || fstat(in, &st) < 0) fail("local", errno, "cannot read the local file");
  unsigned char *buf = malloc(CHUNK);
  if (!buf) fail("local", ENOMEM, "no memory for the buffer");

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

  int out = smbc_open(url, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (out < 0) fail("open", errno, "opening the remote file");

  off_t pos = 0;
  uint64_t sent = 0;
  int64_t last = now_ms();
  while (pos < st.st_size) {
    off_t data = lseek(in, pos, SEEK_DATA);
    if (data < 0 && errno == ENXIO) break; // only a hole is left
    if (data < 0) fail("local", errno, "SEEK_DATA at %lld", (long long)pos);
    off_t end = lseek(in, data, SEEK_HOLE);
    if (end < 0) fail("local", errno, "SEEK_HOLE at %lld", (long long)data);
    for (pos = data; pos < end;) {
      size_t len = (size_t)(end - pos < CHUNK ? end - pos : CHUNK);
      ssize_t got = pread(in, buf, len, pos);
      if (got <= 0) fail("local", got < 0 ? errno : EIO, "reading at %lld", (long long)pos);
      // Runs of non-zero blocks, blocks aligned to the file's offsets (as the share's are).
      size_t run = 0, i = 0;
      int in_run = 0;
      while (i < (size_t)got) {
        size_t next = (size_t)(((pos + (off_t)i) / BLOCK + 1) * BLOCK - pos);
        if (next > (size_t)got) next = (size_t)got;
        int zero = is_zero(buf + i, next - i);
        if (!zero && !in_run) run = i, in_run = 1;
        if (zero && in_run) {
          write_at(out, buf + run, i - run, pos + (off_t)run);
          sent += i - run, in_run = 0;
        }
        i = next;
      }
      if (in_run) write_at(out, buf + run, (size_t)got - run, pos + (off_t)run), sent += (size_t)got - run;
      pos += got;
      if (now_ms() - last >= PROGRESS_MS) {
        printf("progress %lld %lld\n", (long long)pos, (long long)st.st_size);
        fflush(stdout);
        last = now_ms();
      }
    }
  }
  if (smbc_ftruncate(out, st.st_size) < 0) fail("truncate", errno, "setting the size to %lld", (long long)st.st_size);
  if (smbc_close(out) < 0) fail("close", errno, "closing the remote file");
  explicit_bzero(&creds, sizeof creds);
  smbc_free_context(ctx, 1);
  printf("done %lld %llu\n", (long long)st.st_size, (unsigned long long)sent);
  return 0;
}
