#ifndef CPROCESS_H
#define CPROCESS_H
#include <sys/types.h>

/// Starts the program at `path` with `argv` (NULL-terminated, argv[0] included) and this process's
/// environment, as the leader of a new process group, with SIGKILL as its parent-death signal
/// (Linux), every signal at its default disposition and none blocked, `in`, `out` and `err` as its
/// standard descriptors and every other descriptor closed.
///
/// The fork happens on one long-lived thread of this process: Linux sends the parent-death signal
/// when the *thread* that forked the child ends, so a child forked by a short-lived worker thread
/// would be killed with that thread. Callers on any thread are served one at a time.
///
/// Returns 0 and stores the child's pid, or returns an errno value (the exec's, such as ENOENT or
/// EACCES, or the fork's); on failure no child is left behind.
int dlsmith_spawn(const char *path, char *const argv[], int in, int out, int err, pid_t *pid);


/// pipe2(fds, O_CLOEXEC): a pipe whose ends do not leak into other children. 0, or -1 (errno).
int dlsmith_pipe(int fds[2]);

/// Whether the child `pid` has ended, without reaping it (its zombie keeps the pid and the group id
/// from being reused): 1 with `*signaled` (0 or 1) and `*code` (the exit status or the signal), 0 if
/// it still runs, -1 on error (errno).
int dlsmith_child_ended(pid_t pid, int *signaled, int *code);

/// Waits for the child `pid` and reaps it: 0 with `*signaled` and `*code` as above, -1 on error.
int dlsmith_reap(pid_t pid, int *signaled, int *code);

#endif
