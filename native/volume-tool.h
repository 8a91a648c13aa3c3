// volume-tool.h: what the guest volume tools (ntfs-edit.c, ext4-edit.c) share. A tool edits one
// file system inside a disk image without mounting it and without touching the image itself:
// its block device is served by the engine on fd 3 (the engine keeps every write in a
// copy-on-write overlay, so the source is never modified), and it takes file commands on stdin.
//
//   TOOL --size BYTES        (the volume's size; the device is the volume, offset 0)
//
// Device channel, fd 3 (one request at a time, the tool asks, the engine answers):
//   "R <offset> <length>\n"             -> "OK <length>\n" + length bytes
//   "W <offset> <length>\n" + bytes     -> "OK 0\n"
//   "S\n" (flush)                       -> "OK 0\n"
//   any request may get "ERR <ERRNO name> <text>\n" instead (the tool fails that operation with EIO)
// Command channel (stdin -> stdout). Once the volume is open the tool prints one line:
//   "ready <key>=<value> ..."  (values percent-encoded)   or   "fail <CODE> <text>" and exits 2.
// Then, one command per line, arguments percent-encoded (every byte outside [A-Za-z0-9._~/-]
// as %XX), paths absolute with '/' separators:
//   stat PATH               -> "ok <file|dir|symlink|other> <size>"
//   ls PATH                 -> "ok <n>" then n lines "<name> <file|dir|symlink|other>"
//   cat PATH                -> "ok <size>" then size bytes
//   put PATH SIZE MODE      + SIZE bytes -> "ok"   (creates or replaces a file; MODE octal, for ext4)
//   mkdir PATH MODE         -> "ok"   (the parent must exist)
//   rm PATH                 -> "ok"   (a file, a symlink or an empty directory)
//   symlink PATH TARGET     -> "ok"   (ext4 only; ntfs answers ENOTSUP)
//   quit                    -> "ok"   (everything flushed, the volume closed), exit 0
// Any command may answer "err <ERRNO name> <text>" and the loop goes on. A broken channel or a
// failure to close the volume cleanly exits 1 with one line on stderr.

#ifndef VOLUME_TOOL_H
#define VOLUME_TOOL_H

#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "line-protocol.h"

// Files the tools read or write whole (hives, scripts, installers) are bounded by this.
#define MAX_FILE_BYTES (1024LL * 1024 * 1024)
#define DEVICE_FD 3

static uint64_t device_size;
static FILE *device_in;

static void write_all(int fd, const void *data, size_t length) {
  const char *p = data;
  while (length > 0) {
    ssize_t n = write(fd, p, length);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) die("device channel: write failed: %s", strerror(errno));
    p += n;
    length -= (size_t)n;
  }
}

// Reads the engine's answer header; returns the body length, or -EIO after an ERR line.
static long long device_answer(void) {
  char line[512];
  if (!fgets(line, sizeof line, device_in)) die("device channel: closed by the engine");
  long long n;
  if (sscanf(line, "OK %lld", &n) == 1 && n >= 0) return n;
  if (strncmp(line, "ERR ", 4) == 0) return -EIO;
  die("device channel: unexpected answer: %.100s", line);
  return -EIO;
}

/** Reads length bytes at offset of the volume: 0, or -errno. */
static int device_read(void *buf, uint64_t offset, size_t length) {
  if (offset > device_size || length > device_size - offset) return -EINVAL;
  char head[96];
  int h = snprintf(head, sizeof head, "R %" PRIu64 " %zu\n", offset, length);
  write_all(DEVICE_FD, head, (size_t)h);
  long long n = device_answer();
  if (n < 0) return (int)n;
  if ((size_t)n != length) die("device channel: asked for %zu bytes, got %lld", length, n);
  if (fread(buf, 1, length, device_in) != length) die("device channel: short read");
  return 0;
}

/** Writes length bytes at offset of the volume: 0, or -errno. */
static int device_write(const void *buf, uint64_t offset, size_t length) {
  if (offset > device_size || length > device_size - offset) return -EINVAL;
  char head[96];
  int h = snprintf(head, sizeof head, "W %" PRIu64 " %zu\n", offset, length);
  write_all(DEVICE_FD, head, (size_t)h);
  write_all(DEVICE_FD, buf, length);
  long long n = device_answer();
  return n < 0 ? (int)n : 0;
}

static int device_sync(void) {
  write_all(DEVICE_FD, "S\n", 2);
  long long n = device_answer();
  return n < 0 ? (int)n : 0;
}

// ---- what each tool implements ----

enum entry_type { ENTRY_FILE, ENTRY_DIR, ENTRY_SYMLINK, ENTRY_OTHER };
static const char *const ENTRY_NAMES[] = {"file", "dir", "symlink", "other"};

/** Called by `list` once per entry (never for "." and ".."). */
typedef void (*list_emit)(void *ctx, const char *name, enum entry_type type);

// Every operation returns 0 or -errno, and may leave a human explanation in tool_message.
static char tool_message[512];

struct volume_ops {
  int (*stat)(const char *path, enum entry_type *type, uint64_t *size);
  int (*list)(const char *path, list_emit emit, void *ctx);
  /** The whole file in a malloc'd buffer the caller frees. */
  int (*read_file)(const char *path, char **data, size_t *size);
  int (*write_file)(const char *path, const char *data, size_t size, unsigned mode);
  int (*make_dir)(const char *path, unsigned mode);
  int (*remove)(const char *path);
  /** NULL where the file system has none. */
  int (*symlink)(const char *path, const char *target);
  /** Flushes and closes the volume. */
  int (*close)(void);
};

/** argv -> device_size; opens the device channel. */
static void volume_tool_init(int argc, char **argv, const char *usage) {
  char *end = NULL;
  if (argc != 3 || strcmp(argv[1], "--size") != 0) die("usage: %s", usage);
  errno = 0;
  unsigned long long size = strtoull(argv[2], &end, 10);
  if (errno || !end || *end || size == 0) die("usage: %s", usage);
  device_size = size;
  device_in = fdopen(DEVICE_FD, "r");
  if (!device_in) die("device channel: fd %d is not open: %s", DEVICE_FD, strerror(errno));
}

static void answer_error(int err) {
  const char *name = strerrorname_np(err);
  printf("err %s %s\n", name ? name : "EIO", tool_message[0] ? tool_message : strerror(err));
  tool_message[0] = 0;
}

static void emit_entry(void *ctx, const char *name, enum entry_type type) {
  FILE *list = ctx;
  print_encoded(list, name);
  fprintf(list, " %s\n", ENTRY_NAMES[type]);
}

/** The command loop; returns when stdin ends or after quit. Exits 1 when closing fails. */
static void volume_tool_run(const struct volume_ops *ops) {
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  while ((len = getline(&line, &cap, stdin)) > 0) {
    if (line[len - 1] == '\n') line[--len] = 0;
    char *argv[4] = {0};
    int argc = 0;
    for (char *save = NULL, *tok = strtok_r(line, " ", &save); tok && argc < 4; tok = strtok_r(NULL, " ", &save)) argv[argc++] = tok;
    if (argc == 0) continue;
    const char *cmd = argv[0];
    int bad = 0;
    for (int i = 1; i < argc; i++) bad |= percent_decode(argv[i]);
    int err = 0;
    if (bad) {
      snprintf(tool_message, sizeof tool_message, "a bad percent escape in the arguments");
      err = -EINVAL;
    } else if (strcmp(cmd, "stat") == 0 && argc == 2) {
      enum entry_type type;
      uint64_t size = 0;
      if (!(err = ops->stat(argv[1], &type, &size))) printf("ok %s %" PRIu64 "\n", ENTRY_NAMES[type], size);
    } else if (strcmp(cmd, "ls") == 0 && argc == 2) {
      char *buf = NULL;
      size_t buf_len = 0;
      FILE *list = open_memstream(&buf, &buf_len);
      if (!(err = ops->list(argv[1], emit_entry, list))) {
        fclose(list);
        size_t n = 0;
        for (size_t i = 0; i < buf_len; i++) n += buf[i] == '\n';
        printf("ok %zu\n", n);
        fwrite(buf, 1, buf_len, stdout);
      } else fclose(list);
      free(buf);
    } else if (strcmp(cmd, "cat") == 0 && argc == 2) {
      char *data = NULL;
      size_t size = 0;
      if (!(err = ops->read_file(argv[1], &data, &size))) {
        printf("ok %zu\n", size);
        fwrite(data, 1, size, stdout);
      }
      free(data);
    } else if (strcmp(cmd, "put") == 0 && argc == 4) {
      char *end;
      long long size = strtoll(argv[2], &end, 10);
      if (*end || size < 0 || size > MAX_FILE_BYTES) die("command channel: bad size in put");
      char *data = malloc(size ? (size_t)size : 1);
      if (!data) die("out of memory for %lld bytes", size);
      if (fread(data, 1, (size_t)size, stdin) != (size_t)size) die("command channel: short data for put");
      unsigned mode = (unsigned)strtoul(argv[3], &end, 8);
      err = *end ? -EINVAL : ops->write_file(argv[1], data, (size_t)size, mode);
      if (!err) printf("ok\n");
      free(data);
    } else if (strcmp(cmd, "mkdir") == 0 && argc == 3) {
      char *end;
      unsigned mode = (unsigned)strtoul(argv[2], &end, 8);
      if (!(err = *end ? -EINVAL : ops->make_dir(argv[1], mode))) printf("ok\n");
    } else if (strcmp(cmd, "rm") == 0 && argc == 2) {
      if (!(err = ops->remove(argv[1]))) printf("ok\n");
    } else if (strcmp(cmd, "symlink") == 0 && argc == 3) {
      if (!(err = ops->symlink ? ops->symlink(argv[1], argv[2]) : -ENOTSUP)) printf("ok\n");
    } else if (strcmp(cmd, "quit") == 0 && argc == 1) {
      if ((err = ops->close())) die("closing the volume failed: %s %s", strerrorname_np(-err), tool_message[0] ? tool_message : strerror(-err));
      printf("ok\n");
      fflush(stdout);
      free(line);
      exit(0);
    } else {
      snprintf(tool_message, sizeof tool_message, "unknown command or wrong number of arguments: %.40s", cmd);
      err = -EINVAL;
    }
    if (err) answer_error(-err);
    fflush(stdout);
  }
  free(line);
  // stdin closed without quit: the engine gave up; nothing is flushed on purpose.
  exit(1);
}

#endif
