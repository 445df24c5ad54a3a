/*
 * A data.tar staged on a worker thread: read from a descriptor (xz's output pipe, or a member decoded
 * ahead into a file), each regular file's body written into the staging folder under the next number and
 * hashed on the way (SHA-256, and MD5 when asked), with the header's owner, mode and mtime. What the caller
 * gets, a batch at a time, is the rest of the stream: the header blocks and GNU long-name records, in
 * order, and one record per file written (its number and digests); stageNatively (src/stage/stage.ts)
 * checks every header as the JavaScript reader does and makes the manifest from them.
 *
 * Why: in a bootstrap the main thread spent about 1.4 s on the extraction, much of it on the bodies
 * (reading the decoder's output in 64 KiB chunks, hashing, handing files to the writer), while both cores
 * were busy; here the bodies never reach JavaScript.
 *
 * Only the plain shape of an archive is handled here, the one dpkg-deb writes: ustar or GNU headers with
 * good checksums, octal numbers, regular files, links, folders and devices, GNU long names, zero blocks
 * after the end. Anything else — a pax header, a base-256 number, a bad checksum, a size where none belongs,
 * bytes after the end, a truncated stream, a file past the size bound — ends the job with "fallback": the
 * caller throws the folder's files away and stages the archive with the JavaScript reader, which refuses
 * or accepts it with its own words. So this file never has to word a refusal, and never decides one.
 *
 * SHA-256 and MD5 are OpenSSL's, as Node exports it to addons; looked up when the module loads, so that a
 * Node without them makes the module fail to load (and the caller use JavaScript) instead of failing later.
 *
 * An xz data member is decoded here too, by the host's liblzma (dpkg's own dependency, the library the
 * `xz` program is), read from the archive's descriptor: a process of `xz` per archive cost its start, the
 * dictionary's page faults and a copy of everything through a pipe — about 0.2 s of CPU over the 63
 * archives a bootstrap extracts, on cores the extraction keeps busy. A stream that does not decode whole
 * (corrupt, truncated, over the memory limit, anything after it) ends the job with "fallback" like a bad
 * header: the JavaScript reader decodes it again and words the refusal.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <node_api.h>
#include "napi_errno.h"

#define BLOCK 512
/* Input buffer: a GNU long name (at most MAX_META bytes) and its header fit whole. */
#define IN_SIZE (2u << 20)
#define MAX_META (1u << 20)
/* A batch ends once this much header data or this many files are gathered. */
#define BATCH_META (256u * 1024u)
#define BATCH_FILES 2048u
#define SHA_LEN 32
#define MD5_LEN 16
#define RECORD_LEN (4 + SHA_LEN + MD5_LEN)

enum { MORE = 0, DONE = 1, FALLBACK = 2 };

/* OpenSSL's digest API, opaque types declared here: no OpenSSL header is needed to build. */
typedef struct evp_md_ctx_st EVP_MD_CTX;
typedef struct evp_md_st EVP_MD;
static EVP_MD_CTX *(*ctx_new)(void);
static void (*ctx_free)(EVP_MD_CTX *);
static int (*digest_init)(EVP_MD_CTX *, const EVP_MD *, void *);
static int (*digest_update)(EVP_MD_CTX *, const void *, size_t);
static int (*digest_final)(EVP_MD_CTX *, unsigned char *, unsigned int *);
static const EVP_MD *(*md_sha256)(void);
static const EVP_MD *(*md_md5)(void);

/*
 * liblzma's stream as its ABI lays it out (lzma/base.h, stable since 5.0), its functions looked up in
 * liblzma.so.5 when a stager first asks: no liblzma header is needed to build, and a host without the
 * library makes `open` refuse xz (the caller then starts `xz`).
 */
typedef struct {
  const uint8_t *next_in;
  size_t avail_in;
  uint64_t total_in;
  uint8_t *next_out;
  size_t avail_out;
  uint64_t total_out;
  const void *allocator;
  void *internal;
  void *reserved_ptr[4];
  uint64_t reserved_int[2];
  size_t reserved_size[2];
  int reserved_enum[2];
} xz_stream;
/* Return codes, actions and flags: LZMA_OK, LZMA_STREAM_END, LZMA_RUN, LZMA_FINISH, LZMA_CONCATENATED and
 * LZMA_TELL_UNSUPPORTED_CHECK (a check liblzma cannot verify is an error here: `xz` warns and exits 2). */
enum { XZ_OK = 0, XZ_STREAM_END = 1, XZ_RUN = 0, XZ_FINISH = 3, XZ_CONCATENATED = 0x08, XZ_TELL_UNSUPPORTED_CHECK = 0x02 };
static int (*xz_stream_decoder)(xz_stream *, uint64_t memlimit, uint32_t flags);
static int (*xz_code)(xz_stream *, int action);
static void (*xz_end)(xz_stream *);
/* Compressed input read at a time. */
#define XZ_IN_SIZE (256u * 1024u)

/* Whether liblzma is loaded (looked for once; open and decodeXz run on the JavaScript thread only). */
static bool load_xz(void) {
  static int state = 0; /* 0 not tried, 1 loaded, -1 absent */
  if (state == 0) {
    void *lib = dlopen("liblzma.so.5", RTLD_NOW | RTLD_LOCAL);
    if (lib != NULL) {
      xz_stream_decoder = (int (*)(xz_stream *, uint64_t, uint32_t))dlsym(lib, "lzma_stream_decoder");
      xz_code = (int (*)(xz_stream *, int))dlsym(lib, "lzma_code");
      xz_end = (void (*)(xz_stream *))dlsym(lib, "lzma_end");
    }
    state = xz_stream_decoder && xz_code && xz_end ? 1 : -1;
  }
  return state == 1;
}

static bool load_digests(void) {
  ctx_new = (EVP_MD_CTX * (*)(void)) dlsym(RTLD_DEFAULT, "EVP_MD_CTX_new");
  ctx_free = (void (*)(EVP_MD_CTX *))dlsym(RTLD_DEFAULT, "EVP_MD_CTX_free");
  digest_init = (int (*)(EVP_MD_CTX *, const EVP_MD *, void *))dlsym(RTLD_DEFAULT, "EVP_DigestInit_ex");
  digest_update = (int (*)(EVP_MD_CTX *, const void *, size_t))dlsym(RTLD_DEFAULT, "EVP_DigestUpdate");
  digest_final = (int (*)(EVP_MD_CTX *, unsigned char *, unsigned int *))dlsym(RTLD_DEFAULT, "EVP_DigestFinal_ex");
  md_sha256 = (const EVP_MD *(*)(void))dlsym(RTLD_DEFAULT, "EVP_sha256");
  md_md5 = (const EVP_MD *(*)(void))dlsym(RTLD_DEFAULT, "EVP_md5");
  return ctx_new && ctx_free && digest_init && digest_update && digest_final && md_sha256 && md_md5;
}

/* A growable byte buffer. */
typedef struct {
  unsigned char *bytes;
  size_t len, cap;
} grow_buf;

static bool put(grow_buf *b, const void *bytes, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap == 0 ? 64 * 1024 : b->cap;
    while (cap < b->len + n) cap *= 2;
    unsigned char *more = realloc(b->bytes, cap);
    if (more == NULL) return false;
    b->bytes = more;
    b->cap = cap;
  }
  memcpy(b->bytes + b->len, bytes, n);
  b->len += n;
  return true;
}

typedef struct {
  /* Set once by open. */
  int in_fd, dir_fd;
  bool chown, md5;
  int64_t max_bytes, max_entries; /* -1: no bound */
  /* The stream. */
  unsigned char *in;
  size_t pos, len;
  bool eof;
  /* An xz member decoded here: the decoder, its input buffer, and whether the input or the stream ended. */
  bool xz;
  xz_stream z;
  unsigned char *z_in;
  bool z_eof, z_end;
  /* What the stream has shown so far. */
  uint32_t next_name;
  int64_t bytes, entries;
  bool long_name, long_link;
  unsigned char long_name_last;
  bool finished;
  EVP_MD_CTX *sha, *md;
  /* The batch being made (handed to JavaScript by done). */
  grow_buf meta, files;
  int status, err;
  const char *why;
  /* The async work in flight, if any. */
  napi_async_work work;
  napi_deferred deferred;
} stager;

/*
 * Up to `cap` bytes of the xz member decoded into `out`: how many (0 once the stream has ended, whole), or
 * -1 with errno set — EBADMSG for a stream that does not decode whole.
 */
static ssize_t read_decoded(stager *s, unsigned char *out, size_t cap) {
  if (s->z_end) return 0;
  s->z.next_out = out;
  s->z.avail_out = cap;
  while (s->z.avail_out == cap) {
    if (s->z.avail_in == 0 && !s->z_eof) {
      ssize_t n = read(s->in_fd, s->z_in, XZ_IN_SIZE);
      if (n < 0) {
        if (errno == EINTR) continue;
        return -1;
      }
      s->z_eof = n == 0;
      s->z.next_in = s->z_in;
      s->z.avail_in = (size_t)n;
    }
    int ret = xz_code(&s->z, s->z_eof ? XZ_FINISH : XZ_RUN);
    if (ret == XZ_STREAM_END) {
      s->z_end = true;
      break;
    }
    if (ret != XZ_OK) {
      errno = EBADMSG;
      return -1;
    }
  }
  return (ssize_t)(cap - s->z.avail_out);
}

/* At least `need` bytes buffered (need <= IN_SIZE), unless the stream ends first; returns what is buffered. */
static size_t fill(stager *s, size_t need) {
  if (s->len - s->pos >= need || s->eof) return s->len - s->pos;
  if (s->pos > 0) {
    memmove(s->in, s->in + s->pos, s->len - s->pos);
    s->len -= s->pos;
    s->pos = 0;
  }
  while (s->len < need && !s->eof) {
    ssize_t n = s->xz ? read_decoded(s, s->in + s->len, IN_SIZE - s->len) : read(s->in_fd, s->in + s->len, IN_SIZE - s->len);
    if (n < 0) {
      if (errno == EINTR) continue;
      s->err = errno;
      s->eof = true;
      break;
    }
    if (n == 0) s->eof = true;
    s->len += (size_t)n;
  }
  return s->len - s->pos;
}

static int fallback(stager *s, const char *why) {
  s->status = FALLBACK;
  s->why = why;
  return FALLBACK;
}

static bool zero_block(const unsigned char *b) {
  for (int i = 0; i < BLOCK; i++)
    if (b[i] != 0) return false;
  return true;
}

/* Octal as the JavaScript reader takes it (leading spaces, digits, then only spaces or NULs); false otherwise, base-256 included. */
static bool octal(const unsigned char *f, int n, int64_t *out) {
  int i = 0;
  int64_t v = 0;
  if (n > 0 && (f[0] & 0x80)) return false;
  while (i < n && f[i] == ' ') i++;
  for (; i < n && f[i] >= '0' && f[i] <= '7'; i++) {
    if (v > (INT64_C(1) << 50)) return false;
    v = v * 8 + (f[i] - '0');
  }
  for (; i < n; i++)
    if (f[i] != ' ' && f[i] != 0) return false;
  *out = v;
  return true;
}

static bool checksum_ok(const unsigned char *b) {
  int64_t stored;
  if (!octal(b + 148, 8, &stored)) return false;
  int64_t u = 0, sgn = 0;
  for (int i = 0; i < BLOCK; i++) {
    int c = (i >= 148 && i < 156) ? 0x20 : b[i];
    u += c;
    sgn += c > 127 ? c - 256 : c;
  }
  return stored == u || stored == sgn;
}

static size_t cstr_len(const unsigned char *f, size_t n) {
  const unsigned char *nul = memchr(f, 0, n);
  return nul == NULL ? n : (size_t)(nul - f);
}

/* The last byte of the entry's name as the JavaScript reader assembles it (GNU long name, ustar prefix); 0 when empty. */
static unsigned char name_last(const stager *s, const unsigned char *h) {
  if (s->long_name) return s->long_name_last;
  size_t n = cstr_len(h, 100);
  if (n > 0) return h[n - 1];
  if (memcmp(h + 257, "ustar\0", 6) == 0 && cstr_len(h + 345, 155) > 0) return '/';
  return 0;
}

static int write_all(int fd, const unsigned char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Skips `n` bytes of the stream (padding); false if it ends first. */
static bool skip(stager *s, size_t n) {
  while (n > 0) {
    size_t have = fill(s, 1);
    if (have == 0) return false;
    size_t k = have < n ? have : n;
    s->pos += k;
    n -= k;
  }
  return true;
}

/* One regular file's body (the header at h, already copied) into the folder under the next number. */
static int stage_file(stager *s, const unsigned char *h, int64_t size) {
  int64_t mode, uid, gid, mtime;
  if (!octal(h + 100, 8, &mode) || !octal(h + 108, 8, &uid) || !octal(h + 116, 8, &gid) || !octal(h + 136, 12, &mtime)) return fallback(s, "number");
  if (uid > UINT32_MAX || gid > UINT32_MAX) return fallback(s, "owner");
  if (s->max_bytes >= 0 && s->bytes + size > s->max_bytes) return fallback(s, "size bound");
  s->bytes += size;
  char name[16];
  snprintf(name, sizeof name, "%u", s->next_name);
  int fd = openat(s->dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    s->err = errno;
    return fallback(s, "create");
  }
  digest_init(s->sha, md_sha256(), NULL);
  if (s->md5) digest_init(s->md, md_md5(), NULL);
  int64_t left = size;
  int err = 0;
  while (left > 0 && err == 0) {
    size_t have = fill(s, 1);
    if (have == 0) break;
    size_t k = (int64_t)have < left ? have : (size_t)left;
    const unsigned char *p = s->in + s->pos;
    digest_update(s->sha, p, k);
    if (s->md5) digest_update(s->md, p, k);
    err = write_all(fd, p, k);
    s->pos += k;
    left -= (int64_t)k;
  }
  if (err == 0 && left == 0) {
    /* Owner first (only root can give files away), then mode (chown clears setuid/setgid), then mtime. */
    struct timespec times[2] = {{(time_t)mtime, 0}, {(time_t)mtime, 0}};
    if ((s->chown && fchown(fd, (uid_t)uid, (gid_t)gid) != 0) || fchmod(fd, (mode_t)(mode & 07777)) != 0 || futimens(fd, times) != 0) err = errno;
    /* The body's writeback started now, as dpkg starts it for each file it unpacks: the transaction's
       syncfs before its commit then waits for what is left, not for every staged byte. Advisory: a
       filesystem without it (EINVAL, ENOSYS) writes back as usual. */
    if (err == 0 && size > 0) (void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
  }
  if (close(fd) != 0 && err == 0) err = errno;
  if (err != 0) {
    s->err = err;
    return fallback(s, "write");
  }
  if (left > 0) return fallback(s, "truncated");
  if (!skip(s, (size_t)((BLOCK - size % BLOCK) % BLOCK))) return fallback(s, "truncated");
  unsigned char record[RECORD_LEN] = {0};
  memcpy(record, &s->next_name, 4);
  unsigned int n;
  digest_final(s->sha, record + 4, &n);
  if (s->md5) digest_final(s->md, record + 4 + SHA_LEN, &n);
  s->next_name++;
  if (!put(&s->files, record, sizeof record)) return fallback(s, "memory");
  return MORE;
}

/* The rest of the stream after the end-of-archive block: zeros only, else the JavaScript reader judges it. */
static int finish(stager *s) {
  for (;;) {
    size_t have = fill(s, 1);
    if (have == 0) break;
    for (size_t i = 0; i < have; i++)
      if (s->in[s->pos + i] != 0) return fallback(s, "data after the end");
    s->pos += have;
  }
  if (s->err != 0) return fallback(s, "read");
  s->finished = true;
  s->status = DONE;
  return DONE;
}

/* One header and what belongs to it. */
static int step(stager *s) {
  size_t have = fill(s, BLOCK);
  if (s->err != 0) return fallback(s, "read");
  if (have == 0) {
    /* The JavaScript reader takes the end of the stream at a header as the end of the archive. */
    if (s->long_name || s->long_link) return fallback(s, "extended header at the end");
    s->finished = true;
    s->status = DONE;
    return DONE;
  }
  if (have < BLOCK) return fallback(s, "truncated header");
  unsigned char h[BLOCK];
  memcpy(h, s->in + s->pos, BLOCK);
  s->pos += BLOCK;
  if (zero_block(h)) {
    if (s->long_name || s->long_link) return fallback(s, "extended header at the end");
    return finish(s);
  }
  if (!checksum_ok(h)) return fallback(s, "checksum");
  int64_t size;
  if (!octal(h + 124, 12, &size)) return fallback(s, "size");
  unsigned char flag = h[156];
  if (flag == 'L' || flag == 'K') {
    if (size > (int64_t)MAX_META || size == 0) return fallback(s, "long name size");
    if ((flag == 'L' && s->long_name) || (flag == 'K' && s->long_link)) return fallback(s, "two long names");
    size_t padded = ((size_t)size + BLOCK - 1) / BLOCK * BLOCK;
    if (fill(s, padded) < padded) return fallback(s, "truncated long name");
    const unsigned char *data = s->in + s->pos;
    size_t n = cstr_len(data, (size_t)size);
    if (n == (size_t)size || n == 0) return fallback(s, "long name shape");
    if (flag == 'L') {
      s->long_name = true;
      s->long_name_last = data[n - 1];
    } else {
      s->long_link = true;
    }
    if (!put(&s->meta, h, BLOCK) || !put(&s->meta, data, padded)) return fallback(s, "memory");
    s->pos += padded;
    return MORE;
  }
  bool regular = flag == '0' || flag == 0 || flag == '7';
  bool other = flag >= '1' && flag <= '6';
  if (!regular && !other) return fallback(s, "type");
  if (s->max_entries >= 0 && ++s->entries > s->max_entries) return fallback(s, "member bound");
  if (!put(&s->meta, h, BLOCK)) return fallback(s, "memory");
  bool folder = regular && flag != '7' && name_last(s, h) == '/';
  s->long_name = s->long_link = false;
  if (!regular || folder) return size == 0 ? MORE : fallback(s, "size where none belongs");
  return stage_file(s, h, size);
}

static void run(napi_env env, void *data) {
  (void)env;
  stager *s = data;
  s->meta.len = 0;
  s->files.len = 0;
  s->status = MORE;
  while (s->status == MORE && s->meta.len < BATCH_META && s->files.len / RECORD_LEN < BATCH_FILES) step(s);
}

static void done(napi_env env, napi_status status, void *data) {
  stager *s = data;
  napi_value result, v;
  napi_create_object(env, &result);
  napi_create_int32(env, status == napi_ok ? s->status : FALLBACK, &v);
  napi_set_named_property(env, result, "status", v);
  napi_create_buffer_copy(env, s->meta.len, s->meta.bytes == NULL ? (void *)"" : s->meta.bytes, NULL, &v);
  napi_set_named_property(env, result, "meta", v);
  napi_create_buffer_copy(env, s->files.len, s->files.bytes == NULL ? (void *)"" : s->files.bytes, NULL, &v);
  napi_set_named_property(env, result, "files", v);
  napi_create_string_utf8(env, s->why == NULL ? "" : s->why, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, result, "why", v);
  napi_create_int32(env, s->err, &v);
  napi_set_named_property(env, result, "errnoNumber", v);
  napi_delete_async_work(env, s->work);
  s->work = NULL;
  napi_resolve_deferred(env, s->deferred, result);
}

static void release(stager *s) {
  if (s->xz) xz_end(&s->z);
  free(s->z_in);
  if (s->in_fd >= 0) close(s->in_fd);
  if (s->dir_fd >= 0) close(s->dir_fd);
  if (s->sha) ctx_free(s->sha);
  if (s->md) ctx_free(s->md);
  free(s->in);
  free(s->meta.bytes);
  free(s->files.bytes);
  free(s);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  release(data);
}

static napi_value type_error(napi_env env, const char *why) {
  napi_throw_type_error(env, NULL, why);
  return NULL;
}

/*
 * open(inFd, dir, chown, md5, maxBytes, maxEntries[, xzMemlimit]) -> a stager. It owns inFd from here on
 * (closed when the stager is collected or closed); dir is opened now, never following a symlink. maxBytes,
 * maxEntries: -1 for none. With xzMemlimit, inFd holds an xz stream to its end, decoded here within that
 * many bytes (ENOSYS where the host has no liblzma: decodesXz says so beforehand).
 */
static napi_value open_stager(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  int32_t in_fd;
  bool do_chown, md5;
  int64_t max_bytes, max_entries;
  size_t len;
  char dir[4096];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 6 || napi_get_value_int32(env, argv[0], &in_fd) != napi_ok ||
      napi_get_value_string_utf8(env, argv[1], dir, sizeof dir, &len) != napi_ok || len + 1 >= sizeof dir || strlen(dir) != len ||
      napi_get_value_bool(env, argv[2], &do_chown) != napi_ok || napi_get_value_bool(env, argv[3], &md5) != napi_ok ||
      napi_get_value_int64(env, argv[4], &max_bytes) != napi_ok || napi_get_value_int64(env, argv[5], &max_entries) != napi_ok) {
    return type_error(env, "expected (inFd, dir, chown, md5, maxBytes, maxEntries)");
  }
  int64_t xz_memlimit = -1;
  napi_valuetype xz_type = napi_undefined;
  if (argc >= 7 && napi_typeof(env, argv[6], &xz_type) == napi_ok && xz_type == napi_number) napi_get_value_int64(env, argv[6], &xz_memlimit);
  if (xz_type == napi_number && (xz_memlimit <= 0 || !load_xz())) {
    close(in_fd);
    napi_throw(env, errno_error(env, ENOSYS));
    return NULL;
  }
  stager *s = calloc(1, sizeof *s);
  if (s == NULL) return type_error(env, "out of memory");
  s->in_fd = in_fd;
  s->chown = do_chown;
  s->md5 = md5;
  s->max_bytes = max_bytes;
  s->max_entries = max_entries;
  s->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  int err = s->dir_fd < 0 ? errno : 0;
  s->in = malloc(IN_SIZE);
  s->sha = ctx_new();
  s->md = ctx_new();
  if (err == 0 && (s->in == NULL || s->sha == NULL || s->md == NULL)) err = ENOMEM;
  if (err == 0 && xz_memlimit > 0) {
    s->z_in = malloc(XZ_IN_SIZE);
    if (s->z_in == NULL) err = ENOMEM;
    else if (xz_stream_decoder(&s->z, (uint64_t)xz_memlimit, XZ_CONCATENATED | XZ_TELL_UNSUPPORTED_CHECK) != XZ_OK) err = ENOMEM;
    else s->xz = true;
  }
  if (err != 0) {
    release(s);
    napi_throw(env, errno_error(env, err));
    return NULL;
  }
  napi_value handle;
  if (napi_create_external(env, s, finalize, NULL, &handle) != napi_ok) {
    release(s);
    return type_error(env, "cannot make the stager");
  }
  return handle;
}

static stager *stager_of(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_get_value_external(env, argv[0], &data) != napi_ok) return NULL;
  return data;
}

/*
 * next(stager) -> a promise of { status: 0 more | 1 done | 2 fallback, meta: Buffer, files: Buffer, why, errnoNumber }:
 * the next batch. One at a time; after done or fallback, the stager has nothing more to give.
 */
static napi_value next_batch(napi_env env, napi_callback_info info) {
  stager *s = stager_of(env, info);
  if (s == NULL) return type_error(env, "expected a stager");
  if (s->work != NULL) return type_error(env, "a batch is already being made");
  if (s->finished || s->status == FALLBACK) return type_error(env, "the stager has ended");
  return queue_work(env, "stage_tar", run, done, s, &s->deferred, &s->work);
}

/* close(stager): its descriptors closed now rather than when it is collected (not while a batch is made). */
static napi_value close_stager(napi_env env, napi_callback_info info) {
  stager *s = stager_of(env, info);
  if (s == NULL) return type_error(env, "expected a stager");
  if (s->work != NULL) return type_error(env, "a batch is being made");
  if (s->in_fd >= 0) close(s->in_fd);
  if (s->dir_fd >= 0) close(s->dir_fd);
  s->in_fd = s->dir_fd = -1;
  s->finished = true;
  // The decoder's dictionary (8 MiB and more) and the buffers go now too, not when the collector gets to
  // the handle: unpacking 109 archives, they had raised the peak RSS from 90 to 167 MiB.
  if (s->xz) xz_end(&s->z);
  s->xz = false;
  free(s->z_in);
  free(s->in);
  s->z_in = s->in = NULL;
  return NULL;
}

/*
 * decodeXz(input, memlimit, maxOutput) -> the whole decoded stream as a Buffer, or null: no liblzma, the
 * stream does not decode whole (corrupt, cut short, trailing garbage, a check liblzma cannot verify), or it
 * decodes to more than maxOutput bytes. For a small member (a control.tar) already in memory, decoded here
 * on the calling thread: a decoder's stream and its thread-pool round trips cost more than the decoding.
 * The caller decodes a null again through its streaming reader, which words what is wrong.
 */
static napi_value decode_xz(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  void *in = NULL;
  size_t in_len = 0;
  int64_t memlimit, max_out;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 || napi_get_buffer_info(env, argv[0], &in, &in_len) != napi_ok ||
      napi_get_value_int64(env, argv[1], &memlimit) != napi_ok || napi_get_value_int64(env, argv[2], &max_out) != napi_ok || memlimit <= 0 || max_out < 0) {
    return type_error(env, "expected (input, memlimit, maxOutput)");
  }
  napi_value result;
  napi_get_null(env, &result);
  if (!load_xz()) return result;
  xz_stream z;
  memset(&z, 0, sizeof z);
  if (xz_stream_decoder(&z, (uint64_t)memlimit, XZ_CONCATENATED | XZ_TELL_UNSUPPORTED_CHECK) != XZ_OK) return result;
  /* A guess from the input, grown by doubling up to maxOutput (+1, to tell "exactly full" from "more"). */
  size_t limit = (size_t)max_out + 1;
  size_t cap = in_len < (SIZE_MAX / 8) ? in_len * 8 : limit;
  if (cap < 64 * 1024) cap = 64 * 1024;
  if (cap > limit) cap = limit;
  unsigned char *out = malloc(cap);
  bool whole = false;
  z.next_in = in;
  z.avail_in = in_len;
  while (out != NULL) {
    z.next_out = out + z.total_out;
    z.avail_out = cap - (size_t)z.total_out;
    int ret = xz_code(&z, XZ_FINISH);
    if (ret == XZ_STREAM_END) {
      whole = z.total_out <= (uint64_t)max_out;
      break;
    }
    if (ret != XZ_OK || z.avail_out != 0) break; /* an error, or no progress possible with room left */
    if (cap == limit) break;                    /* more than maxOutput */
    size_t grown = cap > limit / 2 ? limit : cap * 2;
    unsigned char *more = realloc(out, grown);
    if (more == NULL) break;
    out = more;
    cap = grown;
  }
  xz_end(&z);
  if (whole) {
    void *copy;
    if (napi_create_buffer_copy(env, (size_t)z.total_out, out, &copy, &result) != napi_ok) napi_get_null(env, &result);
  }
  free(out);
  return result;
}

/* decodesXz() -> whether open takes an xz stream (the host has liblzma). */
static napi_value decodes_xz(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  napi_get_boolean(env, load_xz(), &result);
  return result;
}

NAPI_MODULE_INIT() {
  if (!load_digests()) {
    napi_throw_error(env, NULL, "this Node exports no OpenSSL digests");
    return NULL;
  }
  napi_property_descriptor props[] = {
    {"open", NULL, open_stager, NULL, NULL, NULL, napi_enumerable, NULL},
    {"next", NULL, next_batch, NULL, NULL, NULL, napi_enumerable, NULL},
    {"close", NULL, close_stager, NULL, NULL, NULL, napi_enumerable, NULL},
    {"decodesXz", NULL, decodes_xz, NULL, NULL, NULL, napi_enumerable, NULL},
    {"decodeXz", NULL, decode_xz, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, 5, props) != napi_ok) return NULL;
  return exports;
}
