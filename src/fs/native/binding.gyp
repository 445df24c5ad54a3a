# The project's own native modules: fcntl(2) record locks, syncfs(2), the first extent of a file (FIEMAP),
# glibc's malloc retention (mallopt), utimensat(2) with integer nanoseconds, which Node does not offer,
# the copy of one entry with all its metadata (copy_entry: src/fs/copytree.ts), a new file written
# whole on a worker thread (write_file: src/fs/file-writes.ts), a program started with posix_spawn
# (spawn_child: src/spawn-child.ts), and a data.tar staged on a worker thread (stage_tar: src/stage/native-tar.ts).
# syncfs, utimens, write_file, spawn_child and stage_tar share napi_errno.h (an errno as an Error, a promise for async work).
# Built by the package's install script (`node-gyp rebuild -C src/fs/native`) into
# build/Release/fcntl_lock.node, syncfs.node, fiemap.node, malloc_tune.node, utimens.node, copy_entry.node,
# write_file.node, spawn_child.node and stage_tar.node.
{
  "targets": [
    {
      "target_name": "fcntl_lock",
      "sources": ["fcntl_lock.c"],
      "defines": ["NAPI_VERSION=8", "_FILE_OFFSET_BITS=64"],
      "cflags": ["-Wall", "-Wextra", "-Werror=implicit-function-declaration"]
    },
    {
      "target_name": "malloc_tune",
      "sources": ["malloc_tune.c"],
      "defines": ["NAPI_VERSION=8", "_FILE_OFFSET_BITS=64"],
      "cflags": ["-Wall", "-Wextra", "-Werror=implicit-function-declaration"]
    },
    {
      "target_name": "syncfs",
      "sources": ["syncfs.c"],
      "defines": ["NAPI_VERSION=8", "_FILE_OFFSET_BITS=64"],
      "cflags": ["-Wall", "-Wextra", "-Werror=implicit-function-declaration"]
    },
    {
      "target_name": "utimens",
      "sources": ["utimens.c"],
      "defines": ["NAPI_VERSION=8", "_FILE_OFFSET_BITS=64"],
      "cflags": ["-Wall", "-Wextra", "-Werror=implicit-function-declaration"]
    },
    {
      "target_name": "copy_entry",
      "sources": ["copy_entry.c"],
      "defines": ["NAPI_VERSION=8", "_FILE_OFFSET_BITS=64"],
      "cflags": ["-Wall", "-Wextra", "-Werror=implicit-function-declaration"]
    },
    {
      "target_name": "write_file",
      "sources": ["write_file.c"],
      "defines": ["NAPI_VERSION=8", "_FILE_OFFSET_BITS=64"],
      "cflags": ["-Wall", "-Wextra", "-Werror=implicit-function-declaration"]
    },
    {
      "target_name": "spawn_child",
      "sources": ["spawn_child.c"],
      "defines": ["NAPI_VERSION=8", "_FILE_OFFSET_BITS=64"],
      "cflags": ["-Wall", "-Wextra", "-Werror=implicit-function-declaration"],
      "libraries": ["-lpthread"]
    },
    {
      "target_name": "stage_tar",
      "sources": ["stage_tar.c"],
      "defines": ["NAPI_VERSION=8", "_FILE_OFFSET_BITS=64"],
      "cflags": ["-Wall", "-Wextra", "-Werror=implicit-function-declaration"],
      "libraries": ["-ldl"]
    },
    {
      "target_name": "fiemap",
      "sources": ["fiemap.c"],
      "defines": ["NAPI_VERSION=8", "_FILE_OFFSET_BITS=64"],
      "cflags": ["-Wall", "-Wextra", "-Werror=implicit-function-declaration"]
    }
  ]
}
