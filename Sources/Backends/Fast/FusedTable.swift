import Kernels
import Operators
import Tensors

extension FastKernels {
  static let fused: [OperatorSpec.ID: FastKernel] = [
    "fused_conv": { a, t in
      var y: FastTensor
      let nhwc = a["layout"] == .string("nhwc")
      if nhwc {
        let (s, w) = (t[0].shape, t[1].shape)
        let r = Fast.conv2dNHWC(
          t[0].floats, n: s[0], h: s[1], w: s[2], c: s[3], weights: t[1].floats, o: w[0], kh: w[2], kw: w[3],
          strides: a.ints("strides"), pads: a.ints("pads"), dilations: a.ints("dilations"))
        y = FastTensor(floats: r.values, shape: [s[0], r.oh, r.ow, w[0]])
      } else {
        var convAttrs = Attributes()
        for k in ["strides", "pads", "dilations", "group"] { convAttrs[k] = a[k] }
        y = table[t[0].shape.count == 3 ? "conv1d" : "conv2d"]!(convAttrs, [t[0], t[1]])[0]
      }
      addBias(&y, t[2].floats, channelAxis: nhwc ? 3 : 1)
      return [activate(y, a)]
    },
    "fused_matmul": { a, t in
      var y = table["matmul"]!(Attributes(), [t[0], t[1]])[0]
      addBias(&y, t[2].floats, channelAxis: y.shape.count - 1)
      return [activate(y, a)]
    },
    "fused_gemm": { a, t in
      var inner = a
      inner["activation"] = nil
      return [activate(table["gemm"]!(inner, t)[0], a)]
    },
    "elementwise_chain": { a, t in
      guard case .string(let text) = a["chain"], let steps = FusedOperators.parseChain(text) else { return t }
      return [applyChain(t[0], steps)]
    },
  ]

  /// Adds `bias[c]` along `channelAxis`, in place, in float32.
  static func addBias(_ y: inout FastTensor, _ bias: [Float], channelAxis: Int) {
    let shape = y.shape
    let inner = shape[(channelAxis + 1)...].reduce(1, *)
    let channels = shape[channelAxis]
    y.floats.withUnsafeMutableBufferPointer { p in
      var i = 0
      while i < p.count {
        for c in 0..<channels {
          let b = bias[c]
          for k in 0..<inner { p[i + k] += b }
          i += inner
        }
      }
    }
  }

  static func activate(_ y: FastTensor, _ a: Attributes) -> FastTensor {
    guard let (id, attrs) = FusedOperators.activation(a), let k = table[id] else { return y }
    return k(attrs, [y])[0]
  }

  /// Applies the steps block by block (4096 elements), so each block stays in cache across steps.
  static func applyChain(_ x: FastTensor, _ steps: [(String, Attributes)]) -> FastTensor {
    let kernels = steps.map { (table[$0.0]!, $0.1) }
    let block = 4096
    var out = FastTensor(floats: [Float](repeating: 0, count: x.count), shape: x.shape)
    var start = 0
    while start < x.count {
      let end = Swift.min(start + block, x.count)
      var piece = FastTensor(floats: Array(x.floats[start..<end]), shape: [end - start])
      for (k, attrs) in kernels { piece = k(attrs, [piece])[0] }
      out.floats.replaceSubrange(start..<end, with: piece.floats)
      start = end
    }
    return out
  }
}
