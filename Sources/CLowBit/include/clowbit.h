#ifndef CLOWBIT_H
#define CLOWBIT_H
// Runtime-dispatched x86 SIMD kernels for DLSmith's low-bit backends (int8 GEMM, binary
// XOR-popcount). Only the Swift target `Kernels` imports this module; it decides which path runs
// (`LowBitPath`) and calls a kernel only if `lowbit_cpu_supports` said yes for its path. Every kernel
// is bit-exact against the Swift reference kernels; each function says why.
#include <stddef.h>
#include <stdint.h>

/// Path numbers, as `LowBitPath` in Swift.
#define LOWBIT_PATH_PORTABLE 0
/// AVX2 (and the OS saving ymm state).
#define LOWBIT_PATH_AVX2 1
/// AVX2 plus AVX-512 F, BW, VL, VNNI and VPOPCNTDQ (and the OS saving zmm/opmask state).
#define LOWBIT_PATH_AVX512 2

/// 1 if this CPU and OS can run `path`, else 0 (from cpuid and xgetbv; always 0 off x86-64 except
/// for the portable path, which is always 1).
int lowbit_cpu_supports(int path);

/// AVX2 int16 GEMM: `C[i, j] = Σ_p A[i, p] · B[p, j]` over row-major int16 `A` (m×k) and `B` (k×n),
/// written (not accumulated) into row-major int32 `C` (m×n). Products are exact; sums wrap modulo 2^32.
/// Same contract as Swift's `Quant.Optimized.gemmS16`. Requires `lowbit_cpu_supports(AVX2)`.
void lowbit_gemm_s16_avx2(const int16_t *a, const int16_t *b, int32_t *c, ptrdiff_t m, ptrdiff_t k,
                          ptrdiff_t n);

/// AVX-512 VNNI GEMM with the contract of `lowbit_gemm_s16_avx2`, for operands that are 8-bit data in
/// disguise: it runs only if every row of `A` and every column of `B` spans at most 256 consecutive
/// values (max − min <= 255), which holds for any 8-bit tensor minus a per-row/column zero point.
/// Returns 1 when it wrote `C`, 0 (C untouched) when some row or column is wider.
/// Requires `lowbit_cpu_supports(AVX512)`.
int lowbit_gemm_s16_vnni(const int16_t *a, const int16_t *b, int32_t *c, ptrdiff_t m, ptrdiff_t k,
                         ptrdiff_t n);

/// XOR-popcount product: `dots[p·ldd + f] = k − 2·popcount(rows[p] XOR filters[f])` for `p < count`,
/// `f < filterCount`, over rows of `stride` bytes (`stride` a multiple of 32; bytes past the real row
/// must be equal, e.g. zero, in rows and filters so they XOR to 0). Wraps modulo 2^32 like Swift's `&-`.
/// `_avx2` requires AVX2, `_avx512` the AVX512 path.
void lowbit_xor_popcount_avx2(const uint8_t *rows, ptrdiff_t count, const uint8_t *filters,
                              ptrdiff_t filterCount, ptrdiff_t stride, int32_t k, int32_t *dots,
                              ptrdiff_t ldd);
void lowbit_xor_popcount_avx512(const uint8_t *rows, ptrdiff_t count, const uint8_t *filters,
                                ptrdiff_t filterCount, ptrdiff_t stride, int32_t k, int32_t *dots,
                                ptrdiff_t ldd);

#endif
