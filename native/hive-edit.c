// hive-edit: reads and edits one Windows registry hive file (SYSTEM, SOFTWARE, ...) through
// libhivex, for the engine's offline Windows preparation (engine/prepare/windows/registry.ts).
// The hive is loaded into memory; nothing is written to the file until `commit`.
//
//   hive-edit HIVE_FILE
//
// Once the hive is open the tool prints one line:
//   "ready"   or   "fail <CODE> <text>" and exits 2. CODE is GUEST_REGISTRY_CORRUPT when hivex
//   refuses the file (not a hive, bad checksum, truncated), GUEST_EDIT_FAILED when the file
//   cannot be opened read-write at all.
// Then, one command per line on stdin, answers on stdout. Arguments are percent-encoded as in
// volume-tool.h (every byte outside [A-Za-z0-9._~/-] as %XX, UTF-8), and a lone "-" is the
// empty string (a name that really is "-" is sent as "%2D"), so that every argument is a word.
//   KEY   a path from the hive's root, components separated by '\' ("-" or "\" is the root),
//         matched case-insensitively like Windows does.
//   NAME  a value name; the empty name ("-") is the key's default value.
//   TYPE  the REG_* number in decimal (1 REG_SZ, 2 REG_EXPAND_SZ, 3 REG_BINARY, 4 REG_DWORD,
//         5 REG_DWORD_BIG_ENDIAN, 7 REG_MULTI_SZ, 11 REG_QWORD, ...).
//
//   get KEY NAME            -> "ok <type> <n>" then n raw bytes | "none" (no such key or value)
//   values KEY              -> "ok <n>" then n lines "<name> <type> <length>" | err ENOENT
//   keys KEY                -> "ok <n>" then n lines "<name>" | err ENOENT
//   set KEY NAME TYPE N     + N raw bytes -> "ok"  (creates missing keys along KEY; the other
//                              values of the key stay as they are; an existing value keeps the
//                              case of its name)
//   delvalue KEY NAME       -> "ok"  (no such key or value: "ok", nothing changes)
//   delkey KEY              -> "ok"  (with its subkeys and values; no such key: "ok"; the root: err EINVAL)
//   commit                  -> "ok"  once the hive file is rewritten with every change so far
//   quit                    -> "ok", exit 0 (changes not committed are dropped)
// Any command may answer "err <ERRNO name> <text>" and the loop goes on. A broken channel
// (stdin ends without quit, short data) exits 1 with one line on stderr, writing nothing.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <hivex.h>
#include <locale.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wctype.h>

#include "line-protocol.h"

// Registry values are small (Windows itself caps them near 1 MiB); this bounds a bad request.
#define MAX_VALUE_BYTES (64 * 1024 * 1024)
#define MAX_ARGS 5

static hive_h *hive;
static char message[512];

// ---- percent encoding (line-protocol.h, plus "-" for the empty string) ----

/** An argument: percent-encoded, a lone "-" for the empty string; -1 on a bad escape. */
static int decode_argument(char *s) {
  if (strcmp(s, "-") == 0) {
    s[0] = 0;
    return 0;
  }
  return percent_decode(s);
}

/** A name in an answer, encoded as arguments are. */
static void print_name(const char *s) {
  if (!*s) fputc('-', stdout);
  else if (strcmp(s, "-") == 0) fputs("%2D", stdout);
  else print_encoded(stdout, s);
}

// ---- keys ----

/** The next code point of UTF-8 text (hivex gives names as UTF-8); a stray byte stands for itself. */
static uint32_t next_code_point(const unsigned char **text) {
  const unsigned char *p = *text;
  int extra = p[0] >= 0xf0 ? 3 : p[0] >= 0xe0 ? 2 : p[0] >= 0xc0 ? 1 : 0;
  uint32_t c = extra ? p[0] & (0x3f >> extra) : p[0];
  for (int i = 1; i <= extra; i++) {
    if ((p[i] & 0xc0) != 0x80) {
      *text = p + 1;
      return p[0];
    }
    c = c << 6 | (p[i] & 0x3f);
  }
  *text = p + 1 + extra;
  return c;
}

/** Windows compares key and value names with every character upper-cased. */
static int names_equal(const char *a, const char *b) {
  const unsigned char *p = (const unsigned char *)a, *q = (const unsigned char *)b;
  while (*p && *q) {
    uint32_t x = next_code_point(&p), y = next_code_point(&q);
    if (x != y && towupper((wint_t)x) != towupper((wint_t)y)) return 0;
  }
  return !*p && !*q;
}

/** The subkey called `name`, or 0: errno 0 when there is none, else why reading failed. */
static hive_node_h find_child(hive_node_h node, const char *name) {
  errno = 0;
  hive_node_h *children = hivex_node_children(hive, node);
  if (!children) return 0;
  hive_node_h found = 0;
  int err = 0;
  for (size_t i = 0; children[i] && !found && !err; i++) {
    char *child = hivex_node_name(hive, children[i]);
    if (!child) err = errno ? errno : EIO;
    else if (names_equal(child, name)) found = children[i];
    free(child);
  }
  free(children);
  errno = err;
  return found;
}

/**
 * Walks KEY from the root. Returns the node, or 0 with *err = 0 when a component is missing
 * (then, with `create`, adds it and the rest), or 0 with *err = errno on a hivex failure.
 */
static hive_node_h find_key(const char *path, int create, int *err) {
  *err = 0;
  hive_node_h node = hivex_root(hive);
  if (!node) {
    *err = errno ? errno : EIO;
    return 0;
  }
  char *copy = strdup(path);
  if (!copy) die("out of memory");
  for (char *save = NULL, *name = strtok_r(copy, "\\", &save); name; name = strtok_r(NULL, "\\", &save)) {
    hive_node_h child = find_child(node, name);
    if (!child && errno) {
      *err = errno;
      snprintf(message, sizeof message, "reading the subkeys of a key on the way to %.200s failed", path);
      node = 0;
      break;
    }
    if (!child && create) {
      child = hivex_node_add_child(hive, node, name);
      if (!child) {
        *err = errno ? errno : EIO;
        snprintf(message, sizeof message, "creating the key %.200s failed", name);
        node = 0;
        break;
      }
    }
    node = child;
    if (!node) break;
  }
  free(copy);
  return node;
}

/** The value called `name`, or 0: errno 0 when there is none, else why reading failed. */
static hive_value_h find_value(hive_node_h node, const char *name) {
  errno = 0;
  hive_value_h *values = hivex_node_values(hive, node);
  if (!values) return 0;
  hive_value_h found = 0;
  int err = 0;
  for (size_t i = 0; values[i] && !found && !err; i++) {
    char *key = hivex_value_key(hive, values[i]);
    if (!key) err = errno ? errno : EIO;
    else if (names_equal(key, name)) found = values[i];
    free(key);
  }
  free(values);
  errno = err;
  return found;
}

// ---- commands ----

static int cmd_get(const char *key, const char *name) {
  int err;
  hive_node_h node = find_key(key, 0, &err);
  if (!node) {
    if (err) return -err;
    printf("none\n");
    return 0;
  }
  hive_value_h value = find_value(node, name);
  if (!value) {
    if (errno) return -errno;
    printf("none\n");
    return 0;
  }
  hive_type type;
  size_t length;
  char *data = hivex_value_value(hive, value, &type, &length);
  if (!data) return -(errno ? errno : EIO);
  printf("ok %u %zu\n", (unsigned)type, length);
  fwrite(data, 1, length, stdout);
  free(data);
  return 0;
}

static int cmd_values(const char *key) {
  int err;
  hive_node_h node = find_key(key, 0, &err);
  if (!node) return err ? -err : -ENOENT;
  hive_value_h *values = hivex_node_values(hive, node);
  if (!values) return -(errno ? errno : EIO);
  // Everything is read before the answer starts, so a failure is still one "err" line.
  size_t n = 0;
  while (values[n]) n++;
  char **names = calloc(n + 1, sizeof *names);
  hive_type *types = calloc(n + 1, sizeof *types);
  size_t *lengths = calloc(n + 1, sizeof *lengths);
  if (!names || !types || !lengths) die("out of memory");
  int result = 0;
  for (size_t i = 0; i < n && !result; i++) {
    names[i] = hivex_value_key(hive, values[i]);
    if (!names[i] || hivex_value_type(hive, values[i], &types[i], &lengths[i]) < 0) result = -(errno ? errno : EIO);
  }
  if (!result) {
    printf("ok %zu\n", n);
    for (size_t i = 0; i < n; i++) {
      print_name(names[i]);
      printf(" %u %zu\n", (unsigned)types[i], lengths[i]);
    }
  }
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  free(types);
  free(lengths);
  free(values);
  return result;
}

static int cmd_keys(const char *key) {
  int err;
  hive_node_h node = find_key(key, 0, &err);
  if (!node) return err ? -err : -ENOENT;
  hive_node_h *children = hivex_node_children(hive, node);
  if (!children) return -(errno ? errno : EIO);
  size_t n = 0;
  while (children[n]) n++;
  char **names = calloc(n + 1, sizeof *names);
  if (!names) die("out of memory");
  int result = 0;
  for (size_t i = 0; i < n && !result; i++)
    if (!(names[i] = hivex_node_name(hive, children[i]))) result = -(errno ? errno : EIO);
  if (!result) {
    printf("ok %zu\n", n);
    for (size_t i = 0; i < n; i++) {
      print_name(names[i]);
      putchar('\n');
    }
  }
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  free(children);
  return result;
}

static int cmd_set(const char *key, const char *name, hive_type type, char *data, size_t length) {
  int err;
  hive_node_h node = find_key(key, 1, &err);
  if (!node) return -(err ? err : EIO);
  // An existing value keeps its name as written (Windows keeps the first spelling too).
  char *existing = NULL;
  hive_value_h value = find_value(node, name);
  if (!value && errno) return -errno;
  if (value && !(existing = hivex_value_key(hive, value))) return -(errno ? errno : EIO);
  hive_set_value v = {.key = existing ? existing : (char *)name, .t = type, .len = length, .value = data};
  int rc = hivex_node_set_value(hive, node, &v, 0);
  err = errno;
  free(existing);
  if (rc < 0) {
    snprintf(message, sizeof message, "hivex could not set the value: %s", strerror(err ? err : EIO));
    return -(err ? err : EIO);
  }
  return 0;
}

static int cmd_delvalue(const char *key, const char *name) {
  int err;
  hive_node_h node = find_key(key, 0, &err);
  if (!node) return err ? -err : 0;
  hive_value_h *values = hivex_node_values(hive, node);
  if (!values) return -(errno ? errno : EIO);
  // hivex deletes no single value: the key's values are rewritten without that one.
  size_t n = 0;
  while (values[n]) n++;
  hive_set_value *keep = calloc(n + 1, sizeof *keep);
  if (!keep) die("out of memory");
  size_t kept = 0;
  int found = 0, result = 0;
  for (size_t i = 0; i < n && !result; i++) {
    char *vname = hivex_value_key(hive, values[i]);
    if (!vname) {
      result = -(errno ? errno : EIO);
      break;
    }
    if (!found && names_equal(vname, name)) {
      found = 1;
      free(vname);
      continue;
    }
    hive_set_value *k = &keep[kept++];
    k->key = vname;
    k->value = hivex_value_value(hive, values[i], &k->t, &k->len);
    if (!k->value) result = -(errno ? errno : EIO);
  }
  if (!result && found && hivex_node_set_values(hive, node, kept, keep, 0) < 0) result = -(errno ? errno : EIO);
  for (size_t i = 0; i < kept; i++) {
    free(keep[i].key);
    free(keep[i].value);
  }
  free(keep);
  free(values);
  return result;
}

static int cmd_delkey(const char *key) {
  int err;
  hive_node_h node = find_key(key, 0, &err);
  if (!node) return err ? -err : 0;
  if (node == hivex_root(hive)) {
    snprintf(message, sizeof message, "the root key of a hive cannot be deleted");
    return -EINVAL;
  }
  return hivex_node_delete_child(hive, node) < 0 ? -(errno ? errno : EIO) : 0;
}

// ---- opening ----

static uint32_t le32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

/**
 * What is wrong with the hive file's base block, in words, or NULL when nothing is. Run after
 * hivex refused a file (to say why) and after it accepted one: hivex accepts a hive cut short
 * at a bin boundary, which Windows would not load.
 */
static const char *header_problem(const char *file) {
  unsigned char base[512];
  struct stat st;
  FILE *f = fopen(file, "rb");
  size_t got = f ? fread(base, 1, sizeof base, f) : 0;
  int sized = f && fstat(fileno(f), &st) == 0;
  if (f) fclose(f);
  if (got < sizeof base || memcmp(base, "regf", 4) != 0) return "it does not start with a registry hive header (\"regf\")";
  uint32_t sum = 0;
  for (size_t i = 0; i < 0x1fc; i += 4) sum ^= le32(base + i);
  if (sum == 0) sum = 1;
  if (sum == UINT32_MAX) sum = UINT32_MAX - 1;
  if (sum != le32(base + 0x1fc)) return "its header checksum is wrong (the header is damaged)";
  if (sized && (uint64_t)st.st_size < 4096 + (uint64_t)le32(base + 0x28)) return "it is shorter than its header says (truncated)";
  return NULL;
}

static void open_hive(const char *file) {
  int fd = open(file, O_RDWR);
  if (fd < 0) refuse_to_start("GUEST_EDIT_FAILED", "cannot open %s read-write: %s", file, strerror(errno));
  close(fd);
  hive = hivex_open(file, HIVEX_OPEN_WRITE);
  if (!hive) {
    int err = errno;
    const char *why = header_problem(file);
    if (why) refuse_to_start("GUEST_REGISTRY_CORRUPT", "%s is not a usable registry hive: %s", file, why);
    refuse_to_start("GUEST_REGISTRY_CORRUPT", "%s is not a usable registry hive: hivex refused it (%s): damaged or truncated hive bins", file, strerror(err ? err : EINVAL));
  }
  const char *why = header_problem(file);
  if (why) refuse_to_start("GUEST_REGISTRY_CORRUPT", "%s is not a usable registry hive: %s", file, why);
}

// ---- the command loop ----

static void answer_error(int err) {
  const char *name = strerrorname_np(err);
  printf("err %s %s\n", name ? name : "EIO", message[0] ? message : strerror(err));
  message[0] = 0;
}

static int parse_number(const char *s, unsigned long long max, unsigned long long *out) {
  char *end;
  errno = 0;
  unsigned long long n = strtoull(s, &end, 10);
  if (errno || !*s || *end || n > max) return -1;
  *out = n;
  return 0;
}

/** Reads the data even when the arguments are bad: the channel stays in step. */
static int run_set(char **argv, int bad) {
  unsigned long long type, length;
  if (parse_number(argv[4], MAX_VALUE_BYTES, &length) < 0) die("command channel: bad length in set");
  char *data = malloc(length ? length : 1);
  if (!data) die("out of memory for %llu bytes", length);
  if (fread(data, 1, length, stdin) != length) die("command channel: short data for set");
  int err;
  if (bad) {
    snprintf(message, sizeof message, "a bad percent escape in the arguments");
    err = -EINVAL;
  } else if (parse_number(argv[3], UINT32_MAX, &type) < 0) {
    snprintf(message, sizeof message, "bad value type %.20s", argv[3]);
    err = -EINVAL;
  } else err = cmd_set(argv[1], argv[2], (hive_type)type, data, length);
  free(data);
  return err;
}

int main(int argc, char **argv) {
  if (argc != 2) die("usage: hive-edit HIVE_FILE");
  const char *file = argv[1];
  setlocale(LC_CTYPE, "C.UTF-8"); // towupper beyond ASCII; without that locale, ASCII only
  open_hive(file);
  printf("ready\n");
  fflush(stdout);

  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  while ((len = getline(&line, &cap, stdin)) > 0) {
    if (line[len - 1] == '\n') line[--len] = 0;
    char *args[MAX_ARGS + 1] = {0};
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(line, " ", &save); tok && n <= MAX_ARGS; tok = strtok_r(NULL, " ", &save)) args[n++] = tok;
    if (n == 0) continue;
    const char *cmd = args[0];
    int bad = 0;
    for (int i = 1; i < n; i++) bad |= decode_argument(args[i]);
    int err = 0;
    if (strcmp(cmd, "set") == 0 && n == 5) {
      err = run_set(args, bad);
      if (!err) printf("ok\n");
    } else if (bad) {
      snprintf(message, sizeof message, "a bad percent escape in the arguments");
      err = -EINVAL;
    } else if (strcmp(cmd, "get") == 0 && n == 3) {
      err = cmd_get(args[1], args[2]);
    } else if (strcmp(cmd, "values") == 0 && n == 2) {
      err = cmd_values(args[1]);
    } else if (strcmp(cmd, "keys") == 0 && n == 2) {
      err = cmd_keys(args[1]);
    } else if (strcmp(cmd, "delvalue") == 0 && n == 3) {
      if (!(err = cmd_delvalue(args[1], args[2]))) printf("ok\n");
    } else if (strcmp(cmd, "delkey") == 0 && n == 2) {
      if (!(err = cmd_delkey(args[1]))) printf("ok\n");
    } else if (strcmp(cmd, "commit") == 0 && n == 1) {
      if (hivex_commit(hive, NULL, 0) < 0) {
        err = -(errno ? errno : EIO);
        snprintf(message, sizeof message, "writing %.200s failed: %s", file, strerror(-err));
      } else printf("ok\n");
    } else if (strcmp(cmd, "quit") == 0 && n == 1) {
      printf("ok\n");
      fflush(stdout);
      hivex_close(hive);
      free(line);
      return 0;
    } else {
      snprintf(message, sizeof message, "unknown command or wrong number of arguments: %.40s", cmd);
      err = -EINVAL;
    }
    if (err) answer_error(-err);
    fflush(stdout);
  }
  free(line);
  die("command channel: stdin ended without quit; nothing was written");
  return 1;
}
