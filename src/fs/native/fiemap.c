/*
 * The physical disk offset of a file's first extent (ioctl FS_IOC_FIEMAP), which Node cannot ask for.
 * dpkg reads its packages' .list files in the order of these offsets (lib/dpkg/db-fsys-files.c
 * pkg_files_optimize_load), and that order shows in `dpkg -S` when a path has several owners; overmerge-dpkg
 * asks the same question to print the same order. Read-only: nothing here changes a file.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/fs.h>
#include <linux/fiemap.h>
#include <node_api.h>

/*
 * first_extent(fd, length) -> the fe_physical of the first extent among the first `length` bytes (0 when
 * the file has none there, as dpkg reads it from its zeroed buffer), or -1 when the filesystem does not
 * answer (tmpfs, for one).
 */
static napi_value first_extent(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int fd;
  double length;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_double(env, argv[1], &length) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "expected (fd, length)");
    return NULL;
  }
  union {
    struct fiemap fm;
    char bytes[sizeof(struct fiemap) + sizeof(struct fiemap_extent)];
  } buf;
  memset(&buf, 0, sizeof buf);
  buf.fm.fm_start = 0;
  buf.fm.fm_length = (__u64)length;
  buf.fm.fm_flags = 0;
  buf.fm.fm_extent_count = 1;
  double result = -1;
  if (ioctl(fd, FS_IOC_FIEMAP, &buf.fm) == 0) result = (double)buf.fm.fm_extents[0].fe_physical;
  napi_value out;
  napi_create_double(env, result, &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    {"firstExtent", NULL, first_extent, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, 1, props) != napi_ok) return NULL;
  return exports;
}
