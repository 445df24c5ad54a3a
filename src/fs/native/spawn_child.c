/*
 * A program started with posix_spawn(3), and its exit reported by a thread that waits for it.
 *
 * Why: Node starts a child with fork(2), which copies the page tables of this whole process (over 100 MB
 * in a bootstrap) and holds the main thread until the child has exec'd: 2–3 ms a child in a bootstrap,
 * which starts about 110 (an `xz` per large data member, `unshare` per maintainer script). glibc's
 * posix_spawn starts the child in this process's memory (clone with CLONE_VM | CLONE_VFORK) until it
 * exec's: about 0.2 ms, whatever the size of this process.
 *
 * What the child gets, as Node's spawn gives it: every signal at its default action and none blocked, the
 * given environment, folder and descriptors 0–2; every other descriptor of ours is close-on-exec (Node's
 * and ours are), so the child gets none of them. Its exit is waited for by a thread of its own (waitpid on its pid only: libuv reaps only
 * the children it started, so the two never take each other's), then handed to the event loop.
 *
 * A maintainer script is started inside a root the way dpkg starts it (fork, chroot, chdir, exec), with no
 * program in between: chroot(8) or unshare(1) before it cost an exec of their own, about 1.1 ms of the
 * 2.2 ms a script's start took. posix_spawn cannot chroot, so that child is made here as posix_spawn
 * makes its own: clone with CLONE_VM | CLONE_VFORK on a stack of its own, every signal blocked in this
 * thread meanwhile, the child setting every signal to its default action before it unblocks them. Where
 * asked, the child first makes a mount namespace of its own (propagation private) and mounts a /proc in
 * the root, as `unshare --mount --propagation private --root=ROOT --mount-proc=/proc` did: the mount ends
 * with the script and is never seen outside it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sched.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>
#include <node_api.h>
#include "napi_errno.h"

/* A JavaScript string as a new NUL-terminated C string (NULL when it is not a string, or out of memory). */
static char *string_of(napi_env env, napi_value v) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (s == NULL) return NULL;
  if (napi_get_value_string_utf8(env, v, s, len + 1, &len) != napi_ok) {
    free(s);
    return NULL;
  }
  return s;
}

static void free_strings(char **v) {
  if (v == NULL) return;
  for (char **p = v; *p != NULL; p++) free(*p);
  free(v);
}

/* A JavaScript array of strings as a NULL-terminated vector (NULL on a bad element or out of memory). */
static char **strings_of(napi_env env, napi_value array) {
  uint32_t n;
  if (napi_get_array_length(env, array, &n) != napi_ok) return NULL;
  char **v = calloc((size_t)n + 1, sizeof *v);
  if (v == NULL) return NULL;
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    if (napi_get_element(env, array, i, &e) != napi_ok || (v[i] = string_of(env, e)) == NULL) {
      free_strings(v);
      return NULL;
    }
  }
  return v;
}

typedef struct {
  pid_t pid;
  int status;
  napi_threadsafe_function tsfn;
} waiter;

/* On the event loop: onExit(code, signal), code null when a signal ended it. */
static void call_js(napi_env env, napi_value callback, void *context, void *data) {
  (void)context;
  waiter *w = data;
  if (env != NULL && callback != NULL) {
    napi_value argv[2], undefined;
    napi_get_undefined(env, &undefined);
    if (WIFEXITED(w->status)) {
      napi_create_int32(env, WEXITSTATUS(w->status), &argv[0]);
      napi_get_null(env, &argv[1]);
    } else {
      napi_get_null(env, &argv[0]);
      napi_create_int32(env, WIFSIGNALED(w->status) ? WTERMSIG(w->status) : 0, &argv[1]);
    }
    napi_call_function(env, undefined, callback, 2, argv, NULL);
  }
  free(w);
}

static void *wait_for(void *data) {
  waiter *w = data;
  int status = 0;
  while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR) {
  }
  w->status = status;
  napi_threadsafe_function tsfn = w->tsfn;
  napi_call_threadsafe_function(tsfn, w, napi_tsfn_blocking);
  napi_release_threadsafe_function(tsfn, napi_tsfn_release);
  return NULL;
}

/* What the child started in a root is given; everything is made before the clone (the child allocates nothing). */
typedef struct {
  const char *file;
  char **argv, **envp;
  /* argv for /bin/sh when the file is no program (ENOEXEC), as execvp (chroot(8), dpkg) runs it. */
  char **sh_argv;
  const char *root;
  bool private_proc;
  const int *fds;
  /* Where the child says what failed before its exec: {step, errno}. Close-on-exec: an exec closes it. */
  int report;
} in_root;

/* The step of starting a child in a root that failed, as told to JavaScript. */
static const char *const IN_ROOT_STEPS[] = {"descriptors", "mount namespace", "mount propagation", "chroot", "chdir", "mount /proc", "exec"};
enum { STEP_FDS, STEP_NAMESPACE, STEP_PROPAGATION, STEP_CHROOT, STEP_CHDIR, STEP_PROC, STEP_EXEC };

static _Noreturn void child_failed(const in_root *a, int step) {
  int msg[2] = {step, errno};
  ssize_t n = write(a->report, msg, sizeof msg);
  (void)n;
  _exit(127);
}

/* The child, in our memory until its exec: system calls only. */
static int start_in_root(void *data) {
  const in_root *a = data;
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  // Its own table of handlers (no CLONE_SIGHAND): ours stay. glibc's own two signals refuse, and keep a
  // handler only until the exec, which resets every handled signal.
  for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, NULL);
  for (int i = 0; i < 3; i++) {
    int fd = a->fds[i];
    if (fd == -2) {
      int null = open("/dev/null", i == 0 ? O_RDONLY : O_WRONLY);
      if (null < 0 || (null != i && (dup2(null, i) < 0 || close(null) != 0))) child_failed(a, STEP_FDS);
    } else if (fd >= 0 && fd != i) {
      if (dup2(fd, i) < 0) child_failed(a, STEP_FDS);
    } else if (fcntl(i, F_GETFD) >= 0 && fcntl(i, F_SETFD, 0) != 0) {
      child_failed(a, STEP_FDS);
    }
  }
  if (a->private_proc) {
    if (unshare(CLONE_NEWNS) != 0) child_failed(a, STEP_NAMESPACE);
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) child_failed(a, STEP_PROPAGATION);
  }
  if (chroot(a->root) != 0) child_failed(a, STEP_CHROOT);
  if (chdir("/") != 0) child_failed(a, STEP_CHDIR);
  if (a->private_proc && mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) child_failed(a, STEP_PROC);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  execve(a->file, a->argv, a->envp);
  if (errno == ENOEXEC) execve("/bin/sh", a->sh_argv, a->envp);
  child_failed(a, STEP_EXEC);
}

#define IN_ROOT_STACK (256 * 1024)

/* The child started in the root: its pid, or -1 with *step (-1: before the child ran) and *err set. */
static pid_t clone_in_root(in_root *a, int *step, int *err) {
  int report[2];
  *step = -1;
  if (pipe2(report, O_CLOEXEC) != 0) {
    *err = errno;
    return -1;
  }
  void *stack = mmap(NULL, IN_ROOT_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) {
    *err = errno;
    close(report[0]), close(report[1]);
    return -1;
  }
  a->report = report[1];
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = clone(start_in_root, (char *)stack + IN_ROOT_STACK, CLONE_VM | CLONE_VFORK | SIGCHLD, a);
  int clone_err = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  munmap(stack, IN_ROOT_STACK);
  close(report[1]);
  if (pid < 0) {
    close(report[0]);
    *err = clone_err;
    return -1;
  }
  // Back here once the child has exec'd (the pipe closed, nothing in it) or has said why not and exited.
  int msg[2];
  ssize_t n;
  while ((n = read(report[0], msg, sizeof msg)) < 0 && errno == EINTR) {
  }
  close(report[0]);
  if (n != (ssize_t)sizeof msg) return pid;
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
  }
  *step = msg[0];
  *err = msg[1];
  return -1;
}

/* argv as /bin/sh runs a file that is no program: sh FILE ARGS... (argv[0] is the file). NULL out of memory. */
static char **shell_argv(char **argv) {
  size_t n = 0;
  while (argv[n] != NULL) n++;
  char **v = calloc(n + 2, sizeof *v);
  if (v == NULL) return NULL;
  v[0] = "/bin/sh";
  for (size_t i = 0; i < n; i++) v[i + 1] = argv[i];
  return v;
}

/* posix_spawn with the descriptors, signals and folder Node's spawn gives: 0 or an errno. */
static int posix_spawn_with(pid_t *pid, const char *file, char **args, char **envp, const char *cwd, const int *fds) {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  sigset_t all, none;
  // Every bit, not sigfillset: that leaves out glibc's own signals (32, 33), which posix_spawn then sets to
  // SIG_IGN in the child, and an ignored signal stays ignored across exec. Node's and dpkg's children
  // start with every signal at its default action.
  memset(&all, 0xff, sizeof all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  int err = 0;
  for (int i = 0; i < 3 && err == 0; i++) {
    if (fds[i] == -2) {
      err = posix_spawn_file_actions_addopen(&actions, i, "/dev/null", i == 0 ? O_RDONLY : O_WRONLY, 0);
    } else if (fds[i] >= 0 && fds[i] != i) {
      err = posix_spawn_file_actions_adddup2(&actions, fds[i], i);
    } else if (fcntl(i, F_GETFD) >= 0) {
      // Inherited: ours may be close-on-exec (Node's are); a dup2 onto itself clears that in the child
      // (glibc 2.29 and later, as POSIX now says). One we do not have open stays closed, as under Node.
      err = posix_spawn_file_actions_adddup2(&actions, i, i);
    }
  }
  if (err == 0 && cwd != NULL) err = posix_spawn_file_actions_addchdir_np(&actions, cwd);
  if (err == 0) err = posix_spawn(pid, file, &actions, &attr, args, envp);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err != 0) *pid = -1;
  return err;
}

/*
 * spawn(file, argv, env, cwd | null, fds, onExit[, root, privateProc]) -> pid. fds: three numbers for the
 * child's 0, 1 and 2, each a descriptor of ours to give it, -1 to leave ours as it is (inherited) or -2 for
 * /dev/null. With a root, the child is chrooted there (file is a path inside it; cwd is not used: the child
 * starts in the root's /) and, with privateProc, gets a /proc of its own. Throws an Error with errnoNumber
 * when the program cannot be started (ENOENT, EACCES, ENOEXEC without a root, ...), and with a root the
 * step that failed (`step`: chroot, mount /proc, exec, ...).
 */
static napi_value spawn_child(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  napi_valuetype cwd_type, cb_type;
  if (argc < 6 || napi_typeof(env, argv[3], &cwd_type) != napi_ok || napi_typeof(env, argv[5], &cb_type) != napi_ok || cb_type != napi_function) {
    napi_throw_type_error(env, NULL, "expected (file, argv, env, cwd, fds, onExit)");
    return NULL;
  }
  int fds[3];
  for (uint32_t i = 0; i < 3; i++) {
    napi_value e;
    if (napi_get_element(env, argv[4], i, &e) != napi_ok || napi_get_value_int32(env, e, &fds[i]) != napi_ok) {
      napi_throw_type_error(env, NULL, "expected three descriptors");
      return NULL;
    }
  }
  char *file = string_of(env, argv[0]);
  char **args = strings_of(env, argv[1]);
  char **envp = strings_of(env, argv[2]);
  char *cwd = cwd_type == napi_string ? string_of(env, argv[3]) : NULL;
  waiter *w = calloc(1, sizeof *w);
  if (file == NULL || args == NULL || envp == NULL || (cwd_type == napi_string && cwd == NULL) || w == NULL) {
    free(file), free_strings(args), free_strings(envp), free(cwd), free(w);
    napi_throw_type_error(env, NULL, "expected strings");
    return NULL;
  }

  char *root = NULL;
  bool private_proc = false;
  napi_valuetype root_type = napi_undefined;
  if (argc >= 7 && napi_typeof(env, argv[6], &root_type) == napi_ok && root_type == napi_string) {
    root = string_of(env, argv[6]);
    if (argc >= 8) napi_get_value_bool(env, argv[7], &private_proc);
  }
  pid_t pid = -1;
  int err = 0, step = -1;
  if (root_type == napi_string) {
    char **sh_argv = root != NULL ? shell_argv(args) : NULL;
    if (sh_argv == NULL) {
      err = ENOMEM;
    } else {
      in_root a = {.file = file, .argv = args, .envp = envp, .sh_argv = sh_argv, .root = root, .private_proc = private_proc, .fds = fds, .report = -1};
      pid = clone_in_root(&a, &step, &err);
    }
    free(sh_argv);
    free(root);
  } else {
    err = posix_spawn_with(&pid, file, args, envp, cwd, fds);
  }
  free(file), free_strings(args), free_strings(envp), free(cwd);
  if (pid < 0) {
    free(w);
    napi_value error = errno_error(env, err);
    if (step >= 0 && step < (int)(sizeof IN_ROOT_STEPS / sizeof *IN_ROOT_STEPS)) {
      napi_value name;
      napi_create_string_utf8(env, IN_ROOT_STEPS[step], NAPI_AUTO_LENGTH, &name);
      napi_set_named_property(env, error, "step", name);
    }
    napi_throw(env, error);
    return NULL;
  }

  w->pid = pid;
  napi_value name;
  napi_create_string_utf8(env, "spawn_child", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[5], NULL, name, 0, 1, NULL, NULL, NULL, call_js, &w->tsfn) != napi_ok) {
    // The child runs; it cannot be watched. Killing and reaping it keeps a zombie from staying behind.
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    free(w);
    napi_throw_error(env, NULL, "cannot watch the child");
    return NULL;
  }
  pthread_attr_t tattr;
  pthread_attr_init(&tattr);
  pthread_attr_setdetachstate(&tattr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&tattr, 64 * 1024);
  pthread_t thread;
  err = pthread_create(&thread, &tattr, wait_for, w);
  pthread_attr_destroy(&tattr);
  if (err != 0) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    napi_release_threadsafe_function(w->tsfn, napi_tsfn_abort);
    free(w);
    napi_throw(env, errno_error(env, err));
    return NULL;
  }
  napi_value result;
  napi_create_int32(env, pid, &result);
  return result;
}

/*
 * pipe(capacity?) -> [readFd, writeFd], both close-on-exec: only the child they are given to gets its end.
 * With a capacity, the pipe holds that many bytes where the kernel allows it (F_SETPIPE_SZ: up to
 * /proc/sys/fs/pipe-max-size without CAP_SYS_RESOURCE); where it does not, the pipe keeps its default.
 */
static napi_value make_pipe(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t capacity = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc >= 1) napi_get_value_int32(env, argv[0], &capacity);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    napi_throw(env, errno_error(env, errno));
    return NULL;
  }
  if (capacity > 0) (void)fcntl(fds[0], F_SETPIPE_SZ, capacity);
  napi_value result, r, w;
  napi_create_array_with_length(env, 2, &result);
  napi_create_int32(env, fds[0], &r);
  napi_create_int32(env, fds[1], &w);
  napi_set_element(env, result, 0, r);
  napi_set_element(env, result, 1, w);
  return result;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    {"spawn", NULL, spawn_child, NULL, NULL, NULL, napi_enumerable, NULL},
    {"pipe", NULL, make_pipe, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, 2, props) != napi_ok) return NULL;
  return exports;
}
