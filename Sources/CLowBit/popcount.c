// XOR-popcount products for the binary backend: dots[p·ldd + f] = k − 2·popcount(row_p XOR filter_f).
// Rows and filters are packed ±1 bits (bit 1 = −1); bytes past the real row are zero in both, so
// they XOR to 0 and add nothing. Counting is exact integer arithmetic, so any order of summation
// gives the same count, and `k − 2·count` is formed with uint32 wraparound like Swift's `&-`.
//
// Both paths work on register tiles of R pixels × F filters, so each loaded vector is reused R or F
// times, and filters are taken in L1-sized blocks; tile sizes are compile-time constants (always_inline) so the accumulators stay in registers.
#include "clowbit.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <stdlib.h>

/// Filters per block: the products run block by block so a block's filter rows stay in L1 (AVX-512: 64
/// filters of 320 bytes = 20 KiB at 3×3×256) or L2 (AVX2's nibble-split rows are twice as long) while
/// every pixel passes over them.
enum { FILTER_BLOCK = 64 };

static void store_dot(int32_t *dots, ptrdiff_t ldd, ptrdiff_t p, ptrdiff_t f, int32_t k,
                      uint64_t count) {
  dots[p * ldd + f] = (int32_t)((uint32_t)k - 2u * (uint32_t)count);
}

// MARK: - AVX2: nibble-table popcount (vpshufb)

/// Splits `count` rows of `stride` bytes into nibble rows of `2·stride` bytes: for each 32-byte vector v,
/// the vector of low nibbles (`x & 15`) then the vector of high nibbles (`x >> 4`). XOR acts on each
/// nibble separately, so `(a XOR w)`'s nibbles are the XORs of the split nibbles: splitting once per row
/// and filter (not per pair) leaves 6 vector operations per pair and 32 bytes instead of 8.
__attribute__((target("avx2"))) static void split_nibbles(const uint8_t *src, ptrdiff_t count,
                                                          ptrdiff_t stride, uint8_t *dst) {
  const __m256i low = _mm256_set1_epi8(0x0F);
  for (ptrdiff_t r = 0; r < count; r++) {
    for (ptrdiff_t v = 0; v < stride / 32; v++) {
      const __m256i x = _mm256_loadu_si256((const __m256i *)(src + r * stride) + v);
      __m256i *d = (__m256i *)(dst + 2 * r * stride) + 2 * v;
      _mm256_storeu_si256(d, _mm256_and_si256(x, low));
      _mm256_storeu_si256(d + 1, _mm256_and_si256(_mm256_srli_epi16(x, 4), low));
    }
  }
}

/// An R×F tile over `vectors` 32-byte vectors of nibble-split rows (row stride `stride2` bytes). Per
/// pair and vector: two vpxor of nibble vectors, two vpshufb lookups of the 16-entry popcount table
/// (indices 0...15, so no masking), two byte adds. Byte counters gain at most 8 per vector, so they
/// are flushed (vpsadbw: exact sums of 8 bytes into 64-bit lanes) every 31 vectors (31·8 = 248 < 256).
__attribute__((target("avx2"), always_inline)) static inline void tile_avx2(
    const int R, const int F, const uint8_t *rows, const uint8_t *filters, ptrdiff_t stride2,
    ptrdiff_t vectors, int32_t k, int32_t *dots, ptrdiff_t ldd, ptrdiff_t p0, ptrdiff_t f0) {
  const __m256i table = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2,
                                         1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  uint64_t total[4][4] = {{0}};
  const __m256i zero = _mm256_setzero_si256();
  for (ptrdiff_t v0 = 0; v0 < vectors; v0 += 31) {
    const ptrdiff_t v1 = v0 + 31 < vectors ? v0 + 31 : vectors;
    __m256i acc[4][4];
    for (int i = 0; i < R; i++)
      for (int j = 0; j < F; j++) acc[i][j] = zero;
    for (ptrdiff_t v = v0; v < v1; v++) {
      __m256i xl[4], xh[4], wl[4], wh[4];
      for (int i = 0; i < R; i++) {
        xl[i] = _mm256_loadu_si256((const __m256i *)(rows + i * stride2) + 2 * v);
        xh[i] = _mm256_loadu_si256((const __m256i *)(rows + i * stride2) + 2 * v + 1);
      }
      for (int j = 0; j < F; j++) {
        wl[j] = _mm256_loadu_si256((const __m256i *)(filters + j * stride2) + 2 * v);
        wh[j] = _mm256_loadu_si256((const __m256i *)(filters + j * stride2) + 2 * v + 1);
      }
      for (int i = 0; i < R; i++) {
        for (int j = 0; j < F; j++) {
          const __m256i lo = _mm256_shuffle_epi8(table, _mm256_xor_si256(xl[i], wl[j]));
          const __m256i hi = _mm256_shuffle_epi8(table, _mm256_xor_si256(xh[i], wh[j]));
          acc[i][j] = _mm256_add_epi8(acc[i][j], _mm256_add_epi8(lo, hi));
        }
      }
    }
    for (int i = 0; i < R; i++) {
      for (int j = 0; j < F; j++) {
        const __m256i s = _mm256_sad_epu8(acc[i][j], zero);
        total[i][j] += (uint64_t)_mm256_extract_epi64(s, 0) + (uint64_t)_mm256_extract_epi64(s, 1) +
                       (uint64_t)_mm256_extract_epi64(s, 2) + (uint64_t)_mm256_extract_epi64(s, 3);
      }
    }
  }
  for (int i = 0; i < R; i++)
    for (int j = 0; j < F; j++) store_dot(dots, ldd, p0 + i, f0 + j, k, total[i][j]);
}

__attribute__((target("avx2"))) void lowbit_xor_popcount_avx2(const uint8_t *rows, ptrdiff_t count,
                                                              const uint8_t *filters,
                                                              ptrdiff_t filterCount, ptrdiff_t stride,
                                                              int32_t k, int32_t *dots,
                                                              ptrdiff_t ldd) {
  if (count <= 0 || filterCount <= 0) return;
  const ptrdiff_t vectors = stride / 32, stride2 = 2 * stride;
  uint8_t *r2 = malloc((size_t)(count * stride2));
  uint8_t *f2 = malloc((size_t)(filterCount * stride2));
  if (!r2 || !f2) abort();
  split_nibbles(rows, count, stride, r2);
  split_nibbles(filters, filterCount, stride, f2);
  for (ptrdiff_t f0 = 0; f0 < filterCount; f0 += FILTER_BLOCK) {
    const ptrdiff_t f1 = f0 + FILTER_BLOCK < filterCount ? f0 + FILTER_BLOCK : filterCount;
    ptrdiff_t p = 0;
    for (; p + 2 <= count; p += 2) {
      const uint8_t *r = r2 + p * stride2;
      ptrdiff_t f = f0;
      for (; f + 2 <= f1; f += 2)
        tile_avx2(2, 2, r, f2 + f * stride2, stride2, vectors, k, dots, ldd, p, f);
      for (; f < f1; f++) tile_avx2(2, 1, r, f2 + f * stride2, stride2, vectors, k, dots, ldd, p, f);
    }
    for (; p < count; p++) {
      const uint8_t *r = r2 + p * stride2;
      ptrdiff_t f = f0;
      for (; f + 2 <= f1; f += 2)
        tile_avx2(1, 2, r, f2 + f * stride2, stride2, vectors, k, dots, ldd, p, f);
      for (; f < f1; f++) tile_avx2(1, 1, r, f2 + f * stride2, stride2, vectors, k, dots, ldd, p, f);
    }
  }
  free(r2);
  free(f2);
}

// MARK: - AVX-512: vpopcntq (AVX512_VPOPCNTDQ)

#define LOWBIT_AVX512 "avx512f,avx512bw,avx512vl,avx512vpopcntdq"

/// An R×F tile: 64-byte vectors (vpxorq, vpopcntq per 64-bit lane, vpaddq), then a last 32-byte
/// half vector if `stride` is an odd multiple of 32 (a masked load zeroes the upper half, which
/// then counts 0). 64-bit lane sums cannot overflow.
__attribute__((target(LOWBIT_AVX512), always_inline)) static inline void tile_avx512(
    const int R, const int F, const uint8_t *rows, const uint8_t *filters, ptrdiff_t stride,
    int32_t k, int32_t *dots, ptrdiff_t ldd, ptrdiff_t p0, ptrdiff_t f0) {
  const ptrdiff_t full = stride / 64;
  const int half = (stride % 64) != 0;
  __m512i acc[4][4];
  for (int i = 0; i < R; i++)
    for (int j = 0; j < F; j++) acc[i][j] = _mm512_setzero_si512();
  for (ptrdiff_t v = 0; v < full + half; v++) {
    const __mmask64 mask = v < full ? ~(__mmask64)0 : (__mmask64)0xFFFFFFFFu;
    __m512i x[4], w[4];
    for (int i = 0; i < R; i++) x[i] = _mm512_maskz_loadu_epi8(mask, rows + i * stride + 64 * v);
    for (int j = 0; j < F; j++) w[j] = _mm512_maskz_loadu_epi8(mask, filters + j * stride + 64 * v);
    for (int i = 0; i < R; i++)
      for (int j = 0; j < F; j++)
        acc[i][j] = _mm512_add_epi64(acc[i][j], _mm512_popcnt_epi64(_mm512_xor_si512(x[i], w[j])));
  }
  for (int i = 0; i < R; i++)
    for (int j = 0; j < F; j++)
      store_dot(dots, ldd, p0 + i, f0 + j, k, (uint64_t)_mm512_reduce_add_epi64(acc[i][j]));
}

__attribute__((target(LOWBIT_AVX512))) void lowbit_xor_popcount_avx512(
    const uint8_t *rows, ptrdiff_t count, const uint8_t *filters, ptrdiff_t filterCount,
    ptrdiff_t stride, int32_t k, int32_t *dots, ptrdiff_t ldd) {
  for (ptrdiff_t f0 = 0; f0 < filterCount; f0 += FILTER_BLOCK) {
    const ptrdiff_t f1 = f0 + FILTER_BLOCK < filterCount ? f0 + FILTER_BLOCK : filterCount;
    ptrdiff_t p = 0;
    for (; p + 4 <= count; p += 4) {
      const uint8_t *r = rows + p * stride;
      ptrdiff_t f = f0;
      for (; f + 4 <= f1; f += 4) tile_avx512(4, 4, r, filters + f * stride, stride, k, dots, ldd, p, f);
      for (; f < f1; f++) tile_avx512(4, 1, r, filters + f * stride, stride, k, dots, ldd, p, f);
    }
    for (; p < count; p++) {
      const uint8_t *r = rows + p * stride;
      ptrdiff_t f = f0;
      for (; f + 4 <= f1; f += 4) tile_avx512(1, 4, r, filters + f * stride, stride, k, dots, ldd, p, f);
      for (; f < f1; f++) tile_avx512(1, 1, r, filters + f * stride, stride, k, dots, ldd, p, f);
    }
  }
}

#else

#include <stdlib.h>

void lowbit_xor_popcount_avx2(const uint8_t *rows, ptrdiff_t count, const uint8_t *filters,
                              ptrdiff_t filterCount, ptrdiff_t stride, int32_t k, int32_t *dots,
                              ptrdiff_t ldd) {
  (void)rows, (void)count, (void)filters, (void)filterCount, (void)stride, (void)k, (void)dots,
      (void)ldd;
  abort();  // never called: lowbit_cpu_supports(AVX2) is 0 here
}

void lowbit_xor_popcount_avx512(const uint8_t *rows, ptrdiff_t count, const uint8_t *filters,
                                ptrdiff_t filterCount, ptrdiff_t stride, int32_t k, int32_t *dots,
                                ptrdiff_t ldd) {
  (void)rows, (void)count, (void)filters, (void)filterCount, (void)stride, (void)k, (void)dots,
      (void)ldd;
  abort();  // never called: lowbit_cpu_supports(AVX512) is 0 here
}

#endif
