import Tensors

/// NumPy broadcasting for the fast elementwise kernels.
///
/// A plan drops size-1 output dims and merges adjacent dims that every operand walks contiguously
/// (or not at all), so a same-shape operation is one row and `[N, C] + [C]` is N rows of C. The
/// innermost (coalesced) dim becomes a tight loop whose per-operand stride is 1 (walks) or 0
/// (repeats); the outer dims are walked with an odometer, once per row.
struct BroadcastPlan {
  /// The broadcast output shape (uncoalesced).
  let shape: [Int]
  let count: Int
  /// Coalesced dims, outermost first; at least one entry (the row length).
  let dims: [Int]
  /// Per operand, its element stride along each coalesced dim (0 where it broadcasts).
  let strides: [[Int]]

  /// `nil` if the shapes do not broadcast.
  init?(_ shapes: [[Int]]) {
    let r = shapes.map(\.count).max() ?? 0
    var out = [Int](repeating: 1, count: r)
    for s in shapes {
      let pad = r - s.count
      for (i, d) in s.enumerated() {
        if out[pad + i] == 1 {
          out[pad + i] = d
        } else if d != 1 && d != out[pad + i] {
          return nil
        }
      }
    }
    shape = out
    count = out.reduce(1, *)
    // Row-major strides of each operand in the padded output frame, 0 where it repeats.
    var full: [[Int]] = []
    for s in shapes {
      let padded = [Int](repeating: 1, count: r - s.count) + s
      var st = [Int](repeating: 0, count: r)
      var acc = 1
      for d in stride(from: r - 1, through: 0, by: -1) {
        st[d] = padded[d] == 1 ? 0 : acc
        acc *= padded[d]
      }
      full.append(st)
    }
    // Drop size-1 output dims, then merge a dim into the next inner one when every operand's
    // stride continues across the boundary.
    var dims: [Int] = []
    var strides = [[Int]](repeating: [], count: shapes.count)
    for d in 0..<r where out[d] != 1 {
      if let last = dims.last,
        (0..<shapes.count).allSatisfy({ strides[$0].last! == full[$0][d] * out[d] })
      {
        dims[dims.count - 1] = last * out[d]
        for k in 0..<shapes.count { strides[k][strides[k].count - 1] = full[k][d] }
      } else {
        dims.append(out[d])
        for k in 0..<shapes.count { strides[k].append(full[k][d]) }
      }
    }
    if dims.isEmpty {
      dims = [1]
      for k in 0..<shapes.count { strides[k] = [0] }
    }
    self.dims = dims
    self.strides = strides
  }
}

extension Fast {
  /// `f` over two broadcast operands.
  @inline(__always)
  static func broadcast2<A, B, R>(
    _ a: [A], _ aShape: [Int], _ b: [B], _ bShape: [Int], _ f: (A, B) -> R
  ) -> (values: [R], shape: [Int]) {
    guard let plan = BroadcastPlan([aShape, bShape]) else {
      preconditionFailure("shapes \(aShape) and \(bShape) do not broadcast")
    }
    let n = plan.count
    let inner = plan.dims[plan.dims.count - 1]
    let outer = plan.dims.count - 1
    let sa = plan.strides[0][outer]
    let sb = plan.strides[1][outer]
    let values = [R](unsafeUninitializedCapacity: n) { out, initialized in
      a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
          var idx = [Int](repeating: 0, count: outer)
          var oa = 0
          var ob = 0
          var o = 0
          while o < n {
            if sa == 1 && sb == 1 {
              for j in 0..<inner { out.initializeElement(at: o + j, to: f(pa[oa + j], pb[ob + j])) }
            } else if sb == 0 {
              let y = pb[ob]
              if sa == 1 {
                for j in 0..<inner { out.initializeElement(at: o + j, to: f(pa[oa + j], y)) }
              } else {
                let v = f(pa[oa], y)
                for j in 0..<inner { out.initializeElement(at: o + j, to: v) }
              }
            } else {
              let x = pa[oa]
              for j in 0..<inner { out.initializeElement(at: o + j, to: f(x, pb[ob + j])) }
            }
            o += inner
            var d = outer - 1
            while d >= 0 {
              idx[d] += 1
              oa += plan.strides[0][d]
              ob += plan.strides[1][d]
              if idx[d] < plan.dims[d] { break }
              oa -= plan.strides[0][d] * plan.dims[d]
              ob -= plan.strides[1][d] * plan.dims[d]
              idx[d] = 0
              d -= 1
            }
          }
        }
      }
      initialized = n
    }
    return (values, plan.shape)
  }

  /// `f` over three broadcast operands (`where`).
  @inline(__always)
  static func broadcast3<A, B, C, R>(
    _ a: [A], _ aShape: [Int], _ b: [B], _ bShape: [Int], _ c: [C], _ cShape: [Int],
    _ f: (A, B, C) -> R
  ) -> (values: [R], shape: [Int]) {
    guard let plan = BroadcastPlan([aShape, bShape, cShape]) else {
      preconditionFailure("shapes \(aShape), \(bShape) and \(cShape) do not broadcast")
    }
    let n = plan.count
    let inner = plan.dims[plan.dims.count - 1]
    let outer = plan.dims.count - 1
    let sa = plan.strides[0][outer]
    let sb = plan.strides[1][outer]
    let sc = plan.strides[2][outer]
    let values = [R](unsafeUninitializedCapacity: n) { out, initialized in
      a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
          c.withUnsafeBufferPointer { pc in
            var idx = [Int](repeating: 0, count: outer)
            var oa = 0
            var ob = 0
            var oc = 0
            var o = 0
            while o < n {
              if sa == 1 && sb == 1 && sc == 1 {
                for j in 0..<inner {
                  out.initializeElement(at: o + j, to: f(pa[oa + j], pb[ob + j], pc[oc + j]))
                }
              } else {
                for j in 0..<inner {
                  out.initializeElement(at: o + j, to: f(pa[oa + j * sa], pb[ob + j * sb], pc[oc + j * sc]))
                }
              }
              o += inner
              var d = outer - 1
              while d >= 0 {
                idx[d] += 1
                oa += plan.strides[0][d]
                ob += plan.strides[1][d]
                oc += plan.strides[2][d]
                if idx[d] < plan.dims[d] { break }
                oa -= plan.strides[0][d] * plan.dims[d]
                ob -= plan.strides[1][d] * plan.dims[d]
                oc -= plan.strides[2][d] * plan.dims[d]
                idx[d] = 0
                d -= 1
              }
            }
          }
        }
      }
      initialized = n
    }
    return (values, plan.shape)
  }

  /// `f` over every element (a tight loop; no broadcasting).
  @inline(__always)
  static func map<A, R>(_ x: [A], _ f: (A) -> R) -> [R] {
    [R](unsafeUninitializedCapacity: x.count) { out, initialized in
      x.withUnsafeBufferPointer { p in
        for i in 0..<p.count { out.initializeElement(at: i, to: f(p[i])) }
      }
      initialized = x.count
    }
  }
}
