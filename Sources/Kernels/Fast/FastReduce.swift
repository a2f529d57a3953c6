import Tensors

// MARK: - axes / keepdims reductions

extension Fast {
  public enum ReduceOp: Sendable, Hashable {
    case sum, mean, max, min, prod
  }

  /// Reduces `x` over `axes` (distinct; negative axes count from the back). `keepdims` keeps each
  /// reduced axis as size 1, otherwise it is removed. Floats accumulate in float32 (sums blocked
  /// along contiguous runs, which is at least as accurate as sequential order); max/min are NaN if
  /// any reduced element is NaN; mean is the float32 sum divided by the count. Integers wrap.
  public static func reduce(_ op: ReduceOp, _ x: FastTensor, axes: [Int], keepdims: Bool) -> FastTensor {
    let axes = axes.map { $0 < 0 ? $0 + x.shape.count : $0 }
    let outShape = reducedShape(x.shape, axes: axes, keepdims: keepdims)
    if x.isFloat {
      let v: [Float]
      switch op {
      case .sum: v = reduceGeneric(x.floats, x.shape, axes, initial: 0, row: sumRow, combine: +)
      case .mean:
        let n = Float(axes.reduce(1) { $0 * x.shape[$1] })
        v = reduceGeneric(x.floats, x.shape, axes, initial: 0, row: sumRow, combine: +).map { $0 / n }
      case .max:
        v = reduceGeneric(
          x.floats, x.shape, axes, initial: -.infinity, row: { foldRow($0, -.infinity, floatMax) },
          combine: floatMax)
      case .min:
        v = reduceGeneric(
          x.floats, x.shape, axes, initial: .infinity, row: { foldRow($0, .infinity, floatMin) },
          combine: floatMin)
      case .prod:
        v = reduceGeneric(x.floats, x.shape, axes, initial: 1, row: { foldRow($0, 1, *) }, combine: *)
      }
      return FastTensor(floats: v, shape: outShape)
    }
    let narrow = x.dtype == .i32
    let v: [Int64]
    switch op {
    case .sum: v = reduceGeneric(x.ints, x.shape, axes, initial: 0, row: { foldRow($0, 0, &+) }, combine: &+)
    case .mean: preconditionFailure("reduce_mean is defined on floats only")
    case .max:
      let lo: Int64 = narrow ? Int64(Int32.min) : .min
      v = reduceGeneric(
        x.ints, x.shape, axes, initial: lo, row: { foldRow($0, lo, Swift.max) }, combine: Swift.max)
    case .min:
      let hi: Int64 = narrow ? Int64(Int32.max) : .max
      v = reduceGeneric(
        x.ints, x.shape, axes, initial: hi, row: { foldRow($0, hi, Swift.min) }, combine: Swift.min)
    case .prod: v = reduceGeneric(x.ints, x.shape, axes, initial: 1, row: { foldRow($0, 1, &*) }, combine: &*)
    }
    return FastTensor(ints: v, dtype: x.dtype, shape: outShape)
  }

  /// The shape after reducing `axes` (0-based).
  public static func reducedShape(_ shape: [Int], axes: [Int], keepdims: Bool) -> [Int] {
    var out: [Int] = []
    for (d, n) in shape.enumerated() {
      if !axes.contains(d) { out.append(n) } else if keepdims { out.append(1) }
    }
    return out
  }

  /// NaN-propagating max / min accumulators: once NaN, they stay NaN.
  @inline(__always) static func floatMax(_ acc: Float, _ x: Float) -> Float { x > acc || x.isNaN ? x : acc }
  @inline(__always) static func floatMin(_ acc: Float, _ x: Float) -> Float { x < acc || x.isNaN ? x : acc }

  @inline(__always)
  static func foldRow<T>(_ p: UnsafeBufferPointer<T>, _ initial: T, _ f: (T, T) -> T) -> T {
    var acc = initial
    for v in p { acc = f(acc, v) }
    return acc
  }

  /// Float32 sum of a contiguous run: eight interleaved accumulators for long runs, pairwise
  /// combined (more accurate than one sequential accumulator, and vectorizable).
  @inline(__always)
  static func sumRow(_ p: UnsafeBufferPointer<Float>) -> Float {
    let n = p.count
    if n < 16 {
      var s: Float = 0
      for v in p { s += v }
      return s
    }
    var a0: Float = 0
    var a1: Float = 0
    var a2: Float = 0
    var a3: Float = 0
    var a4: Float = 0
    var a5: Float = 0
    var a6: Float = 0
    var a7: Float = 0
    var i = 0
    while i + 8 <= n {
      a0 += p[i]
      a1 += p[i + 1]
      a2 += p[i + 2]
      a3 += p[i + 3]
      a4 += p[i + 4]
      a5 += p[i + 5]
      a6 += p[i + 6]
      a7 += p[i + 7]
      i += 8
    }
    var tail: Float = 0
    while i < n {
      tail += p[i]
      i += 1
    }
    return (((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))) + tail
  }

  /// Reduction over `axes` of a row-major tensor. Dims of size 1 are dropped and adjacent dims
  /// with the same status (reduced or kept) merged; the input is then read once, in order, as rows
  /// of the innermost merged dim: a reduced innermost run is folded by `row` and combined into its
  /// output element, a kept innermost run is combined elementwise into a run of outputs.
  @inline(__always)
  static func reduceGeneric<T>(
    _ x: [T], _ shape: [Int], _ axes: [Int], initial: T,
    row: (UnsafeBufferPointer<T>) -> T, combine: (T, T) -> T
  ) -> [T] {
    let reducedSet = Set(axes)
    var dims: [Int] = []
    var reduced: [Bool] = []
    for (d, n) in shape.enumerated() where n != 1 {
      let r = reducedSet.contains(d)
      if let last = reduced.last, last == r {
        dims[dims.count - 1] *= n
      } else {
        dims.append(n)
        reduced.append(r)
      }
    }
    let outCount = zip(dims, reduced).reduce(1) { $1.1 ? $0 : $0 * $1.0 }
    var out = [T](repeating: initial, count: outCount)
    if x.isEmpty || dims.isEmpty {
      // Nothing to reduce (every dim 1) or an empty input.
      if dims.isEmpty, !x.isEmpty { out[0] = combine(initial, x[0]) }
      return out
    }
    // Output strides along the merged dims: 0 on reduced dims.
    var outStrides = [Int](repeating: 0, count: dims.count)
    var acc = 1
    for d in stride(from: dims.count - 1, through: 0, by: -1) where !reduced[d] {
      outStrides[d] = acc
      acc *= dims[d]
    }
    let innerN = dims[dims.count - 1]
    let innerReduced = reduced[dims.count - 1]
    let outer = dims.count - 1
    var idx = [Int](repeating: 0, count: outer)
    x.withUnsafeBufferPointer { px in
      out.withUnsafeMutableBufferPointer { po in
        var i = 0
        var o = 0
        while i < px.count {
          if innerReduced {
            po[o] = combine(po[o], row(UnsafeBufferPointer(rebasing: px[i..<(i + innerN)])))
          } else {
            for j in 0..<innerN { po[o + j] = combine(po[o + j], px[i + j]) }
          }
          i += innerN
          var d = outer - 1
          while d >= 0 {
            idx[d] += 1
            o += outStrides[d]
            if idx[d] < dims[d] { break }
            o -= outStrides[d] * dims[d]
            idx[d] = 0
            d -= 1
          }
        }
      }
    }
    return out
  }
}

// MARK: - argmax / argmin

extension Fast {
  /// Index (i64) of the largest (`largest`) or smallest element along `axis` (negative counts from
  /// the back). Ties give the first index; a NaN beats every number, so a slice holding NaN gives
  /// the index of its first NaN (argmax and argmin alike).
  public static func argExtreme(_ x: FastTensor, axis: Int, keepdims: Bool, largest: Bool) -> FastTensor {
    let axis = axis < 0 ? axis + x.shape.count : axis
    var shape = x.shape
    if keepdims { shape[axis] = 1 } else { shape.remove(at: axis) }
    let v: [Int64]
    if x.isFloat {
      v =
        largest
        ? argGeneric(x.floats, x.shape, axis) { v, best in v > best || (v.isNaN && !best.isNaN) }
        : argGeneric(x.floats, x.shape, axis) { v, best in v < best || (v.isNaN && !best.isNaN) }
    } else {
      v =
        largest
        ? argGeneric(x.ints, x.shape, axis) { $0 > $1 } : argGeneric(x.ints, x.shape, axis) { $0 < $1 }
    }
    return FastTensor(ints: v, dtype: .i64, shape: shape)
  }

  /// `beats(v, best)`: whether `v` replaces the current best (strictly, so ties keep the first).
  @inline(__always)
  static func argGeneric<T>(_ x: [T], _ shape: [Int], _ axis: Int, beats: (T, T) -> Bool) -> [Int64] {
    let n = shape[axis]
    let outer = shape[..<axis].reduce(1, *)
    let inner = shape[(axis + 1)...].reduce(1, *)
    var out = [Int64](repeating: 0, count: outer * inner)
    guard n > 0, inner > 0 else { return out }
    x.withUnsafeBufferPointer { px in
      out.withUnsafeMutableBufferPointer { po in
        if inner == 1 {
          for o in 0..<outer {
            let base = o * n
            var best = px[base]
            var bi = 0
            for j in 1..<Swift.max(n, 1) where beats(px[base + j], best) {
              best = px[base + j]
              bi = j
            }
            po[o] = Int64(bi)
          }
          return
        }
        // Row by row along the axis, vectorized over the inner elements.
        var best = [T](unsafeUninitializedCapacity: inner) { b, c in
          for i in 0..<inner { b.initializeElement(at: i, to: px[i]) }
          c = inner
        }
        best.withUnsafeMutableBufferPointer { pb in
          for o in 0..<outer {
            let base = o * n * inner
            for i in 0..<inner { pb[i] = px[base + i] }
            for j in 1..<Swift.max(n, 1) {
              let row = base + j * inner
              for i in 0..<inner where beats(px[row + i], pb[i]) {
                pb[i] = px[row + i]
                po[o * inner + i] = Int64(j)
              }
            }
          }
        }
      }
    }
    return out
  }
}

// MARK: - cumsum

extension Fast {
  /// Cumulative sum along `axis` (negative counts from the back), accumulated in the dtype
  /// (float32, or wrapping integers) in order along the axis. `exclusive`: each element sums the
  /// elements strictly before it; `reverse`: sums run from the end.
  public static func cumsum(_ x: FastTensor, axis: Int, exclusive: Bool, reverse: Bool) -> FastTensor {
    let axis = axis < 0 ? axis + x.shape.count : axis
    if x.isFloat {
      return FastTensor(
        floats: cumsumGeneric(x.floats, x.shape, axis, exclusive, reverse, zero: 0, +), shape: x.shape)
    }
    return FastTensor(
      ints: cumsumGeneric(x.ints, x.shape, axis, exclusive, reverse, zero: 0, &+), dtype: x.dtype,
      shape: x.shape)
  }

  @inline(__always)
  static func cumsumGeneric<T>(
    _ x: [T], _ shape: [Int], _ axis: Int, _ exclusive: Bool, _ reverse: Bool, zero: T,
    _ add: (T, T) -> T
  ) -> [T] {
    let n = shape[axis]
    let outer = shape[..<axis].reduce(1, *)
    let inner = shape[(axis + 1)...].reduce(1, *)
    var out = [T](repeating: zero, count: x.count)
    guard !x.isEmpty else { return out }
    x.withUnsafeBufferPointer { px in
      out.withUnsafeMutableBufferPointer { po in
        for o in 0..<outer {
          let base = o * n * inner
          // Running sums of the previous row along the axis, vectorized over the inner elements:
          // the output rows themselves hold them.
          for step in 0..<n {
            let k = reverse ? n - 1 - step : step
            let row = base + k * inner
            if step == 0 {
              if !exclusive { for i in 0..<inner { po[row + i] = px[row + i] } }
              continue
            }
            let prev = base + (reverse ? k + 1 : k - 1) * inner
            if exclusive {
              for i in 0..<inner { po[row + i] = add(po[prev + i], px[prev + i]) }
            } else {
              for i in 0..<inner { po[row + i] = add(po[prev + i], px[row + i]) }
            }
          }
        }
      }
    }
    return out
  }
}
