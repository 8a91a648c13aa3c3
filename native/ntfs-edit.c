// ntfs-edit: edits the NTFS file system of a Windows guest volume without mounting it, over
// libntfs-3g, so the engine can put files (scripts, drivers, registry hives) into a disk image.
//
//   ntfs-edit --size BYTES
//
// The volume's bytes come from the engine on fd 3 and the commands on stdin, as
// native/volume-tool.h describes. The volume is refused before anything is written to it when
//   its boot sector says BitLocker (-FVE-FS-)              -> fail GUEST_ENCRYPTED
//   it is not NTFS                                         -> fail GUEST_FILE_SYSTEM_UNSUPPORTED
//   its dirty flag is set, Windows is hibernated or was
//   shut down with Fast Startup, or $LogFile is not clean  -> fail GUEST_VOLUME_UNCLEAN
// Once open: "ready label=<volume name> dirty=0 version=<major.minor>".
//
// Paths are looked up case-insensitively, as Windows does (any name space, DOS 8.3 names
// included). `ls` leaves out ".", "..", the DOS 8.3 duplicate of a long name and the NTFS
// metafiles ($MFT, $LogFile, ... $Extend) at the root, which `stat` still finds. Types: a
// directory is "dir"; a symbolic link or a junction is "symlink"; another reparse point (WOF
// compressed, deduplicated, cloud files: their unnamed $DATA is not their content) and an
// Interix special file are "other"; the rest is "file". `cat` and `put` take files only (a
// reparse point answers EINVAL). New files and directories are made as ntfscp makes them
// (ntfs_create): a security descriptor giving everyone full control, a POSIX-namespace name
// and no 8.3 alias; a name Windows cannot open (CON, a:b, "x.") is refused with EINVAL.

#include "volume-tool.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <ntfs-3g/types.h>
#include <ntfs-3g/attrib.h>
#include <ntfs-3g/device.h>
#include <ntfs-3g/dir.h>
#include <ntfs-3g/inode.h>
#include <ntfs-3g/logging.h>
#include <ntfs-3g/reparse.h>
#include <ntfs-3g/unistr.h>
#include <ntfs-3g/volume.h>

// The longest single request on the device channel: bounds the engine's buffers.
#define MAX_DEVICE_REQUEST (8 * 1024 * 1024)
#define USAGE "ntfs-edit --size BYTES  (the volume on fd 3, commands on stdin)"

static ntfs_volume *volume;
static s64 position;
// Off while the volume is only being inspected: a refused volume is never written.
static int writes_allowed;
// The last error libntfs-3g logged, for messages.
static char library_error[256];

// ---- logging: never on stdout (the command channel) ----

static int log_handler(const char *function, const char *file, int line, u32 level, void *data, const char *format, va_list args) {
  (void)function, (void)file, (void)line, (void)data;
  int err = errno;
  char text[sizeof library_error];
  vsnprintf(text, sizeof text, format, args);
  size_t n = strcspn(text, "\n");
  text[n] = 0;
  if (level & NTFS_LOG_LEVEL_PERROR) snprintf(text + n, sizeof text - n, ": %s", strerror(err));
  fprintf(stderr, "libntfs-3g: %s\n", text);
  if (level & (NTFS_LOG_LEVEL_ERROR | NTFS_LOG_LEVEL_PERROR | NTFS_LOG_LEVEL_CRITICAL)) memcpy(library_error, text, sizeof text);
  errno = err;
  return 0;
}

// ---- the device: the engine's volume on fd 3 ----

static int dev_open(struct ntfs_device *dev, int flags) {
  if (NDevOpen(dev)) {
    errno = EBUSY;
    return -1;
  }
  if ((flags & O_ACCMODE) == O_RDONLY) NDevSetReadOnly(dev);
  else NDevClearReadOnly(dev);
  NDevSetOpen(dev);
  position = 0;
  return 0;
}

static int dev_sync(struct ntfs_device *dev) {
  if (!NDevDirty(dev)) return 0;
  int err = device_sync();
  if (err) {
    errno = -err;
    return -1;
  }
  NDevClearDirty(dev);
  return 0;
}

static int dev_close(struct ntfs_device *dev) {
  int result = dev_sync(dev);
  NDevClearOpen(dev);
  return result;
}

static s64 dev_seek(struct ntfs_device *dev, s64 offset, int whence) {
  (void)dev;
  s64 base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? position : whence == SEEK_END ? (s64)device_size : -1;
  if (base < 0 || base + offset < 0) {
    errno = EINVAL;
    return -1;
  }
  return position = base + offset;
}

/** Bytes of [offset, offset + count) inside the volume: reads stop short at its end. */
static s64 clamp(s64 count, s64 offset) {
  if (offset < 0 || count < 0) return -1;
  if ((u64)offset >= device_size) return 0;
  return (u64)count > device_size - (u64)offset ? (s64)(device_size - (u64)offset) : count;
}

static s64 dev_pread(struct ntfs_device *dev, void *buf, s64 count, s64 offset) {
  (void)dev;
  s64 total = clamp(count, offset);
  if (total < 0) {
    errno = EINVAL;
    return -1;
  }
  for (s64 done = 0; done < total;) {
    size_t n = total - done > MAX_DEVICE_REQUEST ? MAX_DEVICE_REQUEST : (size_t)(total - done);
    int err = device_read((char *)buf + done, (u64)(offset + done), n);
    if (err) {
      errno = -err;
      return done ? done : -1;
    }
    done += (s64)n;
  }
  return total;
}

static s64 dev_pwrite(struct ntfs_device *dev, const void *buf, s64 count, s64 offset) {
  if (NDevReadOnly(dev) || !writes_allowed) {
    errno = EROFS;
    return -1;
  }
  s64 total = clamp(count, offset);
  if (total < 0 || (count > 0 && total == 0)) {
    errno = total < 0 ? EINVAL : ENOSPC;
    return -1;
  }
  NDevSetDirty(dev);
  for (s64 done = 0; done < total;) {
    size_t n = total - done > MAX_DEVICE_REQUEST ? MAX_DEVICE_REQUEST : (size_t)(total - done);
    int err = device_write((const char *)buf + done, (u64)(offset + done), n);
    if (err) {
      errno = -err;
      return done ? done : -1;
    }
    done += (s64)n;
  }
  return total;
}

static s64 dev_read(struct ntfs_device *dev, void *buf, s64 count) {
  s64 n = dev_pread(dev, buf, count, position);
  if (n > 0) position += n;
  return n;
}

static s64 dev_write(struct ntfs_device *dev, const void *buf, s64 count) {
  s64 n = dev_pwrite(dev, buf, count, position);
  if (n > 0) position += n;
  return n;
}

// A block device as far as libntfs-3g asks: its size by stat and by BLKGETSIZE64.
static int dev_stat(struct ntfs_device *dev, struct stat *st) {
  (void)dev;
  memset(st, 0, sizeof *st);
  st->st_mode = S_IFBLK | 0600;
  st->st_size = (off_t)device_size;
  st->st_blksize = 4096;
  st->st_blocks = (blkcnt_t)(device_size / 512);
  return 0;
}

static int dev_ioctl(struct ntfs_device *dev, unsigned long request, void *argp) {
  (void)dev;
  if (request == BLKGETSIZE64) {
    *(u64 *)argp = device_size;
    return 0;
  }
  if (request == BLKGETSIZE) {
    *(unsigned long *)argp = (unsigned long)(device_size / 512);
    return 0;
  }
  if (request == BLKSSZGET) {
    *(int *)argp = 512;
    return 0;
  }
  if (request == BLKBSZSET) return 0; // nothing to set: the engine serves any offset
  errno = ENOTTY;
  return -1;
}

static struct ntfs_device_operations channel_ops = {
    .open = dev_open,
    .close = dev_close,
    .seek = dev_seek,
    .read = dev_read,
    .write = dev_write,
    .pread = dev_pread,
    .pwrite = dev_pwrite,
    .sync = dev_sync,
    .stat = dev_stat,
    .ioctl = dev_ioctl,
};

// ---- opening the volume ----

/** Refuses what is not plain NTFS from its boot sector, before libntfs-3g reads anything. */
static void check_boot_sector(void) {
  char sector[512];
  if (device_size < sizeof sector) refuse_to_start("GUEST_FILE_SYSTEM_UNSUPPORTED", "the volume is %" PRIu64 " bytes, too small for any file system; check that the right partition was chosen", device_size);
  int err = device_read(sector, 0, sizeof sector);
  if (err) refuse_to_start("GUEST_EDIT_FAILED", "reading the boot sector failed: %s; check that the disk image is readable", strerror(-err));
  if (memcmp(sector + 3, "-FVE-FS-", 8) == 0) {
    refuse_to_start("GUEST_ENCRYPTED", "the volume is encrypted with BitLocker; turn BitLocker off for it in Windows (manage-bde -off, and wait until decryption finishes), then export the disk again");
  }
  if (memcmp(sector + 3, "NTFS    ", 8) != 0) {
    refuse_to_start("GUEST_FILE_SYSTEM_UNSUPPORTED", "the volume is not NTFS (its boot sector has no NTFS signature); check that the right partition was chosen");
  }
}

static ntfs_volume *mount_channel(unsigned long flags) {
  struct ntfs_device *dev = ntfs_device_alloc("fd3", 0, &channel_ops, NULL);
  if (!dev) refuse_to_start("GUEST_EDIT_FAILED", "libntfs-3g could not allocate a device: %s", strerror(errno));
  library_error[0] = 0;
  ntfs_volume *vol = ntfs_device_mount(dev, flags);
  if (!vol) {
    int err = errno;
    ntfs_device_free(dev);
    errno = err;
  }
  return vol;
}

static void fail_unclean(const char *what) {
  refuse_to_start("GUEST_VOLUME_UNCLEAN", "%s; start Windows and shut it down fully (Shift+Shut down, or shutdown /s /t 0; not hibernate and not Fast Startup), or run chkdsk /f on the volume, then export the disk again", what);
}

static void fail_mount(int err) {
  if (err == EPERM) fail_unclean("Windows is hibernated or was shut down with Fast Startup (hiberfil.sys or $LogFile holds unsaved state)");
  if (err == EOPNOTSUPP) fail_unclean("the volume was not closed cleanly (its $LogFile holds changes Windows has not applied)");
  refuse_to_start("GUEST_EDIT_FAILED", "libntfs-3g could not open the volume: %s%s%s; run chkdsk /f on it in Windows and export the disk again", strerror(err), library_error[0] ? ": " : "", library_error);
}

/** Inspects read-only (nothing is written to a refused volume), then opens read-write. */
static void open_volume(void) {
  check_boot_sector();
  writes_allowed = 0;
  ntfs_volume *vol = mount_channel(NTFS_MNT_RDONLY);
  if (!vol) fail_mount(errno);
  if (vol->flags & VOLUME_IS_DIRTY) fail_unclean("the volume is marked dirty (Windows did not close it cleanly, or asked for chkdsk)");
  if (ntfs_umount(vol, FALSE)) refuse_to_start("GUEST_EDIT_FAILED", "libntfs-3g could not close the volume after inspecting it: %s", strerror(errno));
  writes_allowed = 1;
  // The read-write mount checks hiberfil.sys and $LogFile before it writes anything.
  volume = mount_channel(NTFS_MNT_NONE);
  if (!volume) fail_mount(errno);
  // Listings show hidden files but not the metafiles; lookups ignore case only where asked.
  ntfs_set_shown_files(volume, FALSE, TRUE, FALSE);
  NVolSetCaseSensitive(volume);
}

// ---- paths ----

/** A path's name as NTFS stores it: 0, or -errno. */
static int to_ntfs_name(const char *name, ntfschar **uname, int *length) {
  *uname = NULL;
  int n = ntfs_mbstoucs(name, uname);
  if (n < 0) {
    snprintf(tool_message, sizeof tool_message, "the name %.200s is not valid UTF-8", name);
    return -EILSEQ;
  }
  if (n == 0 || n > NTFS_MAX_NAME_LEN) {
    free(*uname);
    *uname = NULL;
    return n ? -ENAMETOOLONG : -EINVAL;
  }
  *length = n;
  return 0;
}

/** The entry `name` of `dir`, matched ignoring case as Windows does: opened, or -errno. */
static int open_child(ntfs_inode *dir, const char *name, ntfs_inode **child) {
  if (!(dir->mrec->flags & MFT_RECORD_IS_DIRECTORY)) return -ENOTDIR;
  if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
    snprintf(tool_message, sizeof tool_message, "paths are absolute and hold no . or .. components");
    return -EINVAL;
  }
  ntfschar *uname;
  int length, err = to_ntfs_name(name, &uname, &length);
  if (err) return err;
  NVolClearCaseSensitive(volume);
  u64 mref = ntfs_inode_lookup_by_name(dir, uname, length);
  int lookup_errno = errno;
  NVolSetCaseSensitive(volume);
  free(uname);
  if (mref == (u64)-1) return lookup_errno == ENOENT ? -ENOENT : -(lookup_errno ? lookup_errno : EIO);
  *child = ntfs_inode_open(volume, MREF(mref));
  return *child ? 0 : -(errno ? errno : EIO);
}

/** Splits an absolute path in place into its components; returns how many, or -EINVAL. */
static int split_path(char *path, char **parts, int max) {
  if (path[0] != '/') {
    snprintf(tool_message, sizeof tool_message, "the path %.200s is not absolute", path);
    return -EINVAL;
  }
  int n = 0;
  for (char *save = NULL, *part = strtok_r(path, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
    if (n == max) return -ENAMETOOLONG;
    parts[n++] = part;
  }
  return n;
}

#define MAX_DEPTH 256

/** Opens the inode at parts[0..n) from the root: 0, or -errno. */
static int open_parts(char **parts, int n, ntfs_inode **out) {
  ntfs_inode *ni = ntfs_inode_open(volume, FILE_root);
  if (!ni) return -(errno ? errno : EIO);
  for (int i = 0; i < n; i++) {
    ntfs_inode *child = NULL;
    int err = open_child(ni, parts[i], &child);
    ntfs_inode_close(ni);
    if (err) return err;
    ni = child;
  }
  *out = ni;
  return 0;
}

static int open_path(const char *path, ntfs_inode **out) {
  char *copy = strdup(path), *parts[MAX_DEPTH];
  if (!copy) return -ENOMEM;
  int n = split_path(copy, parts, MAX_DEPTH);
  int err = n < 0 ? n : open_parts(parts, n, out);
  free(copy);
  return err;
}

/** Opens the directory that holds `path` and names its last component (a pointer into *copy). */
static int open_parent(const char *path, char **copy, ntfs_inode **dir, const char **leaf) {
  char *parts[MAX_DEPTH];
  *copy = strdup(path);
  if (!*copy) return -ENOMEM;
  int n = split_path(*copy, parts, MAX_DEPTH);
  if (n < 0) return n;
  if (n == 0) {
    snprintf(tool_message, sizeof tool_message, "the root directory cannot be created, replaced or removed");
    return -EINVAL;
  }
  int err = open_parts(parts, n - 1, dir);
  if (err) return err;
  if (!((*dir)->mrec->flags & MFT_RECORD_IS_DIRECTORY)) {
    ntfs_inode_close(*dir);
    return -ENOTDIR;
  }
  *leaf = parts[n - 1];
  return 0;
}

// ---- types and sizes ----

static enum entry_type type_of(ntfs_inode *ni) {
  if (ni->flags & FILE_ATTR_REPARSE_POINT) return ntfs_possible_symlink(ni) ? ENTRY_SYMLINK : ENTRY_OTHER;
  if (ni->mrec->flags & MFT_RECORD_IS_DIRECTORY) return ENTRY_DIR;
  if ((ni->flags & FILE_ATTR_SYSTEM) && ni->mft_no >= FILE_first_user) {
    u32 dt = ntfs_interix_types(ni);
    return dt == NTFS_DT_REG || dt == NTFS_DT_UNKNOWN ? ENTRY_FILE : ENTRY_OTHER;
  }
  return ENTRY_FILE;
}

static enum entry_type type_of_dt(unsigned dt) {
  switch (dt) {
  case NTFS_DT_REG: return ENTRY_FILE;
  case NTFS_DT_DIR: return ENTRY_DIR;
  case NTFS_DT_LNK: return ENTRY_SYMLINK;
  default: return ENTRY_OTHER;
  }
}

/** The unnamed $DATA of a file, or NULL with errno (ENOENT when it has none). */
static ntfs_attr *open_data(ntfs_inode *ni) {
  return ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
}

static int op_stat(const char *path, enum entry_type *type, uint64_t *size) {
  ntfs_inode *ni;
  int err = open_path(path, &ni);
  if (err) return err;
  *type = type_of(ni);
  *size = 0;
  if (*type != ENTRY_DIR) {
    ntfs_attr *na = open_data(ni);
    if (na) {
      *size = (uint64_t)na->data_size;
      ntfs_attr_close(na);
    }
  }
  ntfs_inode_close(ni);
  return 0;
}

// ---- list ----

struct listing {
  list_emit emit;
  void *ctx;
  int err;
};

static int list_entry(void *data, const ntfschar *name, const int name_len, const int name_type, const s64 pos, const MFT_REF mref, const unsigned dt_type) {
  (void)pos, (void)mref;
  struct listing *listing = data;
  if (name_type == FILE_NAME_DOS) return 0; // the 8.3 alias of a long name listed on its own
  char *utf8 = NULL;
  if (ntfs_ucstombs(name, name_len, &utf8, 0) < 0) {
    listing->err = -EILSEQ;
    snprintf(tool_message, sizeof tool_message, "a name in the directory is not valid UTF-16");
    return -1;
  }
  if (strcmp(utf8, ".") && strcmp(utf8, "..")) listing->emit(listing->ctx, utf8, type_of_dt(dt_type));
  free(utf8);
  return 0;
}

static int op_list(const char *path, list_emit emit, void *ctx) {
  ntfs_inode *ni;
  int err = open_path(path, &ni);
  if (err) return err;
  if (!(ni->mrec->flags & MFT_RECORD_IS_DIRECTORY)) {
    ntfs_inode_close(ni);
    return -ENOTDIR;
  }
  struct listing listing = {emit, ctx, 0};
  s64 pos = 0;
  if (ntfs_readdir(ni, &pos, &listing, list_entry) && !listing.err) listing.err = -(errno ? errno : EIO);
  ntfs_inode_close(ni);
  return listing.err;
}

// ---- read ----

static int read_data(ntfs_inode *ni, char **data, size_t *size) {
  ntfs_attr *na = open_data(ni);
  if (!na) {
    if (errno != ENOENT) return -(errno ? errno : EIO);
    *data = malloc(1);
    *size = 0;
    return *data ? 0 : -ENOMEM;
  }
  int err = 0;
  if (na->data_size > MAX_FILE_BYTES) {
    snprintf(tool_message, sizeof tool_message, "the file is %lld bytes, more than the %lld this tool reads whole", (long long)na->data_size, MAX_FILE_BYTES);
    err = -EFBIG;
  } else if (!(*data = malloc(na->data_size ? (size_t)na->data_size : 1))) {
    err = -ENOMEM;
  } else {
    s64 done = 0;
    while (done < na->data_size) {
      s64 n = ntfs_attr_pread(na, done, na->data_size - done, *data + done);
      if (n <= 0) {
        err = n < 0 && errno ? -errno : -EIO;
        if (err == -EACCES) snprintf(tool_message, sizeof tool_message, "the file is encrypted with EFS and cannot be read offline");
        break;
      }
      done += n;
    }
    *size = (size_t)done;
  }
  ntfs_attr_close(na);
  return err;
}

static int op_read_file(const char *path, char **data, size_t *size) {
  ntfs_inode *ni;
  int err = open_path(path, &ni);
  if (err) return err;
  enum entry_type type = type_of(ni);
  if (type == ENTRY_DIR) err = -EISDIR;
  else if (type != ENTRY_FILE) {
    snprintf(tool_message, sizeof tool_message, "%.200s is a reparse point or special file, not plain file data", path);
    err = -EINVAL;
  } else err = read_data(ni, data, size);
  ntfs_inode_close(ni);
  return err;
}

// ---- write ----

/** Replaces the unnamed $DATA of ni with data. */
static int write_data(ntfs_inode *ni, const char *data, size_t size) {
  ntfs_attr *na = open_data(ni);
  if (!na) return -(errno ? errno : EIO);
  int err = 0;
  if ((na->data_flags & ATTR_IS_ENCRYPTED) || (ni->flags & FILE_ATTR_ENCRYPTED)) {
    snprintf(tool_message, sizeof tool_message, "the file is encrypted with EFS and cannot be replaced offline");
    err = -EACCES;
  } else if (ntfs_attr_truncate(na, 0)) {
    err = -(errno ? errno : EIO);
  } else {
    // Whole: libntfs-3g allocates the size at once, as contiguous as it can (short writes loop).
    for (size_t done = 0; done < size && !err;) {
      s64 n = ntfs_attr_pwrite(na, (s64)done, (s64)(size - done), data + done);
      if (n <= 0) err = n < 0 ? -(errno ? errno : EIO) : -EIO;
      else done += (size_t)n;
    }
    if (err == -ENOSPC && !ntfs_volume_get_free_space(volume)) {
      snprintf(tool_message, sizeof tool_message, "the volume has no room for %zu bytes (%lld bytes free); free some space in Windows, or extend the volume", size, (long long)volume->free_clusters * volume->cluster_size);
    }
  }
  ntfs_attr_close(na);
  if (!err) ntfs_inode_update_times(ni, NTFS_UPDATE_MCTIME);
  return err;
}

/** The entry `leaf` of `dir`, created with ntfs_create(type) when missing; `created` says which. */
static int open_or_create(ntfs_inode *dir, const char *leaf, mode_t type, ntfs_inode **ni, int *created) {
  *created = 0;
  int err = open_child(dir, leaf, ni);
  if (err != -ENOENT) return err;
  ntfschar *uname;
  int length;
  if ((err = to_ntfs_name(leaf, &uname, &length))) return err;
  // libntfs-3g would write a name Windows cannot open (CON, a:b, "x."): refuse it instead.
  if (ntfs_forbidden_names(volume, uname, length, TRUE)) {
    free(uname);
    snprintf(tool_message, sizeof tool_message, "Windows does not allow the name %.200s (a reserved device name, one of \\ / : * ? \" < > | or a control character, or a trailing dot or space)", leaf);
    return -EINVAL;
  }
  *ni = ntfs_create(dir, const_cpu_to_le32(0), uname, (u8)length, type);
  err = *ni ? 0 : -(errno ? errno : EIO);
  free(uname);
  *created = !err;
  return err;
}

/** Closes ni and then dir, keeping the first error. */
static int close_both(ntfs_inode *ni, ntfs_inode *dir, int err) {
  if (ni && ntfs_inode_close_in_dir(ni, dir) && !err) err = -(errno ? errno : EIO);
  if (ntfs_inode_close(dir) && !err) err = -(errno ? errno : EIO);
  return err;
}

static int op_write_file(const char *path, const char *data, size_t size, unsigned mode) {
  (void)mode; // NTFS keeps no Unix mode
  char *copy;
  const char *leaf;
  ntfs_inode *dir, *ni = NULL;
  int created, err = open_parent(path, &copy, &dir, &leaf);
  if (err) {
    free(copy);
    return err;
  }
  err = open_or_create(dir, leaf, S_IFREG, &ni, &created);
  if (!err) {
    enum entry_type type = type_of(ni);
    if (type == ENTRY_DIR) err = -EISDIR;
    else if (type != ENTRY_FILE) {
      snprintf(tool_message, sizeof tool_message, "%.200s is a reparse point or special file; remove it first", path);
      err = -EINVAL;
    } else err = write_data(ni, data, size);
  }
  err = close_both(ni, dir, err);
  free(copy);
  return err;
}

static int op_make_dir(const char *path, unsigned mode) {
  (void)mode;
  char *copy;
  const char *leaf;
  ntfs_inode *dir, *ni = NULL;
  int created, err = open_parent(path, &copy, &dir, &leaf);
  if (err) {
    free(copy);
    return err;
  }
  err = open_or_create(dir, leaf, S_IFDIR, &ni, &created);
  if (!err && !created) err = -EEXIST;
  err = close_both(ni, dir, err);
  free(copy);
  return err;
}

// ---- remove ----

static int op_remove(const char *path) {
  char *copy;
  const char *leaf;
  ntfs_inode *dir, *ni = NULL;
  int err = open_parent(path, &copy, &dir, &leaf);
  if (err) {
    free(copy);
    return err;
  }
  if ((err = open_child(dir, leaf, &ni))) {
    ntfs_inode_close(dir);
    free(copy);
    return err;
  }
  if (ni->mft_no < FILE_first_user) {
    snprintf(tool_message, sizeof tool_message, "%.200s is an NTFS metafile", path);
    ntfs_inode_close(ni);
    ntfs_inode_close(dir);
    free(copy);
    return -EPERM;
  }
  ntfschar *uname;
  int length;
  if ((err = to_ntfs_name(leaf, &uname, &length))) {
    ntfs_inode_close(ni);
    ntfs_inode_close(dir);
    free(copy);
    return err;
  }
  // ntfs_delete finds the name to remove ignoring case too, and closes both inodes. No path:
  // it only names an entry of libntfs-3g's path cache, which this tool never fills.
  NVolClearCaseSensitive(volume);
  if (ntfs_delete(volume, NULL, ni, dir, uname, (u8)length)) err = -(errno ? errno : EIO);
  NVolSetCaseSensitive(volume);
  free(uname);
  free(copy);
  return err;
}

static int op_close(void) {
  if (ntfs_umount(volume, FALSE)) {
    int err = errno ? errno : EIO;
    snprintf(tool_message, sizeof tool_message, "libntfs-3g could not close the volume: %s%s%s", strerror(err), library_error[0] ? ": " : "", library_error);
    return -err;
  }
  volume = NULL;
  return 0;
}

int main(int argc, char **argv) {
  ntfs_log_set_handler(log_handler);
  ntfs_log_set_levels(NTFS_LOG_LEVEL_ERROR | NTFS_LOG_LEVEL_PERROR | NTFS_LOG_LEVEL_CRITICAL | NTFS_LOG_LEVEL_WARNING);
  ntfs_log_clear_levels(NTFS_LOG_LEVEL_INFO | NTFS_LOG_LEVEL_QUIET | NTFS_LOG_LEVEL_PROGRESS | NTFS_LOG_LEVEL_VERBOSE);
  volume_tool_init(argc, argv, USAGE);
  open_volume();

  printf("ready label=");
  print_encoded(stdout, volume->vol_name ? volume->vol_name : "");
  printf(" dirty=0 version=%u.%u\n", volume->major_ver, volume->minor_ver);
  fflush(stdout);

  static const struct volume_ops ops = {
      .stat = op_stat,
      .list = op_list,
      .read_file = op_read_file,
      .write_file = op_write_file,
      .make_dir = op_make_dir,
      .remove = op_remove,
      .symlink = NULL,
      .close = op_close,
  };
  volume_tool_run(&ops);
  return 0;
}
