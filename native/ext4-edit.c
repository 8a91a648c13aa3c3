// ext4-edit: edits an ext2/ext3/ext4 file system inside a disk image without mounting it, over
// libext2fs. The volume is the block device the engine serves on fd 3; commands come on stdin.
// Protocol: volume-tool.h.
//
//   ext4-edit --size BYTES
//
// Ready facts: label, uuid, type (ext2|ext3|ext4). Refusals at open: GUEST_FILE_SYSTEM_UNSUPPORTED
// (not ext2/3/4, or a feature libext2fs cannot write), GUEST_VOLUME_UNCLEAN (the journal needs
// recovery or the file system is marked not clean), GUEST_EDIT_FAILED (anything else).
// Paths resolve against the volume's root: `stat`, `rm` and `put` act on a symlink itself, `cat`
// and the directories on the way follow symlinks inside the guest. Writes go straight to the
// device, not through the journal: the volume is clean when opened and clean when closed.

#include "volume-tool.h"

#include <et/com_err.h>
#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>
#include <time.h>

static ext2_filsys fs;

// ---- a write-back cache of dirty blocks ----
// libext2fs writes a file's block several times (zeroed when allocated, then filled, the inode
// table block once per allocation), one block per request. Keeping the dirty blocks and writing
// them in sorted, contiguous runs turns that into a few large device writes. Nothing clean is
// kept: reads go to the device and see the dirty blocks laid over them.

#define CACHE_BYTES (16 * 1024 * 1024)
#define MIN_BLOCK 1024                                  // ext2/3/4 blocks are 1 KiB to 64 KiB
#define CACHE_SLOTS (2 * CACHE_BYTES / MIN_BLOCK)      // twice the most blocks: short probes

struct cached_block {
  uint64_t block;
  char *data;
};

static struct cached_block cache[CACHE_BYTES / MIN_BLOCK]; // cache_count entries, in write order
static size_t cache_count, cache_capacity, cache_block_size;
static uint32_t cache_slots[CACHE_SLOTS];                 // entry index + 1; 0 is empty
static char cache_data[CACHE_BYTES], cache_run[CACHE_BYTES]; // the blocks' bytes; a run being written
static int cache_error;                                   // a failed write-back: every later flush fails too

// A file read block by block is served from one read-ahead window, filled when a read starts
// where the last one ended. It holds the device's bytes: emptied whenever the device changes.
#define READ_AHEAD_BYTES (1024 * 1024)
static char ahead[READ_AHEAD_BYTES];
static uint64_t ahead_block, ahead_count, next_block; // in blocks of cache_block_size

static uint32_t slot_of(uint64_t block) {
  return (uint32_t)((block * 0x9E3779B97F4A7C15ULL) >> 40) & (CACHE_SLOTS - 1);
}

static struct cached_block *cache_find(uint64_t block) {
  for (uint32_t s = slot_of(block); cache_slots[s]; s = (s + 1) & (CACHE_SLOTS - 1)) {
    if (cache[cache_slots[s] - 1].block == block) return &cache[cache_slots[s] - 1];
  }
  return NULL;
}

static int by_block(const void *a, const void *b) {
  uint64_t x = ((const struct cached_block *)a)->block, y = ((const struct cached_block *)b)->block;
  return x < y ? -1 : x > y;
}

/** Writes every dirty block, in runs of contiguous blocks, and empties the cache: 0 or -errno. */
static int cache_flush(void) {
  ahead_count = 0;
  if (!cache_count) return cache_error;
  qsort(cache, cache_count, sizeof *cache, by_block);
  for (size_t i = 0, run; !cache_error && i < cache_count; i += run) {
    for (run = 0; i + run < cache_count && cache[i + run].block == cache[i].block + run; run++) {
      memcpy(cache_run + run * cache_block_size, cache[i + run].data, cache_block_size);
    }
    cache_error = device_write(cache_run, cache[i].block * cache_block_size, run * cache_block_size);
  }
  cache_count = 0;
  memset(cache_slots, 0, sizeof cache_slots);
  return cache_error;
}

/** Sizes the cache for blocks of block_size bytes (after writing what it holds). */
static int cache_resize(size_t block_size) {
  if (block_size < MIN_BLOCK || block_size > READ_AHEAD_BYTES) return -EINVAL;
  int err = cache_flush();
  if (err) return err;
  cache_block_size = block_size;
  cache_capacity = CACHE_BYTES / block_size;
  return 0;
}

static int cache_put(uint64_t block, const char *data) {
  struct cached_block *entry = cache_find(block);
  if (!entry) {
    int err = cache_count == cache_capacity ? cache_flush() : 0;
    if (err) return err;
    entry = &cache[cache_count];
    entry->block = block;
    entry->data = cache_data + cache_count * cache_block_size;
    uint32_t s = slot_of(block);
    while (cache_slots[s]) s = (s + 1) & (CACHE_SLOTS - 1);
    cache_slots[s] = (uint32_t)++cache_count;
  }
  memcpy(entry->data, data, cache_block_size);
  return 0;
}

// ---- the device: an io_manager over the cache below and device_read/write/sync ----

static struct struct_io_manager volume_io_manager;
static struct struct_io_stats volume_io_stats = {.num_fields = 2};

static errcode_t volume_io_open(const char *name, int flags, io_channel *channel) {
  (void)flags;
  io_channel io = NULL;
  errcode_t err = ext2fs_get_memzero(sizeof *io, &io);
  if (!err) err = ext2fs_get_mem(strlen(name) + 1, &io->name);
  if (err) {
    ext2fs_free_mem(&io);
    return err;
  }
  strcpy(io->name, name);
  cache_resize(1024); // empty: nothing to write back yet
  io->magic = EXT2_ET_MAGIC_IO_CHANNEL;
  io->manager = &volume_io_manager;
  io->block_size = 1024;
  io->refcount = 1;
  *channel = io;
  return 0;
}

// The channel may be shared (fs->io and fs->image_io): freed with its last reference.
static errcode_t volume_io_close(io_channel channel) {
  if (--channel->refcount > 0) return 0;
  ext2fs_free_mem(&channel->name);
  ext2fs_free_mem(&channel);
  return 0;
}

/** A libext2fs error for a device -errno; -EINVAL is an access past the volume's end. */
static errcode_t errcode_of(int err, errcode_t past_end) {
  return err == -EINVAL ? past_end : (errcode_t)-err;
}

static errcode_t volume_io_set_blksize(io_channel channel, int blksize) {
  // Blocks cached at the old size would be misread at the new one.
  if (blksize <= 0) return EXT2_ET_INVALID_ARGUMENT;
  int err = cache_resize((size_t)blksize);
  if (err) return errcode_of(err, EXT2_ET_INVALID_ARGUMENT);
  channel->block_size = blksize;
  return 0;
}

/** Fills the read-ahead window from block on, unless it already holds [block, block + count). */
static void read_ahead(uint64_t block, uint64_t count) {
  uint64_t fit = READ_AHEAD_BYTES / cache_block_size, left = device_size / cache_block_size;
  if (block >= ahead_block && block + count <= ahead_block + ahead_count) return;
  if (count > fit || block >= left) return;
  uint64_t n = left - block < fit ? left - block : fit;
  ahead_count = 0;
  if (device_read(ahead, block * cache_block_size, n * cache_block_size) == 0) ahead_block = block, ahead_count = n;
}

static errcode_t volume_io_read64(io_channel channel, unsigned long long block, int count, void *data) {
  size_t size = (size_t)channel->block_size;
  int err = 0;
  if (count < 0) { // as unix_io: a length in bytes, not in blocks; read past any dirty block
    if (!(err = cache_flush())) err = device_read(data, block * size, (size_t)-(ssize_t)count);
    return err ? errcode_of(err, EXT2_ET_SHORT_READ) : 0;
  }
  if (block == next_block) read_ahead(block, (uint64_t)count);
  next_block = block + (uint64_t)count;
  if (block >= ahead_block && block + (uint64_t)count <= ahead_block + ahead_count) {
    memcpy(data, ahead + (block - ahead_block) * size, (size_t)count * size);
  } else {
    size_t missing = 0;
    for (int i = 0; i < count; i++) missing += !cache_find(block + (uint64_t)i);
    if (missing && (err = device_read(data, block * size, (size_t)count * size))) return errcode_of(err, EXT2_ET_SHORT_READ);
  }
  for (int i = 0; i < count; i++) {
    struct cached_block *entry = cache_find(block + (uint64_t)i);
    if (entry) memcpy((char *)data + (size_t)i * size, entry->data, size);
  }
  volume_io_stats.bytes_read += (size_t)count * size;
  return 0;
}

static errcode_t volume_io_write64(io_channel channel, unsigned long long block, int count, const void *data) {
  size_t size = (size_t)channel->block_size;
  int err = 0;
  if (count < 0) { // bytes: straight to the device, after the dirty blocks it may overlap
    if (!(err = cache_flush())) err = device_write(data, block * size, (size_t)-(ssize_t)count);
    return err ? errcode_of(err, EXT2_ET_SHORT_WRITE) : 0;
  }
  if ((block + (uint64_t)count) * size > device_size) return EXT2_ET_SHORT_WRITE;
  for (int i = 0; !err && i < count; i++) err = cache_put(block + (uint64_t)i, (const char *)data + (size_t)i * size);
  if (err) return errcode_of(err, EXT2_ET_SHORT_WRITE);
  volume_io_stats.bytes_written += (size_t)count * size;
  return 0;
}

static errcode_t volume_io_read(io_channel channel, unsigned long block, int count, void *data) {
  return volume_io_read64(channel, block, count, data);
}

static errcode_t volume_io_write(io_channel channel, unsigned long block, int count, const void *data) {
  return volume_io_write64(channel, block, count, data);
}

static errcode_t volume_io_write_byte(io_channel channel, unsigned long offset, int count, const void *data) {
  (void)channel;
  if (count < 0) return EXT2_ET_INVALID_ARGUMENT;
  int err = cache_flush();
  if (!err) err = device_write(data, offset, (size_t)count);
  return err ? errcode_of(err, EXT2_ET_SHORT_WRITE) : 0;
}

static errcode_t volume_io_flush(io_channel channel) {
  (void)channel;
  int err = cache_flush();
  if (!err) err = device_sync();
  return err ? errcode_of(err, EXT2_ET_SHORT_WRITE) : 0;
}

static errcode_t volume_io_set_option(io_channel channel, const char *option, const char *arg) {
  (void)channel, (void)option, (void)arg;
  return EXT2_ET_INVALID_ARGUMENT;
}

static errcode_t volume_io_get_stats(io_channel channel, io_stats *stats) {
  (void)channel;
  if (stats) *stats = &volume_io_stats;
  return 0;
}

static struct struct_io_manager volume_io_manager = {
    .magic = EXT2_ET_MAGIC_IO_MANAGER,
    .name = "imageport volume channel",
    .open = volume_io_open,
    .close = volume_io_close,
    .set_blksize = volume_io_set_blksize,
    .read_blk = volume_io_read,
    .write_blk = volume_io_write,
    .flush = volume_io_flush,
    .write_byte = volume_io_write_byte,
    .set_option = volume_io_set_option,
    .get_stats = volume_io_get_stats,
    .read_blk64 = volume_io_read64,
    .write_blk64 = volume_io_write64,
};

// ---- errors ----

static int errno_of(errcode_t code) {
  switch (code) {
  case EXT2_ET_FILE_NOT_FOUND: return ENOENT;
  case EXT2_ET_NO_DIRECTORY: return ENOTDIR;
  case EXT2_ET_DIR_EXISTS:
  case EXT2_ET_FILE_EXISTS: return EEXIST;
  case EXT2_ET_BLOCK_ALLOC_FAIL:
  case EXT2_ET_INODE_ALLOC_FAIL:
  case EXT2_ET_DIR_NO_SPACE:
  case EXT2_ET_EA_NO_SPACE: return ENOSPC;
  case EXT2_ET_NO_MEMORY: return ENOMEM;
  case EXT2_ET_SYMLINK_LOOP: return ELOOP;
  case EXT2_ET_FILE_TOO_BIG: return EFBIG;
  case EXT2_ET_INVALID_ARGUMENT: return EINVAL;
  }
  // Plain errno values come from the device (EIO) or the C library.
  return code > 0 && code < 4096 ? (int)code : EIO;
}

/** -errno for a libext2fs error, explained in tool_message. */
static int fail_ext2(errcode_t code, const char *doing, const char *path) {
  snprintf(tool_message, sizeof tool_message, "%s %s: %s", doing, path, error_message(code));
  return -errno_of(code);
}

static int fail_errno(int err, const char *fmt, const char *path) {
  snprintf(tool_message, sizeof tool_message, fmt, path);
  return -err;
}

// ---- paths and inodes ----

static enum entry_type type_of_mode(unsigned mode) {
  if (LINUX_S_ISREG(mode)) return ENTRY_FILE;
  if (LINUX_S_ISDIR(mode)) return ENTRY_DIR;
  if (LINUX_S_ISLNK(mode)) return ENTRY_SYMLINK;
  return ENTRY_OTHER;
}

/** The inode at path, the last component not followed (follow_last: followed, as cat needs). */
static int lookup(const char *path, int follow_last, ext2_ino_t *ino) {
  if (path[0] != '/') return fail_errno(EINVAL, "not an absolute path: %s", path);
  errcode_t err = follow_last ? ext2fs_namei_follow(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, path, ino) : ext2fs_namei(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, path, ino);
  return err ? fail_ext2(err, "looking up", path) : 0;
}

static int read_inode(ext2_ino_t ino, struct ext2_inode *inode, const char *path) {
  errcode_t err = ext2fs_read_inode(fs, ino, inode);
  return err ? fail_ext2(err, "reading the inode of", path) : 0;
}

static int write_inode(ext2_ino_t ino, struct ext2_inode *inode, const char *path) {
  errcode_t err = ext2fs_write_inode(fs, ino, inode);
  return err ? fail_ext2(err, "writing the inode of", path) : 0;
}

static __u32 now(void) {
  return (__u32)(fs->now ? fs->now : time(NULL));
}

/** path's directory (followed) and last name, for creating or removing. name points into buf. */
static int split_parent(const char *path, char *buf, size_t cap, ext2_ino_t *parent, const char **name) {
  size_t len = strlen(path);
  if (path[0] != '/') return fail_errno(EINVAL, "not an absolute path: %s", path);
  if (len >= cap) return fail_errno(ENAMETOOLONG, "path too long: %.200s", path);
  memcpy(buf, path, len + 1);
  while (len > 1 && buf[len - 1] == '/') buf[--len] = 0;
  char *slash = strrchr(buf, '/');
  *name = slash + 1;
  if (!**name || strcmp(*name, ".") == 0 || strcmp(*name, "..") == 0) return fail_errno(EINVAL, "no file name at the end of %s", path);
  if (strlen(*name) > EXT2_NAME_LEN) return fail_errno(ENAMETOOLONG, "a name longer than 255 bytes in %.200s", path);
  *slash = 0;
  errcode_t err = ext2fs_namei_follow(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, slash == buf ? "/" : buf, parent);
  if (err) return fail_ext2(err, "looking up the directory of", path);
  struct ext2_inode inode;
  int rc = read_inode(*parent, &inode, path);
  if (rc) return rc;
  if (!LINUX_S_ISDIR(inode.i_mode)) return fail_errno(ENOTDIR, "the parent of %s is not a directory", path);
  // Names in an encrypted directory are ciphertext: writing plain names there would corrupt it.
  if (inode.i_flags & EXT4_ENCRYPT_FL) return fail_errno(EPERM, "the directory of %s is encrypted", path);
  return 0;
}

/** The entry `name` in dir: 0 and *ino, or -ENOENT quietly, or another error. */
static int lookup_in(ext2_ino_t dir, const char *name, ext2_ino_t *ino, const char *path) {
  errcode_t err = ext2fs_lookup(fs, dir, name, (int)strlen(name), NULL, ino);
  if (err == EXT2_ET_FILE_NOT_FOUND) return -ENOENT;
  return err ? fail_ext2(err, "looking up", path) : 0;
}

/** Directory times change with their entries, as the kernel does; removing a subdirectory
 *  (link_delta -1) also takes away the link its ".." gave. */
static int touch_dir(ext2_ino_t dir, int link_delta, const char *path) {
  struct ext2_inode inode;
  int rc = read_inode(dir, &inode, path);
  if (rc) return rc;
  inode.i_mtime = inode.i_ctime = now();
  // With dir_nlink a count of 1 means "too many to count": it stays 1.
  if (link_delta < 0 && inode.i_links_count > 2) inode.i_links_count--;
  return write_inode(dir, &inode, path);
}

/** Adds name -> ino to dir, growing the directory when its blocks are full (as debugfs does). */
static int add_link(ext2_ino_t dir, const char *name, ext2_ino_t ino, int file_type, const char *path) {
  errcode_t err = ext2fs_link(fs, dir, name, ino, file_type);
  if (err == EXT2_ET_DIR_NO_SPACE) {
    err = ext2fs_expand_dir(fs, dir);
    if (!err) err = ext2fs_link(fs, dir, name, ino, file_type);
  }
  return err ? fail_ext2(err, "linking", path) : touch_dir(dir, 0, path);
}

// ---- freeing blocks and inodes ----
// Not with ext2fs_punch: libext2fs 1.46.6 to 1.47.0 refuses to free an extent that ends on the
// file system's last block ("Illegal block number", fixed in 1.47.1). Iterating the blocks, as
// debugfs's kill_file does, frees data and extent-tree blocks alike.

struct released {
  blk64_t last_cluster;
  blk64_t clusters;
};

static int release_block(ext2_filsys f, blk64_t *block, e2_blkcnt_t blockcnt, blk64_t ref_block, int ref_offset, void *priv) {
  (void)blockcnt, (void)ref_block, (void)ref_offset;
  struct released *r = priv;
  blk64_t cluster = EXT2FS_B2C(f, *block);
  if (r->clusters && cluster == r->last_cluster) return 0; // bigalloc: one cluster, several blocks
  r->last_cluster = cluster;
  r->clusters++;
  ext2fs_block_alloc_stats2(f, *block, -1);
  return 0;
}

/** Frees every block the inode (as written) maps and leaves *inode with an empty map. */
static errcode_t free_blocks(ext2_ino_t ino, struct ext2_inode *inode) {
  if (!ext2fs_inode_has_valid_blocks2(fs, inode)) return 0; // fast symlinks, inline data
  struct released r = {0, 0};
  errcode_t err = ext2fs_block_iterate3(fs, ino, BLOCK_FLAG_READ_ONLY, NULL, release_block, &r);
  if (!err) err = ext2fs_iblk_sub_blocks(fs, inode, r.clusters);
  if (err) return err;
  memset(inode->i_block, 0, sizeof inode->i_block);
  if (inode->i_flags & EXT4_EXTENTS_FL) {
    inode->i_flags &= ~EXT4_EXTENTS_FL;
    ext2_extent_handle_t handle; // on a zeroed i_block: writes an empty extent header
    if (!(err = ext2fs_extent_open2(fs, ino, inode, &handle))) ext2fs_extent_free(handle);
  }
  return err;
}

/** Frees an inode nothing links to any more: its attributes, its blocks, the inode (as fuse2fs). */
static int release_inode(ext2_ino_t ino, const char *path) {
  struct ext2_inode_large inode;
  errcode_t err = ext2fs_read_inode_full(fs, ino, (struct ext2_inode *)&inode, sizeof inode);
  if (err) return fail_ext2(err, "reading the inode of", path);
  inode.i_links_count = 0;
  inode.i_dtime = now();
  err = ext2fs_free_ext_attr(fs, ino, &inode);
  if (!err) err = free_blocks(ino, (struct ext2_inode *)&inode);
  if (err) return fail_ext2(err, "freeing the blocks of", path);
  err = ext2fs_write_inode_full(fs, ino, (struct ext2_inode *)&inode, sizeof inode);
  if (err) return fail_ext2(err, "writing the inode of", path);
  ext2fs_inode_alloc_stats2(fs, ino, -1, LINUX_S_ISDIR(inode.i_mode));
  return 0;
}

// ---- the operations ----

static int op_stat(const char *path, enum entry_type *type, uint64_t *size) {
  ext2_ino_t ino;
  struct ext2_inode inode;
  int rc = lookup(path, 0, &ino);
  if (!rc) rc = read_inode(ino, &inode, path);
  if (rc) return rc;
  *type = type_of_mode(inode.i_mode);
  *size = EXT2_I_SIZE(&inode);
  return 0;
}

struct list_ctx {
  list_emit emit;
  void *ctx;
};

static enum entry_type type_of_dirent(struct ext2_dir_entry *dirent) {
  switch (ext2fs_dirent_file_type(dirent)) {
  case EXT2_FT_REG_FILE: return ENTRY_FILE;
  case EXT2_FT_DIR: return ENTRY_DIR;
  case EXT2_FT_SYMLINK: return ENTRY_SYMLINK;
  case EXT2_FT_UNKNOWN: break; // no filetype feature: the inode says
  default: return ENTRY_OTHER;
  }
  struct ext2_inode inode;
  if (ext2fs_read_inode(fs, dirent->inode, &inode)) return ENTRY_OTHER;
  return type_of_mode(inode.i_mode);
}

static int list_entry(struct ext2_dir_entry *dirent, int offset, int blocksize, char *buf, void *priv) {
  (void)offset, (void)blocksize, (void)buf;
  struct list_ctx *list = priv;
  int len = ext2fs_dirent_name_len(dirent);
  char name[EXT2_NAME_LEN + 1];
  memcpy(name, dirent->name, (size_t)len);
  name[len] = 0;
  if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) return 0;
  list->emit(list->ctx, name, type_of_dirent(dirent));
  return 0;
}

static int op_list(const char *path, list_emit emit, void *ctx) {
  ext2_ino_t ino;
  int rc = lookup(path, 1, &ino);
  if (rc) return rc;
  struct list_ctx list = {emit, ctx};
  errcode_t err = ext2fs_dir_iterate(fs, ino, 0, NULL, list_entry, &list);
  return err ? fail_ext2(err, "listing", path) : 0;
}

static int op_read_file(const char *path, char **data, size_t *size) {
  ext2_ino_t ino;
  struct ext2_inode inode;
  int rc = lookup(path, 1, &ino);
  if (!rc) rc = read_inode(ino, &inode, path);
  if (rc) return rc;
  if (LINUX_S_ISDIR(inode.i_mode)) return fail_errno(EISDIR, "%s is a directory", path);
  if (!LINUX_S_ISREG(inode.i_mode)) return fail_errno(EINVAL, "%s is not a regular file", path);
  uint64_t length = EXT2_I_SIZE(&inode);
  if (length > MAX_FILE_BYTES) return fail_errno(EFBIG, "%s is larger than the tools read whole", path);
  *data = malloc(length ? length : 1);
  if (!*data) return fail_errno(ENOMEM, "no memory to read %s", path);
  ext2_file_t file;
  errcode_t err = ext2fs_file_open(fs, ino, 0, &file);
  if (err) return fail_ext2(err, "opening", path);
  unsigned int got = 0;
  for (size_t done = 0; !err && done < length; done += got) {
    err = ext2fs_file_read(file, *data + done, (unsigned)(length - done > (1U << 30) ? (1U << 30) : length - done), &got);
    if (!err && got == 0) err = EXT2_ET_SHORT_READ;
  }
  errcode_t closed = ext2fs_file_close(file);
  if (err || closed) return fail_ext2(err ? err : closed, "reading", path);
  *size = length;
  return 0;
}

/** Replaces the contents of the open file with data (the caller opened it for writing). Only
 *  inline data is left to truncate here: files with blocks were emptied by free_blocks. */
static errcode_t fill_file(ext2_file_t file, const char *data, size_t size) {
  errcode_t err = ext2fs_file_set_size2(file, 0);
  for (size_t done = 0; !err && done < size;) {
    unsigned int wrote = 0;
    // libext2fs 1.47 copies an inline-data write into a 3-block buffer before it sees that the
    // data does not fit the inode: at most a block until the file has blocks.
    size_t most = ext2fs_file_get_inode(file)->i_flags & EXT4_INLINE_DATA_FL ? fs->blocksize : 1U << 20;
    size_t chunk = size - done > most ? most : size - done;
    err = ext2fs_file_write(file, data + done, (unsigned)chunk, &wrote);
    if (!err && wrote == 0) err = EXT2_ET_SHORT_WRITE;
    done += wrote;
  }
  return err;
}

static int write_contents(ext2_ino_t ino, const char *data, size_t size, const char *path) {
  ext2_file_t file;
  errcode_t err = ext2fs_file_open(fs, ino, EXT2_FILE_WRITE, &file);
  if (err) return fail_ext2(err, "opening", path);
  err = fill_file(file, data, size);
  errcode_t closed = ext2fs_file_close(file);
  return err || closed ? fail_ext2(err ? err : closed, "writing", path) : 0;
}

/** A new, empty regular file's inode, not yet linked (do_write_internal in create_inode.c). */
static int new_file_inode(ext2_ino_t parent, unsigned mode, ext2_ino_t *ino, const char *path) {
  errcode_t err = ext2fs_new_inode(fs, parent, LINUX_S_IFREG | 0644, NULL, ino);
  if (err) return fail_ext2(err, "allocating an inode for", path);
  ext2fs_inode_alloc_stats2(fs, *ino, +1, 0);
  struct ext2_inode inode;
  memset(&inode, 0, sizeof inode);
  inode.i_mode = (__u16)(LINUX_S_IFREG | (mode & 07777));
  inode.i_atime = inode.i_ctime = inode.i_mtime = now();
  inode.i_links_count = 1;
  if (ext2fs_has_feature_inline_data(fs->super)) {
    inode.i_flags |= EXT4_INLINE_DATA_FL;
  } else if (ext2fs_has_feature_extents(fs->super)) {
    ext2_extent_handle_t handle; // opening the handle writes an empty extent header into the inode
    err = ext2fs_extent_open2(fs, *ino, &inode, &handle);
    if (!err) ext2fs_extent_free(handle);
  }
  if (!err) err = ext2fs_write_new_inode(fs, *ino, &inode);
  if (!err && (inode.i_flags & EXT4_INLINE_DATA_FL)) err = ext2fs_inline_data_init(fs, *ino);
  if (err) {
    ext2fs_inode_alloc_stats2(fs, *ino, -1, 0);
    return fail_ext2(err, "creating the inode of", path);
  }
  return 0;
}

/** -ENOSPC, before anything changes, when data cannot fit: failing halfway leaves a torn file.
 *  old: the file being replaced, whose blocks come back first. */
static int check_space(size_t size, const struct ext2_inode *old, const char *path) {
  blk64_t data = (size + fs->blocksize - 1) / fs->blocksize;
  // Beyond 4 blocks, room for extent-tree or indirect blocks, generously; up to 4, none.
  blk64_t need = data + (data > 4 ? data / 64 + 3 : 0);
  blk64_t have = ext2fs_free_blocks_count(fs->super);
  if (old) have += ext2fs_get_stat_i_blocks(fs, (struct ext2_inode *)old) / (fs->blocksize / 512);
  if (need <= have) return 0;
  snprintf(tool_message, sizeof tool_message, "%.300s needs about %llu blocks of %u bytes; the file system has %llu free", path, (unsigned long long)need, fs->blocksize, (unsigned long long)have);
  return -ENOSPC;
}

static int create_file(ext2_ino_t parent, const char *name, const char *data, size_t size, unsigned mode, const char *path) {
  ext2_ino_t ino;
  int rc = check_space(size, NULL, path);
  if (!rc) rc = new_file_inode(parent, mode, &ino, path);
  if (rc) return rc;
  // The entry comes last: until then a failure only has an unlinked inode to give back.
  rc = write_contents(ino, data, size, path);
  if (!rc) rc = add_link(parent, name, ino, EXT2_FT_REG_FILE, path);
  if (rc) {
    char why[sizeof tool_message];
    memcpy(why, tool_message, sizeof why);
    release_inode(ino, path);
    memcpy(tool_message, why, sizeof why);
  }
  return rc;
}

/** Replaces an existing file's contents in its inode: owner, mode and other links stay. */
static int replace_file(ext2_ino_t ino, const char *data, size_t size, const char *path) {
  struct ext2_inode inode;
  int rc = read_inode(ino, &inode, path);
  if (rc) return rc;
  if (inode.i_flags & (EXT2_IMMUTABLE_FL | EXT2_APPEND_FL | EXT4_ENCRYPT_FL | EXT4_VERITY_FL)) {
    return fail_errno(EPERM, "%s is immutable, append-only, encrypted or verity-protected", path);
  }
  if ((rc = check_space(size, &inode, path))) return rc;
  // Emptied first, and not by ext2fs_file_set_size2 (it punches: see free_blocks); inline data
  // is truncated by set_size2 in fill_file.
  if (!(inode.i_flags & EXT4_INLINE_DATA_FL)) {
    errcode_t err = free_blocks(ino, &inode);
    if (err) return fail_ext2(err, "freeing the blocks of", path);
    inode.i_size = inode.i_size_high = 0;
  }
  inode.i_mtime = inode.i_ctime = now();
  if ((rc = write_inode(ino, &inode, path))) return rc;
  return write_contents(ino, data, size, path);
}

static int unlink_entry(ext2_ino_t parent, const char *name, ext2_ino_t ino, const char *path);

static int op_write_file(const char *path, const char *data, size_t size, unsigned mode) {
  char buf[4096];
  const char *name;
  ext2_ino_t parent, ino;
  int rc = split_parent(path, buf, sizeof buf, &parent, &name);
  if (rc) return rc;
  rc = lookup_in(parent, name, &ino, path);
  if (rc && rc != -ENOENT) return rc;
  if (rc == -ENOENT) return create_file(parent, name, data, size, mode, path);
  struct ext2_inode inode;
  if ((rc = read_inode(ino, &inode, path))) return rc;
  if (LINUX_S_ISDIR(inode.i_mode)) return fail_errno(EISDIR, "%s is a directory", path);
  if (LINUX_S_ISREG(inode.i_mode)) return replace_file(ino, data, size, path);
  // A symlink or a device node at path is replaced by the file, as `install` would.
  if ((rc = unlink_entry(parent, name, ino, path))) return rc;
  return create_file(parent, name, data, size, mode, path);
}

static int op_make_dir(const char *path, unsigned mode) {
  char buf[4096];
  const char *name;
  ext2_ino_t parent, ino;
  int rc = split_parent(path, buf, sizeof buf, &parent, &name);
  if (rc) return rc;
  rc = lookup_in(parent, name, &ino, path);
  if (rc == 0) return fail_errno(EEXIST, "%s exists", path);
  if (rc != -ENOENT) return rc;
  errcode_t err = ext2fs_mkdir(fs, parent, 0, name);
  if (err == EXT2_ET_DIR_NO_SPACE) {
    err = ext2fs_expand_dir(fs, parent);
    if (!err) err = ext2fs_mkdir(fs, parent, 0, name);
  }
  if (err) return fail_ext2(err, "creating the directory", path);
  // ext2fs_mkdir applies fs->umask, not a mode: set the one asked for.
  struct ext2_inode inode;
  if ((rc = lookup_in(parent, name, &ino, path)) || (rc = read_inode(ino, &inode, path))) return rc;
  inode.i_mode = (__u16)(LINUX_S_IFDIR | (mode & 07777));
  if ((rc = write_inode(ino, &inode, path))) return rc;
  return touch_dir(parent, 0, path);
}

static int is_empty_entry(struct ext2_dir_entry *dirent, int offset, int blocksize, char *buf, void *priv) {
  (void)offset, (void)blocksize, (void)buf;
  int len = ext2fs_dirent_name_len(dirent);
  if ((len == 1 && dirent->name[0] == '.') || (len == 2 && dirent->name[0] == '.' && dirent->name[1] == '.')) return 0;
  *(int *)priv = 0;
  return DIRENT_ABORT;
}

/** Removes the entry name -> ino from parent and drops one link to ino (all of a directory's). */
static int unlink_entry(ext2_ino_t parent, const char *name, ext2_ino_t ino, const char *path) {
  struct ext2_inode inode;
  int rc = read_inode(ino, &inode, path);
  if (rc) return rc;
  int is_dir = LINUX_S_ISDIR(inode.i_mode);
  errcode_t err = ext2fs_unlink(fs, parent, name, ino, 0);
  if (err) return fail_ext2(err, "unlinking", path);
  // The parent loses the child's "..", as well as the entry.
  if ((rc = touch_dir(parent, is_dir ? -1 : 0, path))) return rc;
  if (is_dir || inode.i_links_count <= 1) return release_inode(ino, path);
  inode.i_links_count--;
  inode.i_ctime = now();
  return write_inode(ino, &inode, path);
}

static int op_remove(const char *path) {
  char buf[4096];
  const char *name;
  ext2_ino_t parent, ino;
  int rc = split_parent(path, buf, sizeof buf, &parent, &name);
  if (rc) return rc;
  if ((rc = lookup_in(parent, name, &ino, path))) return rc == -ENOENT ? fail_errno(ENOENT, "%s does not exist", path) : rc;
  struct ext2_inode inode;
  if ((rc = read_inode(ino, &inode, path))) return rc;
  if (LINUX_S_ISDIR(inode.i_mode)) {
    int empty = 1;
    errcode_t err = ext2fs_dir_iterate(fs, ino, 0, NULL, is_empty_entry, &empty);
    if (err) return fail_ext2(err, "listing", path);
    if (!empty) return fail_errno(ENOTEMPTY, "the directory %s is not empty", path);
  }
  return unlink_entry(parent, name, ino, path);
}

static int op_symlink(const char *path, const char *target) {
  char buf[4096];
  const char *name;
  ext2_ino_t parent, ino;
  int rc = split_parent(path, buf, sizeof buf, &parent, &name);
  if (rc) return rc;
  if (!*target || strlen(target) >= fs->blocksize) return fail_errno(EINVAL, "the target of %s is empty or longer than a block", path);
  rc = lookup_in(parent, name, &ino, path);
  if (rc == 0) return fail_errno(EEXIST, "%s exists", path);
  if (rc != -ENOENT) return rc;
  errcode_t err = ext2fs_symlink(fs, parent, 0, name, target);
  if (err == EXT2_ET_DIR_NO_SPACE) {
    err = ext2fs_expand_dir(fs, parent);
    if (!err) err = ext2fs_symlink(fs, parent, 0, name, target);
  }
  if (err) return fail_ext2(err, "creating the symlink", path);
  return touch_dir(parent, 0, path);
}

static int op_close(void) {
  errcode_t err = ext2fs_close2(fs, 0);
  // close2 flushes only a file system marked dirty; inode updates alone may still be cached.
  int flushed = err ? 0 : cache_flush();
  if (!flushed) flushed = err ? 0 : device_sync();
  if (flushed) err = errcode_of(flushed, EXT2_ET_SHORT_WRITE);
  if (err) {
    snprintf(tool_message, sizeof tool_message, "writing the file system's metadata: %s", error_message(err));
    return -errno_of(err);
  }
  fs = NULL;
  return 0;
}

// ---- opening ----

static const char *fs_type(const struct ext2_super_block *sb) {
  // As blkid: ext3 is a journal and nothing newer; ext4 is anything beyond ext3's features.
  __u32 ext3_incompat = EXT2_FEATURE_INCOMPAT_FILETYPE | EXT3_FEATURE_INCOMPAT_RECOVER | EXT2_FEATURE_INCOMPAT_META_BG;
  __u32 ext3_ro = EXT2_FEATURE_RO_COMPAT_SPARSE_SUPER | EXT2_FEATURE_RO_COMPAT_LARGE_FILE | 0x0004 /* btree_dir, never used */;
  if ((sb->s_feature_incompat & ~ext3_incompat) || (sb->s_feature_ro_compat & ~ext3_ro)) return "ext4";
  return (sb->s_feature_compat & EXT3_FEATURE_COMPAT_HAS_JOURNAL) ? "ext3" : "ext2";
}

/** Refuses what is not ext2/3/4 before libext2fs sees it: zeros, NTFS, a volume too small. */
static void check_magic(void) {
  struct ext2_super_block sb;
  if (device_size < SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE) refuse_to_start("GUEST_FILE_SYSTEM_UNSUPPORTED", "the volume is too small to hold an ext2/ext3/ext4 file system");
  int err = device_read(&sb, SUPERBLOCK_OFFSET, sizeof sb);
  if (err) refuse_to_start("GUEST_EDIT_FAILED", "reading the superblock: %s", strerror(-err));
  if (ext2fs_le16_to_cpu(sb.s_magic) != EXT2_SUPER_MAGIC) refuse_to_start("GUEST_FILE_SYSTEM_UNSUPPORTED", "the volume does not hold an ext2/ext3/ext4 file system");
}

static void open_volume(void) {
  check_magic();
  errcode_t err = ext2fs_open2("fd3", NULL, EXT2_FLAG_RW | EXT2_FLAG_64BITS, 0, 0, &volume_io_manager, &fs);
  if (err == EXT2_ET_UNSUPP_FEATURE || err == EXT2_ET_RO_UNSUPP_FEATURE) {
    refuse_to_start("GUEST_FILE_SYSTEM_UNSUPPORTED", "the ext file system uses a feature this tool cannot write: %s", error_message(err));
  }
  if (err == EXT2_ET_BAD_MAGIC) refuse_to_start("GUEST_FILE_SYSTEM_UNSUPPORTED", "the volume does not hold an ext2/ext3/ext4 file system");
  if (err) refuse_to_start("GUEST_EDIT_FAILED", "opening the ext file system: %s", error_message(err));
  struct ext2_super_block *sb = fs->super;
  const char *fix = "shut the guest down cleanly (or run e2fsck on the volume) and retry";
  if (ext2fs_has_feature_journal_needs_recovery(sb)) refuse_to_start("GUEST_VOLUME_UNCLEAN", "the file system's journal needs recovery: %s", fix);
  if (!(sb->s_state & EXT2_VALID_FS) || (sb->s_state & EXT2_ERROR_FS)) refuse_to_start("GUEST_VOLUME_UNCLEAN", "the file system is not marked clean: %s", fix);
  if ((err = ext2fs_read_bitmaps(fs))) refuse_to_start("GUEST_EDIT_FAILED", "reading the allocation bitmaps: %s", error_message(err));
  fs->umask = 0;
}

static void print_ready(void) {
  const struct ext2_super_block *sb = fs->super;
  char label[EXT2_LABEL_LEN + 1] = {0}, uuid[37];
  memcpy(label, sb->s_volume_name, EXT2_LABEL_LEN);
  const unsigned char *u = sb->s_uuid;
  snprintf(uuid, sizeof uuid, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
  printf("ready label=");
  print_encoded(stdout, label);
  printf(" uuid=%s type=%s\n", uuid, fs_type(sb));
  fflush(stdout);
}

int main(int argc, char **argv) {
  volume_tool_init(argc, argv, "ext4-edit --size BYTES");
  add_error_table(&et_ext2_error_table);
  open_volume();
  print_ready();
  static const struct volume_ops ops = {
      .stat = op_stat,
      .list = op_list,
      .read_file = op_read_file,
      .write_file = op_write_file,
      .make_dir = op_make_dir,
      .remove = op_remove,
      .symlink = op_symlink,
      .close = op_close,
  };
  volume_tool_run(&ops);
  return 0;
}
