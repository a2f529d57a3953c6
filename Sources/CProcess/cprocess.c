#define _GNU_SOURCE
#include "cprocess.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

extern char **environ;

struct spawn_job {
  const char *path;
  char *const *argv;
  int fds[3];
  pid_t pid;
  int error;
  int done;
};

static pthread_once_t spawner_once = PTHREAD_ONCE_INIT;
static int spawner_error;
static pthread_mutex_t callers = PTHREAD_MUTEX_INITIALIZER;  // one job at a time
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t posted = PTHREAD_COND_INITIALIZER;
static pthread_cond_t finished = PTHREAD_COND_INITIALIZER;
static struct spawn_job *pending;

/// Closes every descriptor from `low` to `high` (inclusive).
static void close_range_from(unsigned low, unsigned high) {
  if (low > high) return;
#ifdef SYS_close_range
  if (syscall(SYS_close_range, low, high, 0) == 0) return;
#endif
  // Kernels before 5.9: close one by one, up to the descriptor limit.
  struct rlimit r;
  unsigned limit = 65536;
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur != RLIM_INFINITY && r.rlim_cur < limit) {
    limit = (unsigned)r.rlim_cur;
  }
  for (unsigned fd = low; fd <= high && fd < limit; fd++) close((int)fd);
}

/// The child between vfork and exec: only system calls, no allocation, no return. It shares the
/// parent's memory until the exec, and starts with every signal blocked (the spawner thread's
/// mask), so no handler of the parent can run in it.
__attribute__((noreturn)) static void exec_child(struct spawn_job *job, pid_t parent, int report) {
  // The kernel's own call, zeroed action (SIG_DFL, no flags, empty mask): glibc's sigaction
  // refuses the signals it reserves (32 and 33), which a parent may have left ignored.
  unsigned long action[4] = {0, 0, 0, 0};
  for (int s = 1; s < NSIG; s++) {
    if (s == SIGKILL || s == SIGSTOP) continue;
#ifdef SYS_rt_sigaction
    syscall(SYS_rt_sigaction, s, action, NULL, 8);  // 8: the kernel sigset_t (64 signals)
#else
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(s, &dfl, NULL);
#endif
  }
  int e;
  // The report pipe must survive the dup2s below.
  if (report < 3 && (report = fcntl(report, F_DUPFD_CLOEXEC, 3)) < 0) _exit(127);
  if (setpgid(0, 0) != 0) goto fail;
#ifdef __linux__
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) goto fail;
#endif
  // The parent died before the signal was armed: nobody would reap or kill this child.
  if (getppid() != parent) _exit(127);
  int fds[3];
  for (int i = 0; i < 3; i++) {
    // Out of the way of the standard descriptors first, so that no dup2 overwrites another's source.
    fds[i] = job->fds[i] < 3 ? fcntl(job->fds[i], F_DUPFD, 3) : job->fds[i];
    if (fds[i] < 0) goto fail;
  }
  for (int i = 0; i < 3; i++) {
    if (dup2(fds[i], i) < 0) goto fail;
  }
  close_range_from(3, (unsigned)report - 1);
  close_range_from((unsigned)report + 1, ~0U);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  execve(job->path, job->argv, environ);
fail:
  e = errno;
  (void)!write(report, &e, sizeof e);
  _exit(127);
}

static void run_job(struct spawn_job *job) {
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) {
    job->error = errno;
    return;
  }
  pid_t parent = getpid();
  pid_t pid = vfork();
  if (pid == 0) exec_child(job, parent, report[1]);
  int fork_error = errno;
  close(report[1]);
  if (pid < 0) {
    close(report[0]);
    job->error = fork_error;
    return;
  }
  // The pipe closes on a successful exec; before that the child writes the errno.
  int e = 0;
  ssize_t n;
  do n = read(report[0], &e, sizeof e);
  while (n < 0 && errno == EINTR);
  close(report[0]);
  if (n == (ssize_t)sizeof e || n < 0) {
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    job->error = n < 0 ? EIO : (e != 0 ? e : ECHILD);
    return;
  }
  job->pid = pid;
  job->error = 0;
}

static void *spawner(void *unused) {
  (void)unused;
  pthread_mutex_lock(&lock);
  for (;;) {
    while (pending == NULL) pthread_cond_wait(&posted, &lock);
    struct spawn_job *job = pending;
    pending = NULL;
    run_job(job);
    job->done = 1;
    pthread_cond_broadcast(&finished);
  }
  return NULL;
}

static void start_spawner(void) {
  // The thread, and so every child, starts with every signal blocked: process signals go to other
  // threads, and none can reach a child before it resets its dispositions.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t thread;
  spawner_error = pthread_create(&thread, &attr, spawner, NULL);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

int dlsmith_spawn(const char *path, char *const argv[], int in, int out, int err, pid_t *pid) {
  pthread_once(&spawner_once, start_spawner);
  if (spawner_error != 0) return spawner_error;
  struct spawn_job job = {path, argv, {in, out, err}, -1, 0, 0};
  pthread_mutex_lock(&callers);
  pthread_mutex_lock(&lock);
  pending = &job;
  pthread_cond_signal(&posted);
  while (!job.done) pthread_cond_wait(&finished, &lock);
  pthread_mutex_unlock(&lock);
  pthread_mutex_unlock(&callers);
  if (job.error == 0) *pid = job.pid;
  return job.error;
}

int dlsmith_child_ended(pid_t pid, int *signaled, int *code) {
  siginfo_t info;
  memset(&info, 0, sizeof info);
  int r;
  do r = waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT);
  while (r < 0 && errno == EINTR);
  if (r < 0) return -1;
  if (info.si_pid == 0) return 0;
  *signaled = info.si_code != CLD_EXITED;
  *code = info.si_status;
  return 1;
}

int dlsmith_reap(pid_t pid, int *signaled, int *code) {
  int status = 0;
  pid_t r;
  do r = waitpid(pid, &status, 0);
  while (r < 0 && errno == EINTR);
  if (r < 0) return -1;
  *signaled = WIFSIGNALED(status);
  *code = WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status);
  return 0;
}

int dlsmith_pipe(int fds[2]) { return pipe2(fds, O_CLOEXEC); }
