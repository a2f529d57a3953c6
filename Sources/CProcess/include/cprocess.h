#ifndef CPROCESS_H
#define CPROCESS_H
/// Asks Linux to SIGKILL the calling process when its parent dies (prctl PR_SET_PDEATHSIG).
/// Returns 0 on success, -1 elsewhere or on error.
int dlsmith_kill_me_with_parent(void);
#endif
