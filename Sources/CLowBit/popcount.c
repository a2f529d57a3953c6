// XOR-popcount products for the binary backend: dots[p·ldd + f] = k − 2·popcount(row_p XOR filter_f).
// Rows and filters are packed ±1 bits (bit 1 = −1); bytes past the real row are zero in both, so
// they XOR to 0 and add nothing. Counting is exact integer arithmetic, so any order of summation
// gives the same count, and `k − 2·count` is formed with uint32 wraparound like Swift's `&-`.
//
// Both paths work on register tiles of R pixels × F filters, so each loaded vector is reused R or F
// times; tile sizes are compile-time constants (always_inline) so the accumulators stay in registers.
// AVX2 has no vector popcount: its path looks counts up with vpshufb in 16-entry tables (below).
#include "clowbit.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

/// Filters per block of the AVX-512 kernel: the products run block by block so a block's filter rows
/// stay in L1 (64 filters of 320 bytes = 20 KiB at 3×3×256) while every pixel passes over them.
enum { FILTER_BLOCK = 64 };

static void store_dot(int32_t *dots, ptrdiff_t ldd, ptrdiff_t p, ptrdiff_t f, int32_t k,
                      uint64_t count) {
  dots[p * ldd + f] = (int32_t)((uint32_t)k - 2u * (uint32_t)count);
}

static void *alloc64(size_t bytes) {
  void *p = NULL;
  if (posix_memalign(&p, 64, bytes < 64 ? 64 : bytes) != 0) abort();
  return p;
}

// MARK: - AVX2: nibble tables selected per pixel nibble (vpshufb)

/// Pixels and filters per register tile: 4 pixels × 2 vectors of 32 filters = 8 byte accumulators.
enum { NIB_PIXELS = 4, NIB_GROUPS = 2 };
/// Nibbles per segment: a segment's counts are at most 4·16380 < 2^16 (they sit in uint16 counters).
enum { NIB_SEGMENT = 16380 };

/// The R×G tile (R pixels, G groups of 32 filters) over nibble positions [j0, j1). Filters are
/// transposed into nibble planes, `planes[g·planeStride + 32·j + i]` = nibble j of filter 32g + i
/// (0...15), which are the vpshufb *indices*; pixel p's nibble j selects the table: `idx[p·nj + j]`
/// is 4·nibble, so `tables + 8·idx` is `T_q` with `T_q[i] = popcount(q XOR i)`, 32 bytes (both lanes).
/// So one vpshufb gives `popcount(pixel nibble XOR filter nibble)` for 32 filters, and vpaddb sums it
/// into byte counters: at most 4 per nibble, flushed into the uint16 `counts[p·64 + f]` every 63
/// nibbles (63·4 = 252 < 256). Counting is exact, so any order gives the reference's count.
__attribute__((target("avx2"), always_inline)) static inline void nibble_tile(
    const int R, const int G, const uint8_t *idx, ptrdiff_t nj, const uint8_t *planes,
    ptrdiff_t planeStride, const uint8_t *tables, ptrdiff_t j0, ptrdiff_t j1, uint16_t *counts) {
  const __m256i zero = _mm256_setzero_si256();
  for (int p = 0; p < R; p++)
    for (int h = 0; h < 4; h++) _mm256_store_si256((__m256i *)(counts + 64 * p) + h, zero);
  for (ptrdiff_t c0 = j0; c0 < j1; c0 += 63) {
    const ptrdiff_t c1 = c0 + 63 < j1 ? c0 + 63 : j1;
    __m256i acc[NIB_PIXELS][NIB_GROUPS];
    for (int p = 0; p < R; p++)
      for (int g = 0; g < G; g++) acc[p][g] = zero;
    for (ptrdiff_t j = c0; j < c1; j++) {
      __m256i w[NIB_GROUPS];
      for (int g = 0; g < G; g++)
        w[g] = _mm256_load_si256((const __m256i *)(planes + g * planeStride + 32 * j));
      for (int p = 0; p < R; p++) {
        const __m256i t = _mm256_load_si256((const __m256i *)(tables + 8 * (size_t)idx[p * nj + j]));
        for (int g = 0; g < G; g++) acc[p][g] = _mm256_add_epi8(acc[p][g], _mm256_shuffle_epi8(t, w[g]));
      }
    }
    for (int p = 0; p < R; p++) {
      for (int g = 0; g < G; g++) {
        __m256i *o = (__m256i *)(counts + 64 * p + 32 * g);
        const __m128i lo = _mm256_castsi256_si128(acc[p][g]), hi = _mm256_extracti128_si256(acc[p][g], 1);
        _mm256_store_si256(o, _mm256_add_epi16(_mm256_load_si256(o), _mm256_cvtepu8_epi16(lo)));
        _mm256_store_si256(o + 1, _mm256_add_epi16(_mm256_load_si256(o + 1), _mm256_cvtepu8_epi16(hi)));
      }
    }
  }
}

__attribute__((target("avx2"))) void lowbit_xor_popcount_avx2(const uint8_t *rows, ptrdiff_t count,
                                                              const uint8_t *filters,
                                                              ptrdiff_t filterCount, ptrdiff_t stride,
                                                              int32_t k, int32_t *dots,
                                                              ptrdiff_t ldd) {
  if (count <= 0 || filterCount <= 0) return;
  const ptrdiff_t vectors = stride / 32, nj = 2 * stride;
  // T_q for q = 0...15, both 128-bit lanes alike (vpshufb looks up within each lane).
  uint8_t tables[16 * 32] __attribute__((aligned(32)));
  for (int q = 0; q < 16; q++)
    for (int i = 0; i < 32; i++) tables[32 * q + i] = (uint8_t)__builtin_popcount((unsigned)(q ^ (i & 15)));
  // Nibble order within a row, the same for filters and pixels: for 32-byte vector v, the 32 low
  // nibbles (positions 64v + i), then the 32 high ones (64v + 32 + i). The sum does not depend on it.
  const ptrdiff_t groups = (filterCount + 31) / 32, planeStride = 32 * nj;
  uint8_t *planes = alloc64((size_t)(groups * planeStride));
  memset(planes + (groups - 1) * planeStride, 0, (size_t)planeStride);  // nibble 0 past the last filter
  for (ptrdiff_t f = 0; f < filterCount; f++) {
    uint8_t *d = planes + (f / 32) * planeStride + f % 32;
    const uint8_t *r = filters + f * stride;
    for (ptrdiff_t v = 0; v < vectors; v++) {
      for (int i = 0; i < 32; i++) {
        d[32 * (64 * v + i)] = r[32 * v + i] & 15;
        d[32 * (64 * v + 32 + i)] = r[32 * v + i] >> 4;
      }
    }
  }
  uint8_t *idx = alloc64((size_t)(count * nj));
  const __m256i mask = _mm256_set1_epi8(0x3C);
  for (ptrdiff_t p = 0; p < count; p++) {
    for (ptrdiff_t v = 0; v < vectors; v++) {
      const __m256i x = _mm256_loadu_si256((const __m256i *)(rows + p * stride) + v);
      __m256i *d = (__m256i *)(idx + p * nj) + 2 * v;
      _mm256_store_si256(d, _mm256_and_si256(_mm256_slli_epi16(x, 2), mask));      // 4·(x & 15)
      _mm256_store_si256(d + 1, _mm256_and_si256(_mm256_srli_epi16(x, 2), mask));  // 4·(x >> 4)
    }
  }
  uint16_t counts[NIB_PIXELS * 64] __attribute__((aligned(32)));
  for (ptrdiff_t j0 = 0; j0 < nj; j0 += NIB_SEGMENT) {
    const ptrdiff_t j1 = j0 + NIB_SEGMENT < nj ? j0 + NIB_SEGMENT : nj;
    // The first segment writes k − 2·count, later ones subtract 2·count (uint32 wraparound).
    const __m256i base = j0 == 0 ? _mm256_set1_epi32(k) : _mm256_setzero_si256();
    for (ptrdiff_t g0 = 0; g0 < groups; g0 += NIB_GROUPS) {
      const int G = groups - g0 >= NIB_GROUPS ? NIB_GROUPS : 1;
      const ptrdiff_t fn = filterCount - 32 * g0 < 32 * G ? filterCount - 32 * g0 : 32 * G;
      const uint8_t *pl = planes + g0 * planeStride;
      for (ptrdiff_t p0 = 0; p0 < count; p0 += NIB_PIXELS) {
        const int R = count - p0 >= NIB_PIXELS ? NIB_PIXELS : (int)(count - p0);
        const uint8_t *ix = idx + p0 * nj;
#define NIB_TILE(r, g) nibble_tile(r, g, ix, nj, pl, planeStride, tables, j0, j1, counts)
        switch (R * 2 + G - 1) {
          case 2: NIB_TILE(1, 1); break;
          case 3: NIB_TILE(1, 2); break;
          case 4: NIB_TILE(2, 1); break;
          case 5: NIB_TILE(2, 2); break;
          case 6: NIB_TILE(3, 1); break;
          case 7: NIB_TILE(3, 2); break;
          case 8: NIB_TILE(4, 1); break;
          default: NIB_TILE(4, 2); break;
        }
#undef NIB_TILE
        for (int p = 0; p < R; p++) {
          int32_t *d = dots + (p0 + p) * ldd + 32 * g0;
          ptrdiff_t f = 0;
          for (; f + 8 <= fn; f += 8) {
            const __m256i c = _mm256_cvtepu16_epi32(_mm_load_si128((const __m128i *)(counts + 64 * p + f)));
            const __m256i prev = j0 == 0 ? base : _mm256_loadu_si256((const __m256i *)(d + f));
            _mm256_storeu_si256((__m256i *)(d + f), _mm256_sub_epi32(prev, _mm256_add_epi32(c, c)));
          }
          for (; f < fn; f++) {
            const uint32_t prev = j0 == 0 ? (uint32_t)k : (uint32_t)d[f];
            d[f] = (int32_t)(prev - 2u * counts[64 * p + f]);
          }
        }
      }
    }
  }
  free(idx);
  free(planes);
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
