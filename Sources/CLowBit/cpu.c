// CPU feature detection for the low-bit dispatch: cpuid for the instruction sets, xgetbv for the
// OS saving the register state they need (a CPU flag alone is not enough under an OS that does not
// save ymm/zmm state).
#include "clowbit.h"

#if defined(__x86_64__)
#include <cpuid.h>

static uint64_t xcr0(void) {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return ((uint64_t)edx << 32) | eax;
}

int lowbit_cpu_supports(int path) {
  if (path == LOWBIT_PATH_PORTABLE) return 1;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
  const int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
  if (!osxsave || !avx) return 0;
  const uint64_t x = xcr0();
  if ((x & 0x6) != 0x6) return 0;  // XMM and YMM state
  if (__get_cpuid_max(0, 0) < 7) return 0;
  __cpuid_count(7, 0, a, b, c, d);
  const int avx2 = (b >> 5) & 1;
  if (path == LOWBIT_PATH_AVX2) return avx2;
  if (path == LOWBIT_PATH_AVX512) {
    const int f = (b >> 16) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1;
    const int vnni = (c >> 11) & 1, vpopcntdq = (c >> 14) & 1;
    const int zmmState = (x & 0xE6) == 0xE6;  // XMM, YMM, opmask, ZMM_Hi256, Hi16_ZMM
    return avx2 && f && bw && vl && vnni && vpopcntdq && zmmState;
  }
  return 0;
}

#else

int lowbit_cpu_supports(int path) { return path == LOWBIT_PATH_PORTABLE; }

#endif
