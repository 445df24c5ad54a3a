/*
 * How glibc's malloc hands memory back. Its default raises the mmap threshold each time a large block
 * (liblzma's dictionary: 8 MiB for xz -6, up to 64 MiB) is freed, so that later such blocks come from the
 * heaps of the arenas instead, one arena per thread that decodes; freed there, they stay in the process
 * (a fragmented heap is not trimmed). Unpacking a hundred xz archives then keeps tens of MiB nobody uses.
 * A fixed threshold keeps every large block in its own mapping, returned to the system on free, and a
 * bound on the arenas keeps the decoding threads from each holding their own.
 * Elsewhere than glibc (musl) there is nothing to tune: the calls are left out.
 */
#include <node_api.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

/* retainLess(mmapThreshold, arenas) -> true when applied (glibc), false elsewhere. */
static napi_value retain_less(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int threshold;
  int arenas;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &threshold) != napi_ok || napi_get_value_int32(env, argv[1], &arenas) != napi_ok || threshold <= 0 || arenas <= 0) {
    napi_throw_type_error(env, NULL, "expected (mmapThreshold, arenas)");
    return NULL;
  }
  bool applied = false;
#ifdef __GLIBC__
  applied = mallopt(M_MMAP_THRESHOLD, threshold) == 1 && mallopt(M_ARENA_MAX, arenas) == 1;
#endif
  napi_value out;
  napi_get_boolean(env, applied, &out);
  return out;
}

/* trim() -> true when glibc gave memory back: free pages inside the arenas too, not only at their tops. */
static napi_value trim(napi_env env, napi_callback_info info) {
  (void)info;
  bool released = false;
#ifdef __GLIBC__
  released = malloc_trim(0) == 1;
#endif
  napi_value out;
  napi_get_boolean(env, released, &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    {"retainLess", NULL, retain_less, NULL, NULL, NULL, napi_enumerable, NULL},
    {"trim", NULL, trim, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, 2, props) != napi_ok) return NULL;
  return exports;
}
