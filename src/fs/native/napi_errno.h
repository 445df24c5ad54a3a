/*
 * What overmerge's addons share: an Error for an errno as src/fs/own-addon.ts's errnoError reads it
 * (errnoNumber), the promise an addon's async work settles, and nanoseconds as a timespec. Static inline:
 * each addon is built on its own (binding.gyp), with no library between them.
 */
#ifndef OVERMERGE_NAPI_ERRNO_H
#define OVERMERGE_NAPI_ERRNO_H

#include <stdint.h>
#include <string.h>
#include <time.h>
#include <node_api.h>

#define NS_PER_S 1000000000LL

/* An Error whose message is strerror(err) and whose errnoNumber is err. */
static inline napi_value errno_error(napi_env env, int err) {
  napi_value code, message, error;
  napi_create_int32(env, err, &code);
  napi_create_string_utf8(env, strerror(err), NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, NULL, message, &error);
  napi_set_named_property(env, error, "errnoNumber", code);
  return error;
}

/* A promise for an async work's result, its work named `name` and queued: done settles `*deferred`. */
static inline napi_value queue_work(napi_env env, const char *name, napi_async_execute_callback run, napi_async_complete_callback done, void *data,
                                    napi_deferred *deferred, napi_async_work *work) {
  napi_value promise, resource_name;
  napi_create_promise(env, deferred, &promise);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource_name);
  napi_create_async_work(env, NULL, resource_name, run, done, data, work);
  napi_queue_async_work(env, *work);
  return promise;
}

/* Nanoseconds since the epoch as a timespec whose tv_nsec is in [0, 1e9), also before the epoch. */
static inline struct timespec ns_to_timespec(int64_t ns) {
  int64_t nsec = ns % NS_PER_S;
  if (nsec < 0) nsec += NS_PER_S;
  struct timespec ts = {(time_t)((ns - nsec) / NS_PER_S), (long)nsec};
  return ts;
}

#endif
