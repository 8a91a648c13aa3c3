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

#include "smb-common.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

// Zero runs are skipped at the granularity of a file system block on the share (4 KiB on
// ext4/xfs/btrfs): a smaller zero run could not become a hole there, and data extents are
// themselves in such blocks, so runs stay long and writes few.
#define BLOCK 4096
// Bytes read (and at most written) per call: large SMB3 writes, few round trips.
#define CHUNK (4 * 1024 * 1024)
#define PROGRESS_MS 250

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
  int first = smb_options(argc, argv, &auth, &port, &timeout_sec);
  if (first < 0 || first + 2 != argc) {
    fail("usage", 0, "usage: smb-sparse-put -A AUTH_FILE -p PORT -t TIMEOUT_SEC LOCAL_FILE smb://HOST/SHARE/PATH");
  }
  const char *local = argv[first], *url = argv[first + 1];

  int in = open(local, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (in < 0 || fstat(in, &st) < 0) fail("local", errno, "cannot read the local file");
  unsigned char *buf = malloc(CHUNK);
  if (!buf) fail("local", ENOMEM, "no memory for the buffer");

  SMBCCTX *ctx = smb_connect(auth, port, timeout_sec);

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
