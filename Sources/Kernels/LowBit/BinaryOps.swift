import Tensors

/// Tensor-level binary-network operators over `Binary`'s conventions (sign with sign(0) = +1, bit 1
/// means -1, 32-bit words channel-innermost, groups packed separately).
///
/// Packed tensors are i32 tensors whose elements are the words' bit patterns
/// (`Int32(bitPattern:)`). A consumer reads only the bits of real channels: `optimized` kernels
/// mask the tail word of every group (bits at and above `Cg % 32`) before the XOR-popcount, so
/// stray tail bits (from a hand-written or imported model) cannot pollute the count, and the
/// reference never reads them.
public enum BinaryOps {
  /// How activations or latent weights become ±1 before packing.
  public enum Method: String, Sendable, CaseIterable {
    /// Larq sign: -1 if x < 0 else +1 (sign(0) = sign(-0.0) = sign(NaN) = +1).
    case sign
    /// BiPer square wave: sign(sin(omega * x)) with the same sign rule.
    case biper
  }

  static func words(_ t: Tensor) -> [UInt32] {
    t.storage.map { UInt32(bitPattern: Int32(truncatingIfNeeded: Int64($0))) }
  }

  static func tensor(_ w: [UInt32], shape: [Int]) -> Tensor {
    Tensor(dtype: .i32, shape: shape, storage: w.map { Double(Int32(bitPattern: $0)) })
  }

  /// Clears the tail bits of every group's last word: `[outer, groups, words(cg)]`.
  static func masked(_ w: [UInt32], channelsPerGroup cg: Int) -> [UInt32] {
    let tail = cg % Binary.wordBits
    guard tail != 0 else { return w }
    let per = Binary.words(cg)
    let mask: UInt32 = (1 << UInt32(tail)) &- 1
    var out = w
    var i = per - 1
    while i < out.count {
      out[i] &= mask
      i += per
    }
    return out
  }

  /// Packs the last dimension of `x` (`[..., C]`, C divisible by `groups`) into
  /// `[..., groups * words(C / groups)]` after binarizing by `method`.
  public static func pack(_ x: Tensor, method: Method, omega: Double, groups: Int) -> Tensor {
    let c = x.shape.last ?? 1
    let values = method == .sign ? x.storage : x.storage.map { Binary.biper($0, omega: omega) }
    let packed = Binary.pack(values, channels: c / groups, groups: groups)
    return tensor(packed, shape: Array(x.shape.dropLast()) + [groups * Binary.words(c / groups)])
  }

  /// Binary conv2d dot products `[N, OH, OW, O]` (NHWC): x `[N, H, W, G*words(Cg)]` packed, w
  /// `[O, KH, KW, words(Cg)]` packed; padding `.one` or `.zero` (see `Binary.Padding`).
  public static func conv2dDots(
    _ x: Tensor, _ w: Tensor, channels: Int, strides: [Int], pads: [Int], dilations: [Int], group: Int,
    padding: Binary.Padding, optimized: Bool
  ) -> (dots: [Int32], shape: Binary.Conv2DShape) {
    let shape = Binary.Conv2DShape(
      n: x.shape[0], h: x.shape[1], w: x.shape[2], c: channels, o: w.shape[0], kh: w.shape[1], kw: w.shape[2],
      strideH: strides[0], strideW: strides[1], padTop: pads[0], padLeft: pads[1], padBottom: pads[2],
      padRight: pads[3], dilationH: dilations[0], dilationW: dilations[1], groups: group, padding: padding)
    let cg = channels / group
    if optimized {
      return (
        Binary.Optimized.conv2d(
          input: masked(words(x), channelsPerGroup: cg), filter: masked(words(w), channelsPerGroup: cg),
          shape: shape), shape
      )
    }
    return (Binary.Reference.conv2d(input: words(x), filter: words(w), shape: shape), shape)
  }

  /// Binary conv2d with a float or int8 output transform: `y = dot * multiplier[o] + bias[o]`
  /// (float64, multiply then add; the caller rounds to f32), or int8 = saturate(round half away(y)).
  public static func conv2d(
    _ x: Tensor, _ w: Tensor, multiplier: Tensor, bias: Tensor, channels: Int, strides: [Int], pads: [Int],
    dilations: [Int], group: Int, padding: Binary.Padding, output: DType, optimized: Bool
  ) -> Tensor {
    let (dots, s) = conv2dDots(
      x, w, channels: channels, strides: strides, pads: pads, dilations: dilations, group: group,
      padding: padding, optimized: optimized)
    let t = transform(output, multiplier: multiplier.storage, bias: bias.storage)
    return Tensor(
      dtype: output, shape: [s.n, s.outH, s.outW, s.o], storage: Binary.transform(dots, channels: s.o, t))
  }

  /// Binary conv2d with a bitpacked threshold output: channel o is -1 (bit 1) iff dot < threshold[o];
  /// the result is packed over O: `[N, OH, OW, words(O)]`.
  public static func conv2dThreshold(
    _ x: Tensor, _ w: Tensor, threshold: Tensor, channels: Int, strides: [Int], pads: [Int],
    dilations: [Int], group: Int, padding: Binary.Padding, optimized: Bool
  ) -> Tensor {
    let (dots, s) = conv2dDots(
      x, w, channels: channels, strides: strides, pads: pads, dilations: dilations, group: group,
      padding: padding, optimized: optimized)
    let signs = Binary.transform(
      dots, channels: s.o, .bitpacked(threshold: threshold.storage.map { Int32($0) }))
    return tensor(Binary.pack(signs, channels: s.o), shape: [s.n, s.outH, s.outW, Binary.words(s.o)])
  }

  /// Binary dense: x `[N, words(C)]`, w `[O, words(C)]` -> `[N, O]` with a float or int8 transform.
  public static func dense(
    _ x: Tensor, _ w: Tensor, multiplier: Tensor, bias: Tensor, channels: Int, output: DType, optimized: Bool
  ) -> Tensor {
    let n = x.shape[0]
    let o = w.shape[0]
    let dots =
      optimized
      ? Binary.Optimized.dense(
        input: masked(words(x), channelsPerGroup: channels),
        filter: masked(words(w), channelsPerGroup: channels),
        n: n, c: channels, o: o)
      : Binary.Reference.dense(input: words(x), filter: words(w), n: n, c: channels, o: o)
    let t = transform(output, multiplier: multiplier.storage, bias: bias.storage)
    return Tensor(dtype: output, shape: [n, o], storage: Binary.transform(dots, channels: o, t))
  }

  static func transform(_ output: DType, multiplier: [Double], bias: [Double]) -> Binary.OutputTransform {
    output == .i8
      ? .int8(multiplier: multiplier, bias: bias, clampMin: .min, clampMax: .max)
      : .float(multiplier: multiplier, bias: bias, clampMin: .min, clampMax: .max)
  }
}
