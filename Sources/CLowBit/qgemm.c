// Integer GEMM kernels for the int8 backend: AVX2 over int16 operands (vpmaddwd) and AVX-512 VNNI
// over u8×s8 operands (vpdpbusd). Both compute C = A·B exactly modulo 2^32, the contract of Swift's
// `Quant.Optimized.gemmS16` (whose callers hand it zero-point-offset 8-bit data as int16).
//
// Why AVX2 uses vpmaddwd on int16 and not vpmaddubsw on u8×s8: vpmaddubsw adds each pair of u8×s8
// products into an int16 with *saturation* (255·127 + 255·127 = 64770 becomes 32767; oneDNN's
// documented inexactness). Keeping it exact needs a split of one operand (e.g. 7 + 1 bits) or a
// sign trick that only holds when one operand avoids −128, and either costs as many multiply-port
// instructions per product as vpmaddwd on int16 (16 int16 products per instruction, summed in pairs
// into int32: exact, no saturation). ruy and XNNPACK's AVX2 qs8 kernels make the same choice.
// VNNI's vpdpbusd sums 4 u8×s8 products into int32 without any intermediate saturation, so that
// path does use 8-bit operands.
//
// Blocking follows BLIS (jc → pc → ic → jr → ir): B is packed per kc×nc block into NR-column panels,
// A per mc×kc block into MR-row panels; the MR×NR register tile is accumulated over the kc block.
// The AVX2 packing is vectorized (interleaving and transposing 32-byte rows): scalar packing took
// 11% of a 256³ product, 6% of 512³.
// Packing pads with zeros, and a zero operand contributes 0 to every sum, so edges are exact too.
#include "clowbit.h"

#include <stdlib.h>
#include <string.h>

static ptrdiff_t min_pd(ptrdiff_t a, ptrdiff_t b) { return a < b ? a : b; }
static ptrdiff_t round_up(ptrdiff_t x, ptrdiff_t to) { return (x + to - 1) / to * to; }

static void *alloc64(size_t bytes) {
  void *p = NULL;
  if (posix_memalign(&p, 64, bytes < 64 ? 64 : bytes) != 0) abort();
  return p;
}

/// Stores the rows×cols top-left part of a full MR×NR tile `tile` (row stride `nr`) into C,
/// adding with wraparound when `accumulate`. Unsigned arithmetic: wraparound is defined in C.
static void store_tile(const int32_t *tile, ptrdiff_t nr, int32_t *c, ptrdiff_t ldc, ptrdiff_t rows,
                       ptrdiff_t cols, int accumulate) {
  for (ptrdiff_t i = 0; i < rows; i++) {
    for (ptrdiff_t j = 0; j < cols; j++) {
      const uint32_t v = (uint32_t)tile[i * nr + j];
      c[i * ldc + j] = accumulate ? (int32_t)((uint32_t)c[i * ldc + j] + v) : (int32_t)v;
    }
  }
}

#if defined(__x86_64__)
#include <immintrin.h>

// MARK: - AVX2, int16 × int16 → int32 (vpmaddwd)

enum { S16_MR = 6, S16_NR = 16, S16_KC = 512, S16_MC = 192, S16_NC = 512 };

/// Packs B[0..<kc, 0..<nc] (row stride ldb) into NR-column panels of kp = ⌈kc/2⌉ steps; step p of a
/// panel is 32 int16: (B[2p, j], B[2p+1, j]) for its 16 columns j, so one 256-bit load holds the
/// k-pairs of 8 columns, the layout vpmaddwd multiplies against a broadcast (A[i, 2p], A[i, 2p+1]).
__attribute__((target("avx2"))) static void pack_b_s16(const int16_t *b, ptrdiff_t ldb, ptrdiff_t kc,
                                                        ptrdiff_t nc, int16_t *dst) {
  const ptrdiff_t kp = (kc + 1) / 2;
  for (ptrdiff_t jr = 0; jr < nc; jr += S16_NR) {
    const ptrdiff_t cols = min_pd(S16_NR, nc - jr);
    for (ptrdiff_t p = 0; p < kp; p++) {
      const int16_t *r0 = b + 2 * p * ldb + jr;
      const int has1 = 2 * p + 1 < kc;
      if (cols == S16_NR) {  // the common case: interleave row 2p with row 2p + 1 (or zeros) by vector
        const __m256i x0 = _mm256_loadu_si256((const __m256i *)r0);
        const __m256i x1 =
            has1 ? _mm256_loadu_si256((const __m256i *)(r0 + ldb)) : _mm256_setzero_si256();
        // unpack works per 128-bit lane: lo holds the pairs of columns 0-3 and 8-11, hi 4-7, 12-15
        const __m256i lo = _mm256_unpacklo_epi16(x0, x1), hi = _mm256_unpackhi_epi16(x0, x1);
        _mm256_store_si256((__m256i *)dst, _mm256_permute2x128_si256(lo, hi, 0x20));
        _mm256_store_si256((__m256i *)dst + 1, _mm256_permute2x128_si256(lo, hi, 0x31));
        dst += 2 * S16_NR;
        continue;
      }
      for (ptrdiff_t j = 0; j < S16_NR; j++) {
        dst[2 * j] = j < cols ? r0[j] : 0;
        dst[2 * j + 1] = (j < cols && has1) ? r0[ldb + j] : 0;
      }
      dst += 2 * S16_NR;
    }
  }
}

/// Packs A[0..<mc, 0..<kc] (row stride lda) into MR-row panels; step p of a panel holds, per row,
/// the pair (A[i, 2p], A[i, 2p+1]) as one 32-bit word (even element in the low half, as vpmaddwd
/// pairs them with the low half of B's word).
__attribute__((target("avx2"))) static void pack_a_s16(const int16_t *a, ptrdiff_t lda, ptrdiff_t mc,
                                                        ptrdiff_t kc, uint32_t *dst) {
  const ptrdiff_t kp = (kc + 1) / 2;
  for (ptrdiff_t ir = 0; ir < mc; ir += S16_MR) {
    const ptrdiff_t rows = min_pd(S16_MR, mc - ir);
    if (rows == S16_MR) {  // full panel: whole pairs as 32-bit words (little-endian: even element low)
      const int16_t *r = a + ir * lda;
      ptrdiff_t p = 0;
      // 8 pairs of each row at a time: a 6×8 transpose of 32-bit words. unpack works per 128-bit lane,
      // so the low lanes give pairs p..p+3 and the high lanes p+4..p+7.
      for (; p + 8 <= kc / 2; p += 8) {
#define LD(i) _mm256_loadu_si256((const __m256i *)(r + (i) * lda + 2 * p))
        const __m256i r0 = LD(0), r1 = LD(1), r2 = LD(2), r3 = LD(3), r4 = LD(4), r5 = LD(5);
#undef LD
        const __m256i t0 = _mm256_unpacklo_epi32(r0, r1), t1 = _mm256_unpackhi_epi32(r0, r1);
        const __m256i t2 = _mm256_unpacklo_epi32(r2, r3), t3 = _mm256_unpackhi_epi32(r2, r3);
        const __m256i t4 = _mm256_unpacklo_epi32(r4, r5), t5 = _mm256_unpackhi_epi32(r4, r5);
        // u_q: rows 0-3 of pairs q (low lane) and q + 4 (high lane); t4/t5 hold rows 4-5 of pairs
        // 0, 1 | 4, 5 and 2, 3 | 6, 7, one per 64 bits.
        const __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
        const __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
        uint32_t *o = dst + p * S16_MR;
#define PUT(q, u, t, hiHalf)                                                        \
  _mm_storeu_si128((__m128i *)(o + (q) * S16_MR), u);                               \
  if (hiHalf)                                                                       \
    _mm_storeh_pd((double *)(o + (q) * S16_MR + 4), _mm_castsi128_pd(t));           \
  else                                                                              \
    _mm_storel_epi64((__m128i *)(o + (q) * S16_MR + 4), t);
        const __m128i t4l = _mm256_castsi256_si128(t4), t5l = _mm256_castsi256_si128(t5);
        const __m128i t4h = _mm256_extracti128_si256(t4, 1), t5h = _mm256_extracti128_si256(t5, 1);
        PUT(0, _mm256_castsi256_si128(u0), t4l, 0)
        PUT(1, _mm256_castsi256_si128(u1), t4l, 1)
        PUT(2, _mm256_castsi256_si128(u2), t5l, 0)
        PUT(3, _mm256_castsi256_si128(u3), t5l, 1)
        PUT(4, _mm256_extracti128_si256(u0, 1), t4h, 0)
        PUT(5, _mm256_extracti128_si256(u1, 1), t4h, 1)
        PUT(6, _mm256_extracti128_si256(u2, 1), t5h, 0)
        PUT(7, _mm256_extracti128_si256(u3, 1), t5h, 1)
#undef PUT
      }
      for (; p < kc / 2; p++) {
        for (ptrdiff_t i = 0; i < S16_MR; i++) memcpy(&dst[p * S16_MR + i], r + i * lda + 2 * p, 4);
      }
      if (kc & 1) {
        for (ptrdiff_t i = 0; i < S16_MR; i++) {
          dst[(kp - 1) * S16_MR + i] = (uint16_t)r[i * lda + kc - 1];
        }
      }
      dst += kp * S16_MR;
      continue;
    }
    for (ptrdiff_t p = 0; p < kp; p++) {
      for (ptrdiff_t i = 0; i < S16_MR; i++) {
        uint32_t lo = 0, hi = 0;
        if (i < rows) {
          lo = (uint16_t)a[(ir + i) * lda + 2 * p];
          if (2 * p + 1 < kc) hi = (uint16_t)a[(ir + i) * lda + 2 * p + 1];
        }
        dst[p * S16_MR + i] = lo | hi << 16;
      }
    }
    dst += kp * S16_MR;
  }
}

/// The 6×16 register tile over kp k-pairs: 12 ymm accumulators of 8 int32 columns. vpmaddwd gives
/// A[i,2p]·B[2p,j] + A[i,2p+1]·B[2p+1,j] per int32 lane (exact except (−32768)²·2 = 2^31, which
/// it wraps to INT32_MIN, the value modulo 2^32), vpaddd adds with wraparound.
/// Not inlined: inlined into the blocking loops, clang spilled accumulators of the unrolled loop to
/// the stack (30% slower, measured).
__attribute__((target("avx2"), noinline)) static void kernel_s16_6x16(
    const uint32_t *pa, const int16_t *pb, ptrdiff_t kp, int32_t *c, ptrdiff_t ldc, ptrdiff_t rows,
    ptrdiff_t cols, int accumulate) {
  __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256i c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  // Two k-pairs per iteration (3-4% faster than one, measured; four run out of registers).
#pragma clang loop unroll_count(2)
  for (ptrdiff_t p = 0; p < kp; p++) {
    const __m256i b0 = _mm256_loadu_si256((const __m256i *)pb);
    const __m256i b1 = _mm256_loadu_si256((const __m256i *)(pb + 16));
    __m256i x;
#define S16_ROW(i, lo, hi)                               \
  x = _mm256_set1_epi32((int32_t)pa[i]);                 \
  lo = _mm256_add_epi32(lo, _mm256_madd_epi16(x, b0)); \
  hi = _mm256_add_epi32(hi, _mm256_madd_epi16(x, b1));
    S16_ROW(0, c00, c01)
    S16_ROW(1, c10, c11)
    S16_ROW(2, c20, c21)
    S16_ROW(3, c30, c31)
    S16_ROW(4, c40, c41)
    S16_ROW(5, c50, c51)
#undef S16_ROW
    pa += S16_MR;
    pb += 2 * S16_NR;
  }
  if (rows == S16_MR && cols == S16_NR) {
#define S16_PUT(i, lo, hi)                                                                        \
  {                                                                                               \
    __m256i *d = (__m256i *)(c + (i) * ldc);                                                      \
    if (accumulate) {                                                                             \
      lo = _mm256_add_epi32(lo, _mm256_loadu_si256(d));                                           \
      hi = _mm256_add_epi32(hi, _mm256_loadu_si256(d + 1));                                       \
    }                                                                                             \
    _mm256_storeu_si256(d, lo);                                                                   \
    _mm256_storeu_si256(d + 1, hi);                                                               \
  }
    S16_PUT(0, c00, c01)
    S16_PUT(1, c10, c11)
    S16_PUT(2, c20, c21)
    S16_PUT(3, c30, c31)
    S16_PUT(4, c40, c41)
    S16_PUT(5, c50, c51)
#undef S16_PUT
    return;
  }
  int32_t tile[S16_MR * S16_NR];
  __m256i *t = (__m256i *)tile;
  _mm256_storeu_si256(t + 0, c00), _mm256_storeu_si256(t + 1, c01);
  _mm256_storeu_si256(t + 2, c10), _mm256_storeu_si256(t + 3, c11);
  _mm256_storeu_si256(t + 4, c20), _mm256_storeu_si256(t + 5, c21);
  _mm256_storeu_si256(t + 6, c30), _mm256_storeu_si256(t + 7, c31);
  _mm256_storeu_si256(t + 8, c40), _mm256_storeu_si256(t + 9, c41);
  _mm256_storeu_si256(t + 10, c50), _mm256_storeu_si256(t + 11, c51);
  store_tile(tile, S16_NR, c, ldc, rows, cols, accumulate);
}

__attribute__((target("avx2"))) void lowbit_gemm_s16_avx2(const int16_t *a, const int16_t *b,
                                                          int32_t *c, ptrdiff_t m, ptrdiff_t k,
                                                          ptrdiff_t n) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    memset(c, 0, (size_t)(m * n) * sizeof(int32_t));
    return;
  }
  // k in blocks of at most S16_KC, of equal (even) length: a short last block would add a pass over C
  // and packing for little work (KC 512 in one block at k = 512 was 3% faster than 384 + 128).
  const ptrdiff_t blocks = (k + S16_KC - 1) / S16_KC;
  const ptrdiff_t kcMax = round_up((k + blocks - 1) / blocks, 2);
  const ptrdiff_t ncMax = min_pd(S16_NC, round_up(n, S16_NR));
  const ptrdiff_t mcMax = min_pd(S16_MC, round_up(m, S16_MR));
  int16_t *bPack = alloc64((size_t)(kcMax * round_up(ncMax, S16_NR)) * sizeof(int16_t));
  uint32_t *aPack = alloc64((size_t)((kcMax / 2) * round_up(mcMax, S16_MR)) * sizeof(uint32_t));
  for (ptrdiff_t jc = 0; jc < n; jc += ncMax) {
    const ptrdiff_t nc = min_pd(ncMax, n - jc);
    for (ptrdiff_t pc = 0; pc < k; pc += kcMax) {
      const ptrdiff_t kc = min_pd(kcMax, k - pc), kp = (kc + 1) / 2;
      pack_b_s16(b + pc * n + jc, n, kc, nc, bPack);
      for (ptrdiff_t ic = 0; ic < m; ic += mcMax) {
        const ptrdiff_t mc = min_pd(mcMax, m - ic);
        pack_a_s16(a + ic * k + pc, k, mc, kc, aPack);
        for (ptrdiff_t jr = 0; jr < nc; jr += S16_NR) {
          for (ptrdiff_t ir = 0; ir < mc; ir += S16_MR) {
            kernel_s16_6x16(aPack + ir * kp, bPack + jr * kp * 2, kp, c + (ic + ir) * n + jc + jr, n,
                            min_pd(S16_MR, mc - ir), min_pd(S16_NR, nc - jr), pc > 0);
          }
        }
      }
    }
  }
  free(bPack);
  free(aPack);
}

// MARK: - AVX-512 VNNI, u8 × s8 → int32 (vpdpbusd)

enum { Q_MR = 8, Q_NR = 32, Q_KC = 512, Q_MC = 96, Q_NC = 1024 };

/// Packs B[0..<kc, 0..<nc] shifted to s8 (`B[p, j] − shift[j]`, in −128...127 by the caller's
/// range check) into NR-column panels of kq = ⌈kc/4⌉ steps; step q of a panel is 128 bytes: the 4
/// bytes (B[4q..<4q+4, j]) of each of its 32 columns j, the k-quads vpdpbusd multiplies.
#define LOWBIT_VNNI "avx512f,avx512bw,avx512vl,avx512vnni"

__attribute__((target(LOWBIT_VNNI))) static void pack_b_s8(const int16_t *b, ptrdiff_t ldb,
                                                           const int32_t *shift, ptrdiff_t kc,
                                                           ptrdiff_t nc, int8_t *dst) {
  const ptrdiff_t kq = (kc + 3) / 4;
  for (ptrdiff_t jr = 0; jr < nc; jr += Q_NR) {
    const ptrdiff_t cols = min_pd(Q_NR, nc - jr);
    for (ptrdiff_t q = 0; q < kq; q++) {
      if (cols == Q_NR && 4 * q + 4 <= kc) {  // the common case, without per-element tests
        for (ptrdiff_t r = 0; r < 4; r++) {
          const int16_t *row = b + (4 * q + r) * ldb + jr;
          for (ptrdiff_t j = 0; j < Q_NR; j++) dst[4 * j + r] = (int8_t)(row[j] - shift[jr + j]);
        }
        dst += 4 * Q_NR;
        continue;
      }
      for (ptrdiff_t j = 0; j < Q_NR; j++) {
        for (ptrdiff_t r = 0; r < 4; r++) {
          const ptrdiff_t p = 4 * q + r;
          dst[4 * j + r] = (j < cols && p < kc) ? (int8_t)(b[p * ldb + jr + j] - shift[jr + j]) : 0;
        }
      }
      dst += 4 * Q_NR;
    }
  }
}

/// Packs A[0..<mc, 0..<kc] shifted to u8 (`A[i, p] − shift[i]`, in 0...255) into MR-row panels;
/// step q holds each row's k-quad as one 32-bit word (byte r = element 4q + r).
__attribute__((target(LOWBIT_VNNI))) static void pack_a_u8(const int16_t *a, ptrdiff_t lda,
                                                           const int32_t *shift, ptrdiff_t mc,
                                                           ptrdiff_t kc, uint8_t *dst) {
  const ptrdiff_t kq = (kc + 3) / 4;
  for (ptrdiff_t ir = 0; ir < mc; ir += Q_MR) {
    const ptrdiff_t rows = min_pd(Q_MR, mc - ir);
    if (rows == Q_MR) {  // full panel: row-wise, zero past kc
      for (ptrdiff_t i = 0; i < Q_MR; i++) {
        const int16_t *row = a + (ir + i) * lda;
        const int32_t sh = shift[ir + i];
        for (ptrdiff_t p = 0; p < kc; p++) dst[((p / 4) * Q_MR + i) * 4 + p % 4] = (uint8_t)(row[p] - sh);
        for (ptrdiff_t p = kc; p < 4 * kq; p++) dst[((p / 4) * Q_MR + i) * 4 + p % 4] = 0;
      }
      dst += kq * Q_MR * 4;
      continue;
    }
    for (ptrdiff_t q = 0; q < kq; q++) {
      for (ptrdiff_t i = 0; i < Q_MR; i++) {
        for (ptrdiff_t r = 0; r < 4; r++) {
          const ptrdiff_t p = 4 * q + r;
          dst[(q * Q_MR + i) * 4 + r] =
              (i < rows && p < kc) ? (uint8_t)(a[(ir + i) * lda + p] - shift[ir + i]) : 0;
        }
      }
    }
    dst += kq * Q_MR * 4;
  }
}

/// The 8×32 register tile over kq k-quads: 16 zmm accumulators of 16 int32 columns. vpdpbusd adds
/// Σ_{r<4} u8(A[i,4q+r])·s8(B[4q+r,j]) to each int32 lane: every product fits int16 exactly
/// (|255·−128| < 2^15) and the sum goes to int32 with wraparound and no saturation (unlike
/// vpdpbusds), so the tile is exactly Σ_p a_u·b_s modulo 2^32.
__attribute__((target(LOWBIT_VNNI))) static void kernel_u8s8_8x32(
    const uint8_t *pa, const int8_t *pb, ptrdiff_t kq, int32_t *c, ptrdiff_t ldc, ptrdiff_t rows,
    ptrdiff_t cols, int accumulate) {
  __m512i c00 = _mm512_setzero_si512(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m512i c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00;
  __m512i c70 = c00, c71 = c00;
  for (ptrdiff_t q = 0; q < kq; q++) {
    const __m512i b0 = _mm512_loadu_si512((const void *)pb);
    const __m512i b1 = _mm512_loadu_si512((const void *)(pb + 64));
    __m512i x;
    int32_t w;
#define Q_ROW(i, lo, hi)                      \
  memcpy(&w, pa + 4 * (i), 4);                \
  x = _mm512_set1_epi32(w);                   \
  lo = _mm512_dpbusd_epi32(lo, x, b0);        \
  hi = _mm512_dpbusd_epi32(hi, x, b1);
    Q_ROW(0, c00, c01)
    Q_ROW(1, c10, c11)
    Q_ROW(2, c20, c21)
    Q_ROW(3, c30, c31)
    Q_ROW(4, c40, c41)
    Q_ROW(5, c50, c51)
    Q_ROW(6, c60, c61)
    Q_ROW(7, c70, c71)
#undef Q_ROW
    pa += 4 * Q_MR;
    pb += 4 * Q_NR;
  }
  if (rows == Q_MR && cols == Q_NR) {
#define Q_PUT(i, lo, hi)                                        \
  {                                                             \
    int32_t *d = c + (i) * ldc;                                 \
    if (accumulate) {                                           \
      lo = _mm512_add_epi32(lo, _mm512_loadu_si512(d));         \
      hi = _mm512_add_epi32(hi, _mm512_loadu_si512(d + 16));    \
    }                                                           \
    _mm512_storeu_si512(d, lo);                                 \
    _mm512_storeu_si512(d + 16, hi);                            \
  }
    Q_PUT(0, c00, c01)
    Q_PUT(1, c10, c11)
    Q_PUT(2, c20, c21)
    Q_PUT(3, c30, c31)
    Q_PUT(4, c40, c41)
    Q_PUT(5, c50, c51)
    Q_PUT(6, c60, c61)
    Q_PUT(7, c70, c71)
#undef Q_PUT
    return;
  }
  int32_t tile[Q_MR * Q_NR];
  _mm512_storeu_si512(tile + 0, c00), _mm512_storeu_si512(tile + 16, c01);
  _mm512_storeu_si512(tile + 32, c10), _mm512_storeu_si512(tile + 48, c11);
  _mm512_storeu_si512(tile + 64, c20), _mm512_storeu_si512(tile + 80, c21);
  _mm512_storeu_si512(tile + 96, c30), _mm512_storeu_si512(tile + 112, c31);
  _mm512_storeu_si512(tile + 128, c40), _mm512_storeu_si512(tile + 144, c41);
  _mm512_storeu_si512(tile + 160, c50), _mm512_storeu_si512(tile + 176, c51);
  _mm512_storeu_si512(tile + 192, c60), _mm512_storeu_si512(tile + 208, c61);
  _mm512_storeu_si512(tile + 224, c70), _mm512_storeu_si512(tile + 240, c71);
  store_tile(tile, Q_NR, c, ldc, rows, cols, accumulate);
}

/// Exactness of the VNNI path. With per-row shifts sa[i] = min_p A[i, p] and per-column shifts
/// sb[j] = min_p B[p, j] + 128, a_u = A − sa ∈ 0...255 and b_s = B − sb ∈ −128...127 (the range
/// check), and over the integers
///   Σ_p A[i,p]·B[p,j] = Σ_p (a_u + sa[i])(b_s + sb[j])
///                     = Σ_p a_u·b_s + sb[j]·Σ_p a_u + sa[i]·Σ_p b_s + k·sa[i]·sb[j].
/// Reducing both sides modulo 2^32 keeps the equality, so computing every term with uint32
/// wraparound gives exactly the wrapped int32 result of the int16 kernels and the reference.
__attribute__((target(LOWBIT_VNNI))) int lowbit_gemm_s16_vnni(const int16_t *a, const int16_t *b,
                                                               int32_t *c, ptrdiff_t m, ptrdiff_t k,
                                                               ptrdiff_t n) {
  if (m <= 0 || n <= 0) return 1;
  if (k <= 0) {
    memset(c, 0, (size_t)(m * n) * sizeof(int32_t));
    return 1;
  }
  int32_t *sa = malloc((size_t)m * sizeof(int32_t));
  int32_t *sb = malloc((size_t)n * sizeof(int32_t));
  int32_t *hiB = malloc((size_t)n * sizeof(int32_t));
  uint32_t *sumA = malloc((size_t)m * sizeof(uint32_t));
  uint32_t *sumB = calloc((size_t)n, sizeof(uint32_t));
  int fits = 1;
  for (ptrdiff_t i = 0; i < m && fits; i++) {
    const int16_t *row = a + i * k;
    int32_t lo = row[0], hi = row[0];
    for (ptrdiff_t p = 1; p < k; p++) {
      lo = row[p] < lo ? row[p] : lo;
      hi = row[p] > hi ? row[p] : hi;
    }
    fits = hi - lo <= 255;
    sa[i] = lo;
    uint32_t s = 0;
    for (ptrdiff_t p = 0; p < k; p++) s += (uint32_t)(row[p] - lo);
    sumA[i] = s;
  }
  if (fits) {
    for (ptrdiff_t j = 0; j < n; j++) sb[j] = hiB[j] = b[j];
    for (ptrdiff_t p = 1; p < k; p++) {
      const int16_t *row = b + p * n;
      for (ptrdiff_t j = 0; j < n; j++) {
        sb[j] = row[j] < sb[j] ? row[j] : sb[j];
        hiB[j] = row[j] > hiB[j] ? row[j] : hiB[j];
      }
    }
    for (ptrdiff_t j = 0; j < n; j++) {
      fits &= hiB[j] - sb[j] <= 255;
      sb[j] += 128;
    }
  }
  if (!fits) {
    free(sa), free(sb), free(hiB), free(sumA), free(sumB);
    return 0;
  }
  for (ptrdiff_t p = 0; p < k; p++) {
    const int16_t *row = b + p * n;
    for (ptrdiff_t j = 0; j < n; j++) sumB[j] += (uint32_t)(row[j] - sb[j]);
  }

  const ptrdiff_t kcMax = min_pd(Q_KC, round_up(k, 4));
  const ptrdiff_t ncMax = min_pd(Q_NC, round_up(n, Q_NR));
  const ptrdiff_t mcMax = min_pd(Q_MC, round_up(m, Q_MR));
  int8_t *bPack = alloc64((size_t)(kcMax * round_up(ncMax, Q_NR)));
  uint8_t *aPack = alloc64((size_t)(kcMax * round_up(mcMax, Q_MR)));
  for (ptrdiff_t jc = 0; jc < n; jc += ncMax) {
    const ptrdiff_t nc = min_pd(ncMax, n - jc);
    for (ptrdiff_t pc = 0; pc < k; pc += kcMax) {
      const ptrdiff_t kc = min_pd(kcMax, k - pc), kq = (kc + 3) / 4;
      pack_b_s8(b + pc * n + jc, n, sb + jc, kc, nc, bPack);
      for (ptrdiff_t ic = 0; ic < m; ic += mcMax) {
        const ptrdiff_t mc = min_pd(mcMax, m - ic);
        pack_a_u8(a + ic * k + pc, k, sa + ic, mc, kc, aPack);
        for (ptrdiff_t jr = 0; jr < nc; jr += Q_NR) {
          for (ptrdiff_t ir = 0; ir < mc; ir += Q_MR) {
            kernel_u8s8_8x32(aPack + ir * kq * 4, bPack + jr * kq * 4, kq, c + (ic + ir) * n + jc + jr,
                             n, min_pd(Q_MR, mc - ir), min_pd(Q_NR, nc - jr), pc > 0);
          }
        }
      }
    }
  }
  // The three correction terms of the identity above, with uint32 wraparound.
  for (ptrdiff_t i = 0; i < m; i++) {
    const uint32_t ai = (uint32_t)sa[i], ki = (uint32_t)k * ai;
    int32_t *row = c + i * n;
    for (ptrdiff_t j = 0; j < n; j++) {
      const uint32_t bj = (uint32_t)sb[j];
      row[j] = (int32_t)((uint32_t)row[j] + bj * sumA[i] + ai * sumB[j] + ki * bj);
    }
  }
  free(bPack), free(aPack);
  free(sa), free(sb), free(hiB), free(sumA), free(sumB);
  return 1;
}

#else

void lowbit_gemm_s16_avx2(const int16_t *a, const int16_t *b, int32_t *c, ptrdiff_t m, ptrdiff_t k,
                          ptrdiff_t n) {
  (void)a, (void)b, (void)c, (void)m, (void)k, (void)n;
  abort();  // never called: lowbit_cpu_supports(AVX2) is 0 here
}

int lowbit_gemm_s16_vnni(const int16_t *a, const int16_t *b, int32_t *c, ptrdiff_t m, ptrdiff_t k,
                         ptrdiff_t n) {
  (void)a, (void)b, (void)c, (void)m, (void)k, (void)n;
  abort();  // never called: lowbit_cpu_supports(AVX512) is 0 here
}

#endif
