#include "cprocess.h"
#include <signal.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

int dlsmith_kill_me_with_parent(void) {
#ifdef __linux__
  return prctl(PR_SET_PDEATHSIG, SIGKILL);
#else
  return -1;
#endif
}
