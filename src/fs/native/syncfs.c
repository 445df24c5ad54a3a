/*
 * syncfs(2) on an open descriptor, which Node does not offer. The engine makes a whole transaction
 * durable with one syncfs of the root's filesystem before its commit; starting coreutils' `sync -f` for
 * that cost a fork and an exec of a large process each time (tens of milliseconds under load, dozens of
 * times in a bootstrap). The call runs on a worker thread (napi async work): the event loop goes on.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <node_api.h>
#include "napi_errno.h"

typedef struct {
  int fd;
  int err;
  napi_deferred deferred;
  napi_async_work work;
} sync_job;

static void run(napi_env env, void *data) {
  (void)env;
  sync_job *job = data;
  job->err = syncfs(job->fd) == 0 ? 0 : errno;
}

static void done(napi_env env, napi_status status, void *data) {
  sync_job *job = data;
  napi_value result;
  if (status == napi_ok && job->err == 0) {
    napi_get_undefined(env, &result);
    napi_resolve_deferred(env, job->deferred, result);
  } else {
    result = errno_error(env, status == napi_ok ? job->err : ECANCELED);
    napi_reject_deferred(env, job->deferred, result);
  }
  napi_delete_async_work(env, job->work);
  free(job);
}

/* syncfs(fd) -> a promise, resolved when the filesystem holding fd is synced, rejected with errnoNumber. */
static napi_value sync_fs(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "expected (fd)");
    return NULL;
  }
  sync_job *job = calloc(1, sizeof *job);
  if (job == NULL) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  job->fd = fd;
  return queue_work(env, "syncfs", run, done, job, &job->deferred, &job->work);
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    {"syncfs", NULL, sync_fs, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, 1, props) != napi_ok) return NULL;
  return exports;
}
