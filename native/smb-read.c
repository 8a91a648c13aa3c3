// smb-read: serves ranged reads of one file on an SMB share, so the engine reads a disk in
// place (only the ranges it needs) instead of downloading it whole (smbclient get).
//
//   smb-read -A AUTH_FILE -p PORT -t TIMEOUT_SEC smb://HOST/SHARE/DIR/NAME
//
// AUTH_FILE, the URL and the SMB3-only context are as for smb-sparse-put (smb-common.h).
// Protocol, once the file is open read-only:
//   stdout: "size <bytes>\n"
//   stdin:  "<offset> <length>\n" requests (length <= MAX_REQUEST), queued freely, answered in order
//   stdout: "data <n>\n" then exactly n bytes; n < length only at the end of the file
// Closing stdin ends it (exit 0). On failure, one line on stderr, exit 1:
// "error <step> <ERRNO name or -> <text>", step = usage | auth | init | open | request | read.

#include "smb-common.h"

#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>

// The largest request: bounds this process's memory; the engine splits longer reads.
#define MAX_REQUEST (16 * 1024 * 1024)

int main(int argc, char **argv) {
  const char *auth = NULL;
  long port = 445, timeout_sec = 60;
  int first = smb_options(argc, argv, &auth, &port, &timeout_sec);
  if (first < 0 || first + 1 != argc) fail("usage", 0, "usage: smb-read -A AUTH_FILE -p PORT -t TIMEOUT_SEC smb://HOST/SHARE/PATH");
  const char *url = argv[first];
  unsigned char *buf = malloc(MAX_REQUEST);
  if (!buf) fail("init", ENOMEM, "no memory for the buffer");
  SMBCCTX *ctx = smb_connect(auth, port, timeout_sec);

  int fd = smbc_open(url, O_RDONLY, 0);
  if (fd < 0) fail("open", errno, "opening the remote file");
  struct stat st;
  if (smbc_fstat(fd, &st) < 0) fail("open", errno, "reading the remote file's size");
  if (!S_ISREG(st.st_mode)) fail("open", EISDIR, "the remote path is not a regular file");
  printf("size %lld\n", (long long)st.st_size);
  fflush(stdout);

  char line[128];
  while (fgets(line, sizeof line, stdin)) {
    long long offset, length;
    char extra;
    if (sscanf(line, "%lld %lld %c", &offset, &length, &extra) != 2 || offset < 0 || length < 0 || length > MAX_REQUEST) {
      fail("request", EINVAL, "bad request line");
    }
    size_t got = 0;
    if (offset < st.st_size) {
      if (smbc_lseek(fd, (off_t)offset, SEEK_SET) < 0) fail("read", errno, "seeking to %lld", offset);
      while (got < (size_t)length) {
        ssize_t n = smbc_read(fd, buf + got, (size_t)length - got);
        if (n < 0) fail("read", errno, "reading %lld bytes at %lld", length, offset);
        if (n == 0) break; // the end of the file
        got += (size_t)n;
      }
    }
    printf("data %zu\n", got);
    if (fwrite(buf, 1, got, stdout) != got) fail("read", errno, "writing to stdout");
    fflush(stdout);
  }
  smbc_close(fd);
  explicit_bzero(&creds, sizeof creds);
  smbc_free_context(ctx, 1);
  return 0;
}
