import CBLAS
import Synchronization
import Tensors

// MARK: - sgemm wrappers

extension Fast {
  /// Row-major single-precision GEMM on raw pointers, written in place:
  /// `C = alpha * op(A) · op(B) + beta * C` with `op(A)` of shape `m×k` (`A` stored `k×m` when
  /// `transA`), `op(B)` of shape `k×n`, and leading dimensions (row strides, in elements) `lda`,
  /// `ldb`, `ldc`.
  ///
  /// `beta == 0` overwrites `C` without reading it. With `k == 0` the product is empty and `C`
  /// becomes `beta * C`. Does not change the BLAS thread count (see `BLAS.useSingleThread()`).
  public static func sgemm(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    if m <= 0 || n <= 0 { return }
    if k <= 0 {
      for i in 0..<m {
        let row = c + i * ldc
        if beta == 0 {
          row.update(repeating: 0, count: n)
        } else {
          for j in 0..<n { row[j] *= beta }
        }
      }
      return
    }
    precondition(
      lda >= Swift.max(1, transA ? m : k) && ldb >= Swift.max(1, transB ? k : n) && ldc >= Swift.max(1, n),
      "sgemm: leading dimension too small")
    precondition(
      m <= Int(Int32.max) && n <= Int(Int32.max) && k <= Int(Int32.max) && lda <= Int(Int32.max)
        && ldb <= Int(Int32.max) && ldc <= Int(Int32.max), "sgemm: sizes exceed the BLAS integer range")
    cblas_sgemm(
      CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
      Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
  }

  /// Plain row-major `C = A(m×k) · B(k×n)` through `cblas_sgemm`, written into an existing buffer
  /// (no allocation): the baseline a benchmark compares matmul and convolution against.
  public static func sgemmRaw(_ a: [Float], _ b: [Float], into c: inout [Float], m: Int, n: Int, k: Int) {
    precondition(
      a.count >= m * k && b.count >= k * n && c.count >= m * n, "sgemmRaw: buffers smaller than m, n, k")
    a.withUnsafeBufferPointer { pa in
      b.withUnsafeBufferPointer { pb in
        c.withUnsafeMutableBufferPointer { pc in
          guard let a = pa.baseAddress, let b = pb.baseAddress, let c = pc.baseAddress else { return }
          sgemm(
            transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: Swift.max(k, 1), b: b,
            ldb: Swift.max(n, 1), beta: 0, c: c, ldc: Swift.max(n, 1))
        }
      }
    }
  }
}

// MARK: - Scratch buffers

/// One spare float buffer shared by the kernels that need scratch space (im2col, col2im): taken
/// out under the lock, used without it, and put back afterwards, so a steady stream of same-sized
/// convolutions allocates nothing. Concurrent callers that find it taken allocate their own.
private let scratchPool = Mutex<[Float]>([])

/// Scratch buffers larger than this (in floats, 64 MiB) are not kept after use.
private let scratchKeepLimit = 1 << 24

extension Fast {
  /// Runs `body` with an uninitialized scratch buffer of at least `count` floats.
  static func withScratch<R>(_ count: Int, _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
    var buffer = scratchPool.withLock { spare -> [Float] in
      let taken = spare
      spare = []
      return taken
    }
    let needed = Swift.max(count, 1)
    if buffer.count < needed {
      buffer = [Float](unsafeUninitializedCapacity: needed) { _, initialized in initialized = needed }
    }
    let result = buffer.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
    if buffer.count <= scratchKeepLimit {
      scratchPool.withLock { spare in
        if spare.count < buffer.count { spare = buffer }
      }
    }
    return result
  }
}

// MARK: - matmul and gemm

extension Fast {
  /// NumPy matmul of `a [..., M, K]` and `b [..., K, N]` (float32, ranks >= 2): batch dims
  /// broadcast; one sgemm per batch element, or a single sgemm over `batch * M` rows when `b` has
  /// no batch extent.
  public static func matmul(_ a: FastTensor, _ b: FastTensor) -> FastTensor {
    precondition(a.isFloat && b.isFloat, "matmul: float32 operands only")
    let ra = a.shape.count
    let rb = b.shape.count
    precondition(ra >= 2 && rb >= 2, "matmul: operands must have rank >= 2")
    let m = a.shape[ra - 2]
    let k = a.shape[ra - 1]
    let n = b.shape[rb - 1]
    precondition(b.shape[rb - 2] == k, "matmul: inner dims \(k) and \(b.shape[rb - 2]) differ")
    let aBatch = Array(a.shape.dropLast(2))
    let bBatch = Array(b.shape.dropLast(2))
    guard let batch = Shape.broadcast(aBatch, bBatch) else {
      preconditionFailure("matmul: batch dims \(aBatch) and \(bBatch) do not broadcast")
    }
    let batchCount = batch.reduce(1, *)
    let aCount = aBatch.reduce(1, *)
    let bCount = bBatch.reduce(1, *)
    var out = [Float](repeating: 0, count: batchCount * m * n)
    if out.isEmpty { return FastTensor(floats: out, shape: batch + [m, n]) }
    a.floats.withUnsafeBufferPointer { pa in
      b.floats.withUnsafeBufferPointer { pb in
        out.withUnsafeMutableBufferPointer { po in
          let pa = pa.baseAddress!
          let pb = pb.baseAddress!
          let po = po.baseAddress!
          let lda = Swift.max(k, 1)
          let ldb = Swift.max(n, 1)
          if bCount == 1 && aCount == batchCount {
            // a's batch is the output's batch: one tall GEMM [batch*M, K] · [K, N].
            sgemm(
              transA: false, transB: false, m: batchCount * m, n: n, k: k, alpha: 1, a: pa, lda: lda, b: pb,
              ldb: ldb, beta: 0, c: po, ldc: n)
            return
          }
          let identityA = aCount == batchCount
          let identityB = bCount == batchCount
          let oa = identityA ? [] : Reference.broadcastOffsets(from: aBatch, to: batch)
          let ob = identityB ? [] : Reference.broadcastOffsets(from: bBatch, to: batch)
          for t in 0..<batchCount {
            let ia = identityA ? t : oa[t]
            let ib = identityB ? t : ob[t]
            sgemm(
              transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: pa + ia * m * k, lda: lda,
              b: pb + ib * k * n, ldb: ldb, beta: 0, c: po + t * m * n, ldc: n)
          }
        }
      }
    }
    return FastTensor(floats: out, shape: batch + [m, n])
  }

  /// ONNX Gemm in float32: `alpha * A' · B' + beta * C` with `A' = transA ? Aᵀ : A` (`[M, K]`),
  /// `B' = transB ? Bᵀ : B` (`[K, N]`) and `C` (rank 0...2) broadcast unidirectionally to `[M, N]`.
  ///
  /// The output is first filled with `beta * C` (so a NaN or inf in `C` propagates even when
  /// `beta == 0`, as in the reference), then one sgemm accumulates `alpha * A' · B'` into it.
  /// `alpha == 0` still propagates NaN/inf from the product (BLAS would skip it).
  public static func gemm(
    _ a: FastTensor, _ b: FastTensor, _ c: FastTensor, alpha: Float, beta: Float, transA: Bool, transB: Bool
  ) -> FastTensor {
    precondition(a.isFloat && b.isFloat && c.isFloat, "gemm: float32 operands only")
    precondition(a.shape.count == 2 && b.shape.count == 2 && c.shape.count <= 2, "gemm: bad ranks")
    let m = transA ? a.shape[1] : a.shape[0]
    let k = transA ? a.shape[0] : a.shape[1]
    let kb = transB ? b.shape[1] : b.shape[0]
    let n = transB ? b.shape[0] : b.shape[1]
    precondition(k == kb, "gemm: inner dims \(k) and \(kb) differ")
    let cShape = [Int](repeating: 1, count: 2 - c.shape.count) + c.shape
    precondition(
      (cShape[0] == 1 || cShape[0] == m) && (cShape[1] == 1 || cShape[1] == n),
      "gemm: C \(c.shape) does not broadcast to [\(m), \(n)]")
    var out = [Float](repeating: 0, count: m * n)
    if out.isEmpty { return FastTensor(floats: out, shape: [m, n]) }
    let cRowStep = cShape[0] == 1 ? 0 : cShape[1]
    let cColStep = cShape[1] == 1 ? 0 : 1
    a.floats.withUnsafeBufferPointer { pa in
      b.floats.withUnsafeBufferPointer { pb in
        c.floats.withUnsafeBufferPointer { pc in
          out.withUnsafeMutableBufferPointer { po in
            let pc = pc.baseAddress!
            let po = po.baseAddress!
            for i in 0..<m {
              let src = pc + i * cRowStep
              let dst = po + i * n
              for j in 0..<n { dst[j] = beta * src[j * cColStep] }
            }
            guard k > 0, let pa = pa.baseAddress, let pb = pb.baseAddress else { return }
            let lda = Swift.max(a.shape[1], 1)
            let ldb = Swift.max(b.shape[1], 1)
            if alpha != 0 {
              sgemm(
                transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: pa, lda: lda, b: pb,
                ldb: ldb, beta: 1, c: po, ldc: n)
            } else {
              // 0 * (A'B'): zero unless the product holds a NaN or an infinity.
              withScratch(m * n) { product in
                sgemm(
                  transA: transA, transB: transB, m: m, n: n, k: k, alpha: 1, a: pa, lda: lda, b: pb,
                  ldb: ldb, beta: 0, c: product, ldc: n)
                for i in 0..<(m * n) { po[i] += alpha * product[i] }
              }
            }
          }
        }
      }
    }
    return FastTensor(floats: out, shape: [m, n])
  }
}
