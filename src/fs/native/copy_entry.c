/*
 * One non-directory entry of a tree copy (src/fs/copytree.ts), made whole in one call: the data, owner,
 * mode, extended attributes and nanosecond times, on the new file's descriptor. Node's way costs ~16 µs of
 * CPU per file (a BigInt lstat, copyFile's own stats, fs-xattr's list by path, a times batch, the strings
 * and arrays between them) where cp -a spends ~2; the system calls are the same ones cp -a makes.
 * Synchronous, like the JS path it replaces: on a cached source each call is a few microseconds, less
 * than a thread-pool round trip. Directories are left to the caller (it must list and recurse), and so
 * is the choice between a new inode and a hard link to an earlier copy.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/fs.h>
#include <linux/limits.h>
#include <node_api.h>

/* What copyEntry did; the numbers are shared with copytree.ts (NativeKind). */
enum { KIND_DIR = 0, KIND_FILE = 1, KIND_SYMLINK = 2, KIND_SPECIAL = 3, KIND_LINKED = 4, KIND_SOCKET = 5 };
/* Flags from copytree.ts (NativeFlag). */
enum { FLAG_AS_ROOT = 1, FLAG_OWN_DIR = 2, FLAG_FORCE = 4, FLAG_NO_CLONE = 8 };
/* Added to the kind returned: FICLONE was refused as unsupported between these filesystems. */
enum { CLONE_REFUSED = 0x100 };

/* A failure: the errno, the operation in copytree.ts's words, and which path it concerns. */
struct failure {
  int err;
  const char *op;
  char xattr[XATTR_NAME_MAX + 1]; /* the attribute's name, for the xattr operations ("" otherwise) */
  int at;            /* AT_SRC, AT_DST or AT_BOTH (src -> dst) */
};
enum { AT_SRC = 0, AT_DST = 1, AT_BOTH = 2 };

static int fail(struct failure *f, int err, const char *op, int at) {
  f->err = err;
  f->op = op;
  f->at = at;
  return -1;
}

/* The attribute a failure concerns (names are at most XATTR_NAME_MAX bytes). */
static void name_failed(struct failure *f, const char *name) {
  size_t len = strnlen(name, XATTR_NAME_MAX);
  memcpy(f->xattr, name, len);
  f->xattr[len] = '\0';
}

/* The overlay's own bookkeeping on a layer would make overlayfs misread the copy (see xattr.ts). */
static bool copyable(const char *name) {
  return strncmp(name, "trusted.overlay.", 16) != 0;
}

/*
 * Every copyable attribute of in (a descriptor, or a path with fd < 0: lgetxattr and friends) onto out
 * (likewise). Unsupported on the source means none. Names and values up to 4 KiB go through the stack.
 */
static int copy_xattrs(int in, const char *in_path, int out, const char *out_path, struct failure *f) {
  char small_names[4096];
  char *names = small_names;
  ssize_t n = in >= 0 ? flistxattr(in, names, sizeof small_names) : llistxattr(in_path, names, sizeof small_names);
  if (n < 0 && errno == ERANGE) {
    ssize_t want = in >= 0 ? flistxattr(in, NULL, 0) : llistxattr(in_path, NULL, 0);
    if (want < 0) return fail(f, errno, "list extended attributes of", AT_SRC);
    names = malloc((size_t)want + 1);
    if (names == NULL) return fail(f, ENOMEM, "list extended attributes of", AT_SRC);
    n = in >= 0 ? flistxattr(in, names, (size_t)want + 1) : llistxattr(in_path, names, (size_t)want + 1);
  }
  if (n < 0) {
    int err = errno;
    if (names != small_names) free(names);
    if (err == ENOTSUP) return 0;
    return fail(f, err, "list extended attributes of", AT_SRC);
  }
  int rc = 0;
  char small_value[4096];
  for (char *name = names; name < names + n; name += strlen(name) + 1) {
    if (!copyable(name)) continue;
    char *value = small_value;
    ssize_t len = in >= 0 ? fgetxattr(in, name, value, sizeof small_value) : lgetxattr(in_path, name, value, sizeof small_value);
    if (len < 0 && errno == ERANGE) {
      ssize_t want = in >= 0 ? fgetxattr(in, name, NULL, 0) : lgetxattr(in_path, name, NULL, 0);
      if (want >= 0) {
        value = malloc((size_t)want + 1);
        if (value == NULL) {
          errno = ENOMEM;
          len = -1;
        } else {
          len = in >= 0 ? fgetxattr(in, name, value, (size_t)want + 1) : lgetxattr(in_path, name, value, (size_t)want + 1);
        }
      } else {
        len = -1;
      }
    }
    if (len < 0) {
      int err = errno;
      if (value != small_value) free(value);
      if (err == ENODATA) continue; /* removed between list and get */
      name_failed(f, name);
      rc = fail(f, err, "read extended attribute", AT_SRC);
      break;
    }
    int set = out >= 0 ? fsetxattr(out, name, value, (size_t)len, 0) : lsetxattr(out_path, name, value, (size_t)len, 0);
    int err = errno;
    if (value != small_value) free(value);
    if (set != 0) {
      name_failed(f, name);
      rc = fail(f, err, "set extended attribute", AT_DST);
      break;
    }
  }
  if (names != small_names) free(names);
  return rc;
}

/*
 * Plain reads and writes of bytes [off, end), or from off to the end of the file when end < 0: where the
 * kernel cannot copy between the two files.
 */
static int copy_by_rw(int in, int out, off_t off, off_t end) {
  char buf[128 * 1024];
  while (end < 0 || off < end) {
    size_t chunk = end >= 0 && (size_t)(end - off) < sizeof buf ? (size_t)(end - off) : sizeof buf;
    ssize_t r = pread(in, buf, chunk, off);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (r == 0) return 0;
    for (ssize_t done = 0; done < r;) {
      ssize_t w = pwrite(out, buf + done, (size_t)(r - done), off + done);
      if (w < 0) {
        if (errno == EINTR) continue;
        return -1;
      }
      done += w;
    }
    off += r;
  }
  return 0;
}

/*
 * Bytes [off, end) by copy_file_range(2), or to the end of the file when end < 0; read/write where refused.
 * A bounded copy stops at `end` without the call that would find the end of the file (one call per file).
 */
static int copy_range(int in, int out, off_t off, off_t end) {
  for (;;) {
    size_t want = end < 0 ? (size_t)1 << 30 : (size_t)(end - off);
    if (end >= 0 && want == 0) return 0;
    off_t in_off = off, out_off = off;
    ssize_t n = copy_file_range(in, &in_off, out, &out_off, want, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOSYS || errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP || errno == ENOTSUP) {
        return copy_by_rw(in, out, off, end);
      }
      return -1;
    }
    if (n == 0) {
      /* Some files (procfs-like) report no size to copy_file_range: read what is there instead. */
      if (off == 0) return copy_by_rw(in, out, 0, -1);
      return 0;
    }
    off += n;
  }
}

/*
 * The bytes of in onto the new, empty out: a reflink where the filesystem shares extents, else
 * copy_file_range (in-kernel, and itself a clone on some filesystems). A file with holes (fewer blocks
 * than its size needs) is copied extent by extent (SEEK_DATA/SEEK_HOLE), so the copy has the same holes.
 */
static int copy_data(int in, int out, const struct stat *st, int flags, bool *clone_refused) {
  if (st->st_size == 0) return 0; /* as copyFile: nothing to copy */
  if (!(flags & FLAG_NO_CLONE)) {
    if (ioctl(out, FICLONE, in) == 0) return 0;
    *clone_refused = errno == EOPNOTSUPP || errno == ENOTTY || errno == EXDEV || errno == EINVAL;
  }
  if ((off_t)st->st_blocks * 512 >= st->st_size) return copy_range(in, out, 0, st->st_size);
  off_t data = 0;
  for (;;) {
    data = lseek(in, data, SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break; /* no data after here: the rest is a hole */
      if (errno == EINVAL || errno == EOPNOTSUPP) return copy_range(in, out, 0, -1);
      return -1;
    }
    off_t hole = lseek(in, data, SEEK_HOLE);
    if (hole < 0) return -1;
    if (copy_range(in, out, data, hole) != 0) return -1;
    data = hole;
  }
  return ftruncate(out, st->st_size);
}

static struct timespec atime_of(const struct stat *st) { return st->st_atim; }
static struct timespec mtime_of(const struct stat *st) { return st->st_mtim; }

/* Owner first (it clears setuid, setgid and security.capability), then mode, xattrs, times: see metadata.ts. */
/* The process's user and group (copyEntry's arguments: the caller reads them once per copy, not once per file). */
struct self {
  uid_t uid;
  gid_t gid;
};

static int copy_file(const char *src, const char *dst, const struct stat *lst, int flags, const struct self *self, bool *clone_refused, struct failure *f) {
  int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (in < 0) return fail(f, errno, "copy", AT_BOTH);
  struct stat st;
  if (fstat(in, &st) != 0) {
    int err = errno;
    close(in);
    return fail(f, err, "copy", AT_BOTH);
  }
  if (!S_ISREG(st.st_mode) || st.st_ino != lst->st_ino || st.st_dev != lst->st_dev) {
    close(in);
    return fail(f, EAGAIN, "copy (it changed while being copied)", AT_BOTH);
  }
  /* Exclusive: an existing name, or a symlink planted there, is refused and never written through. */
  int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (out < 0) {
    int err = errno;
    close(in);
    return fail(f, err, "copy", AT_BOTH);
  }
  int rc = 0;
  if (copy_data(in, out, &st, flags, clone_refused) != 0) {
    /* As copyFile does, a half-written copy (ENOSPC...) is not left behind. */
    rc = fail(f, errno, "copy", AT_BOTH);
    close(out);
    unlink(dst);
    close(in);
    return rc;
  }
  /* A file made in a folder of this copy's own (0700, never setgid) already has the process's owner. */
  bool same_owner = (flags & FLAG_OWN_DIR) && st.st_uid == self->uid && st.st_gid == self->gid;
  if ((flags & FLAG_AS_ROOT) && !same_owner && fchown(out, st.st_uid, st.st_gid) != 0) {
    rc = fail(f, errno, "change owner of", AT_DST);
  } else if (fchmod(out, st.st_mode & 07777) != 0) {
    rc = fail(f, errno, "change mode of", AT_DST);
  } else if (copy_xattrs(in, src, out, dst, f) != 0) {
    rc = -1;
  } else {
    struct timespec times[2] = {atime_of(&st), mtime_of(&st)};
    if (futimens(out, times) != 0) rc = fail(f, errno, "set times of", AT_DST);
  }
  close(in);
  /* close(2) can report a failed write-back (NFS and the like). */
  if (close(out) != 0 && rc == 0 && errno != EINTR) rc = fail(f, errno, "copy", AT_BOTH);
  return rc;
}

/* The target as bytes, never resolved. Symlinks' attributes are not copied, as in the JS path (xattr.ts). */
static int copy_symlink(const char *src, const char *dst, const struct stat *st, int flags, struct failure *f) {
  char small[PATH_MAX];
  size_t cap = (size_t)st->st_size + 1 > sizeof small ? (size_t)st->st_size + 1 : sizeof small;
  char *target = cap > sizeof small ? malloc(cap) : small;
  if (target == NULL) return fail(f, ENOMEM, "read symlink", AT_SRC);
  ssize_t n = readlink(src, target, cap);
  int rc = 0;
  if (n < 0 || (size_t)n >= cap) {
    rc = fail(f, n < 0 ? errno : ENAMETOOLONG, "read symlink", AT_SRC);
  } else {
    target[n] = '\0';
    if (symlink(target, dst) != 0) rc = fail(f, errno, "create symlink", AT_DST);
  }
  if (target != small) free(target);
  if (rc != 0) return rc;
  if ((flags & FLAG_AS_ROOT) && lchown(dst, st->st_uid, st->st_gid) != 0) return fail(f, errno, "change owner of", AT_DST);
  struct timespec times[2] = {atime_of(st), mtime_of(st)};
  if (utimensat(AT_FDCWD, dst, times, AT_SYMLINK_NOFOLLOW) != 0) return fail(f, errno, "set times of", AT_DST);
  return 0;
}

/* A fifo or device node, made owner-only and then given its owner, mode, xattrs and times. Only root may make devices. */
static int copy_special(const char *src, const char *dst, const struct stat *st, int flags, struct failure *f) {
  const char *op = S_ISFIFO(st->st_mode) ? "create (mkfifo)" : "create (mknod)";
  if (mknod(dst, (st->st_mode & S_IFMT) | 0600, S_ISFIFO(st->st_mode) ? 0 : st->st_rdev) != 0) return fail(f, errno, op, AT_DST);
  if ((flags & FLAG_AS_ROOT) && lchown(dst, st->st_uid, st->st_gid) != 0) return fail(f, errno, "change owner of", AT_DST);
  if (fchmodat(AT_FDCWD, dst, st->st_mode & 07777, 0) != 0) return fail(f, errno, "change mode of", AT_DST);
  if (copy_xattrs(-1, src, -1, dst, f) != 0) return -1;
  struct timespec times[2] = {atime_of(st), mtime_of(st)};
  if (utimensat(AT_FDCWD, dst, times, AT_SYMLINK_NOFOLLOW) != 0) return fail(f, errno, "set times of", AT_DST);
  return 0;
}

static void set_int(napi_env env, napi_value obj, const char *key, int32_t v) {
  napi_value value;
  napi_create_int32(env, v, &value);
  napi_set_named_property(env, obj, key, value);
}

static void set_str(napi_env env, napi_value obj, const char *key, const char *v) {
  napi_value value;
  napi_create_string_utf8(env, v, NAPI_AUTO_LENGTH, &value);
  napi_set_named_property(env, obj, key, value);
}

/* An Error carrying errnoNumber, op, at (0 src, 1 dst, 2 both) and, for xattr operations, the attribute's name. */
static napi_value throw_failure(napi_env env, const struct failure *f) {
  napi_value message, error;
  napi_create_string_utf8(env, strerror(f->err), NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, NULL, message, &error);
  set_int(env, error, "errnoNumber", f->err);
  set_str(env, error, "op", f->op);
  set_int(env, error, "at", f->at);
  if (f->xattr[0] != '\0') set_str(env, error, "xattr", f->xattr);
  napi_throw(env, error);
  return NULL;
}

/* A JS string as a NUL-terminated path in buf (PATH_MAX + 1 bytes); false after throwing. */
static bool get_path(napi_env env, napi_value v, char *buf, int at) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected a path string");
    return false;
  }
  struct failure f = {.err = 0, .op = "copy", .at = at};
  if (len > PATH_MAX) {
    f.err = ENAMETOOLONG;
    throw_failure(env, &f);
    return false;
  }
  napi_get_value_string_utf8(env, v, buf, PATH_MAX + 1, &len);
  if (strlen(buf) != len) { /* a NUL inside the name would cut it short */
    f.err = EINVAL;
    throw_failure(env, &f);
    return false;
  }
  return true;
}

/*
 * copyEntry(src, dst, flags, out: BigUint64Array(3), uid, gid) → kind, uid and gid being the process's
 * effective ones (what a file made in a folder of the copy's own belongs to). lstat(src), then: a directory or a socket is
 * only reported (KIND_DIR, KIND_SOCKET); a non-directory with several links, unless FLAG_FORCE, is reported
 * as KIND_LINKED with out = [size, dev, ino] and nothing made (the caller links it to an earlier copy or
 * calls again with FLAG_FORCE); anything else is created at dst, which must not exist, with its metadata,
 * and out[0] is its size. KIND_FILE comes with CLONE_REFUSED added when a reflink was refused as not
 * supported: the caller passes FLAG_NO_CLONE for the rest of the tree, saving a failing ioctl per file (a
 * file that could have been cloned is then copied, the same bytes). Failures throw (throw_failure).
 */
static napi_value copy_entry(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  int32_t flags;
  uint32_t uid, gid;
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 6 ||
      napi_get_value_int32(env, argv[2], &flags) != napi_ok ||
      napi_get_value_uint32(env, argv[4], &uid) != napi_ok || napi_get_value_uint32(env, argv[5], &gid) != napi_ok ||
      napi_get_typedarray_info(env, argv[3], &type, &length, &data, NULL, NULL) != napi_ok ||
      type != napi_biguint64_array || length < 3) {
    napi_throw_type_error(env, NULL, "expected (src, dst, flags, out: BigUint64Array(3), uid, gid)");
    return NULL;
  }
  char src[PATH_MAX + 1], dst[PATH_MAX + 1];
  if (!get_path(env, argv[0], src, AT_SRC) || !get_path(env, argv[1], dst, AT_DST)) return NULL;
  uint64_t *out = data;
  const struct self self = {(uid_t)uid, (gid_t)gid};
  struct failure f = {.err = 0, .op = NULL, .at = AT_SRC};
  struct stat st;
  int kind;
  if (lstat(src, &st) != 0) {
    fail(&f, errno, "stat", AT_SRC);
    return throw_failure(env, &f);
  }
  out[0] = (uint64_t)st.st_size;
  out[1] = (uint64_t)st.st_dev;
  out[2] = (uint64_t)st.st_ino;
  if (S_ISDIR(st.st_mode)) {
    kind = KIND_DIR;
  } else if (S_ISSOCK(st.st_mode)) {
    kind = KIND_SOCKET;
  } else if (st.st_nlink > 1 && !(flags & FLAG_FORCE)) {
    kind = KIND_LINKED;
  } else if (S_ISREG(st.st_mode)) {
    bool clone_refused = false;
    kind = copy_file(src, dst, &st, flags, &self, &clone_refused, &f) == 0 ? KIND_FILE | (clone_refused ? CLONE_REFUSED : 0) : -1;
  } else if (S_ISLNK(st.st_mode)) {
    kind = copy_symlink(src, dst, &st, flags, &f) == 0 ? KIND_SYMLINK : -1;
  } else {
    kind = copy_special(src, dst, &st, flags, &f) == 0 ? KIND_SPECIAL : -1;
  }
  if (kind < 0) return throw_failure(env, &f);
  napi_value result;
  napi_create_int32(env, kind, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    {"copyEntry", NULL, copy_entry, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, 1, props) != napi_ok) return NULL;
  return exports;
}
