/*
 * New files written whole on a worker thread, a batch at a time: each created under a name that must not
 * exist yet (O_CREAT | O_EXCL | O_NOFOLLOW), its bytes written, its owner, mode and mtime set through the
 * descriptor, and closed — one thread-pool job for many files instead of six synchronous calls each on
 * the main thread. A batch runs on one thread, in order: files created in one folder by several threads
 * at once only contend for the folder's lock (the kernel spins on it).
 *
 * Why: staging creates thousands of small files, and on ext4 creating an inode is the costly part of it
 * (the allocator walks the inode bitmap, and on a filesystem without a journal it also skips every inode
 * freed in the last seconds, as after removing a root). Done synchronously, that was a fifth of a
 * bootstrap's main thread, the thread everything else waits for; here it runs beside the decoding.
 *
 * The caller keeps the buffers alive and unchanged until the promise settles (src/fs/file-writes.ts).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <node_api.h>
#include "napi_errno.h"

#define MAX_PARTS 4096

typedef struct {
  char *path;
  struct iovec *parts;
  uint32_t count;
  mode_t mode;
  uid_t uid;
  gid_t gid;
  struct timespec mtime;
} one_file;

typedef struct {
  one_file *files;
  uint32_t count;
  bool chown;
  /* Set by run: 0, or the errno of the call named by `step` on files[failed]. */
  int err;
  const char *step;
  uint32_t failed;
  napi_ref keep;
  napi_deferred deferred;
  napi_async_work work;
} write_job;

/* Writes every byte of the parts (a regular file may take fewer than offered), IOV_MAX at a time. */
static int write_all(int fd, struct iovec *iov, uint32_t count) {
  while (count > 0) {
    if (iov->iov_len == 0) {
      iov++;
      count--;
      continue;
    }
    ssize_t n = writev(fd, iov, count > IOV_MAX ? IOV_MAX : (int)count);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    while (n > 0) {
      if ((size_t)n >= iov->iov_len) {
        n -= (ssize_t)iov->iov_len;
        iov++;
        count--;
      } else {
        iov->iov_base = (char *)iov->iov_base + n;
        iov->iov_len -= (size_t)n;
        n = 0;
      }
    }
  }
  return 0;
}

/* One file created, written, given its metadata and closed: 0, or an errno with *step saying which call. */
static int write_one(const one_file *f, bool do_chown, const char **step) {
  *step = "create";
  int fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return errno;
  *step = "write";
  int err = write_all(fd, f->parts, f->count);
  if (err == 0) {
    /* Owner first (only root can give files away), then mode (chown clears setuid/setgid), then mtime. */
    *step = "set metadata of";
    struct timespec times[2] = {f->mtime, f->mtime};
    if ((do_chown && fchown(fd, f->uid, f->gid) != 0) || fchmod(fd, f->mode) != 0 || futimens(fd, times) != 0) err = errno;
  }
  if (close(fd) != 0 && err == 0) {
    *step = "write";
    err = errno;
  }
  return err;
}

/* The files in order, one after another on this one thread; the first failure stops the batch. */
static void run(napi_env env, void *data) {
  (void)env;
  write_job *job = data;
  for (uint32_t i = 0; i < job->count; i++) {
    job->err = write_one(&job->files[i], job->chown, &job->step);
    if (job->err != 0) {
      job->failed = i;
      return;
    }
  }
}

static void free_job(napi_env env, write_job *job) {
  if (job->keep != NULL) napi_delete_reference(env, job->keep);
  if (job->files != NULL) {
    for (uint32_t i = 0; i < job->count; i++) {
      free(job->files[i].path);
      free(job->files[i].parts);
    }
    free(job->files);
  }
  free(job);
}

static void done(napi_env env, napi_status status, void *data) {
  write_job *job = data;
  napi_value result;
  if (status == napi_ok && job->err == 0) {
    napi_get_undefined(env, &result);
    napi_resolve_deferred(env, job->deferred, result);
  } else {
    napi_value step, index;
    result = errno_error(env, status == napi_ok ? job->err : ECANCELED);
    napi_create_string_utf8(env, job->step == NULL ? "create" : job->step, NAPI_AUTO_LENGTH, &step);
    napi_create_uint32(env, job->failed, &index);
    napi_set_named_property(env, result, "step", step);
    napi_set_named_property(env, result, "index", index);
    napi_reject_deferred(env, job->deferred, result);
  }
  napi_delete_async_work(env, job->work);
  free_job(env, job);
}

static napi_value fail(napi_env env, write_job *job, const char *why) {
  if (job != NULL) free_job(env, job);
  napi_throw_type_error(env, NULL, why);
  return NULL;
}

static const char *USAGE = "expected (files: [path, parts: Buffer[], mode, uid, gid, mtimeNs: bigint][], chown: boolean)";

/* One [path, parts, mode, uid, gid, mtimeNs] into f; false on a malformed one (f's own allocations are the job's to free). */
static bool read_file(napi_env env, napi_value item, one_file *f) {
  napi_value v[6];
  bool is_array, lossless;
  uint32_t length, count, mode, uid, gid;
  int64_t mtime_ns;
  size_t len;
  if (napi_is_array(env, item, &is_array) != napi_ok || !is_array || napi_get_array_length(env, item, &length) != napi_ok || length != 6) return false;
  for (uint32_t k = 0; k < 6; k++)
    if (napi_get_element(env, item, k, &v[k]) != napi_ok) return false;
  if (napi_get_value_string_utf8(env, v[0], NULL, 0, &len) != napi_ok || napi_is_array(env, v[1], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, v[1], &count) != napi_ok || count > MAX_PARTS || napi_get_value_uint32(env, v[2], &mode) != napi_ok ||
      napi_get_value_uint32(env, v[3], &uid) != napi_ok || napi_get_value_uint32(env, v[4], &gid) != napi_ok ||
      napi_get_value_bigint_int64(env, v[5], &mtime_ns, &lossless) != napi_ok || !lossless) {
    return false;
  }
  f->path = malloc(len + 1);
  f->parts = calloc(count == 0 ? 1 : count, sizeof *f->parts);
  if (f->path == NULL || f->parts == NULL) return false;
  napi_get_value_string_utf8(env, v[0], f->path, len + 1, &len);
  if (strlen(f->path) != len) return false; /* a NUL inside the name would cut it short */
  for (uint32_t i = 0; i < count; i++) {
    napi_value part;
    bool is_buffer;
    void *bytes;
    size_t size;
    if (napi_get_element(env, v[1], i, &part) != napi_ok || napi_is_buffer(env, part, &is_buffer) != napi_ok || !is_buffer ||
        napi_get_buffer_info(env, part, &bytes, &size) != napi_ok) {
      return false;
    }
    f->parts[i].iov_base = bytes;
    f->parts[i].iov_len = size;
  }
  f->count = count;
  f->mode = (mode_t)(mode & 07777);
  f->uid = (uid_t)uid;
  f->gid = (gid_t)gid;
  f->mtime = ns_to_timespec(mtime_ns);
  return true;
}

/*
 * writeFiles(files, chown) -> a promise, resolved when every file is complete and closed, rejected with
 * errnoNumber, step ("create", "write", "set metadata of") and index (the file that failed; those after it
 * were not started). A failed batch leaves whatever it created for the caller's cleanup of the folder.
 */
static napi_value write_files(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  uint32_t count;
  bool is_array, do_chown;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 2 || napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array || napi_get_array_length(env, argv[0], &count) != napi_ok ||
      napi_get_value_bool(env, argv[1], &do_chown) != napi_ok) {
    return fail(env, NULL, USAGE);
  }
  write_job *job = calloc(1, sizeof *job);
  if (job == NULL) return fail(env, NULL, "out of memory");
  job->files = calloc(count == 0 ? 1 : count, sizeof *job->files);
  if (job->files == NULL) return fail(env, job, "out of memory");
  job->count = count;
  job->chown = do_chown;
  for (uint32_t i = 0; i < count; i++) {
    napi_value item;
    if (napi_get_element(env, argv[0], i, &item) != napi_ok || !read_file(env, item, &job->files[i])) return fail(env, job, USAGE);
  }
  /* The array holds the buffers: kept alive until the job is done (the caller does not change it). */
  if (napi_create_reference(env, argv[0], 1, &job->keep) != napi_ok) return fail(env, job, "cannot hold the files");
  return queue_work(env, "write_files", run, done, job, &job->deferred, &job->work);
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    {"writeFiles", NULL, write_files, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, 1, props) != napi_ok) return NULL;
  return exports;
}
