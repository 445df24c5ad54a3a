/*
 * fcntl(2) record locks for Node, which has none: the two calls overmerge needs to take a whole-file
 * lock of the kind dpkg and apt take (F_SETLK) and to name whoever holds it (F_GETLK). Everything
 * else (opening the file, polling, messages) stays in TypeScript, in src/fs/lock.ts.
 *
 * Only classic POSIX ("process-associated") locks, always over the whole file: l_whence SEEK_SET,
 * l_start 0, l_len 0, as dpkg's doc/frontend.txt asks of every frontend. Errors are returned as errno
 * numbers rather than thrown, so the TypeScript side builds errors the way the rest of src/fs does.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <node_api.h>

/* The lock types as the TypeScript side spells them: 0 unlock, 1 read (shared), 2 write (exclusive). */
static int lock_type(int kind) {
  switch (kind) {
    case 1: return F_RDLCK;
    case 2: return F_WRLCK;
    default: return F_UNLCK;
  }
}

static int kind_of(short type) {
  switch (type) {
    case F_RDLCK: return 1;
    case F_WRLCK: return 2;
    default: return 0;
  }
}

static struct flock whole_file(int kind) {
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = (short)lock_type(kind);
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 0;
  return fl;
}

/* Reads (fd, kind) from the call's arguments; false (with a pending JS exception) when they are bad. */
static int read_args(napi_env env, napi_callback_info info, int *fd, int *kind) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (argc < 2 || napi_get_value_int32(env, argv[0], fd) != napi_ok ||
      napi_get_value_int32(env, argv[1], kind) != napi_ok || *fd < 0 || *kind < 0 || *kind > 2) {
    napi_throw_type_error(env, NULL, "expected (fd, kind) with fd >= 0 and kind 0, 1 or 2");
    return 0;
  }
  return 1;
}

static napi_value int_value(napi_env env, int n) {
  napi_value v;
  napi_create_int32(env, n, &v);
  return v;
}

/*
 * setlk(fd, kind) -> 0 when the lock was set (or removed, kind 0), else the errno: EAGAIN or EACCES
 * when another process holds a conflicting lock (POSIX allows either), anything else is a real failure.
 * Never waits: waiting would block Node's event loop, so the caller polls.
 */
static napi_value setlk(napi_env env, napi_callback_info info) {
  int fd, kind;
  if (!read_args(env, info, &fd, &kind)) return NULL;
  struct flock fl = whole_file(kind);
  int rc;
  do {
    rc = fcntl(fd, F_SETLK, &fl);
  } while (rc == -1 && errno == EINTR);
  return int_value(env, rc == -1 ? errno : 0);
}

/*
 * getlk(fd, kind) -> [errno, kind, pid]: the first lock that would stop us setting `kind` over the
 * whole file, as kind 0 (none), 1 or 2, and the holder's PID as the kernel reports it (0 when the
 * holder is in a PID namespace we cannot see, -1 for an open file description lock, which has no
 * owning process). Locks of this process never conflict with its own request, so are never reported.
 */
static napi_value getlk(napi_env env, napi_callback_info info) {
  int fd, kind;
  if (!read_args(env, info, &fd, &kind)) return NULL;
  struct flock fl = whole_file(kind == 0 ? 2 : kind);
  int rc;
  do {
    rc = fcntl(fd, F_GETLK, &fl);
  } while (rc == -1 && errno == EINTR);
  napi_value out;
  if (napi_create_array_with_length(env, 3, &out) != napi_ok) return NULL;
  napi_set_element(env, out, 0, int_value(env, rc == -1 ? errno : 0));
  napi_set_element(env, out, 1, int_value(env, rc == -1 ? 0 : kind_of(fl.l_type)));
  napi_set_element(env, out, 2, int_value(env, rc == -1 || fl.l_type == F_UNLCK ? 0 : (int)fl.l_pid));
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"setlk", NULL, setlk, NULL, NULL, NULL, napi_enumerable, NULL},
    {"getlk", NULL, getlk, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE_INIT() {
  return init(env, exports);
}
