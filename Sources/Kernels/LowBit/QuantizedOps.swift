import Tensors

/// Tensor-level int8/uint8 operators: the arithmetic of the quantized operator family.
///
/// Integer tensors hold their integers exactly in `Tensor.storage`. Quantization parameters are
/// tensors too, as in ONNX: a scale (f32, scalar or one per channel) and a zero point of the
/// quantized dtype (same shape as the scale). A producer and its consumers share the same
/// parameter constants, so "a tensor's scale and zero point" is a property of the graph.
///
/// Every operator that changes scale requantizes an exact int32 accumulator with the selected
/// `RequantVariant` (see `Quant.Requantizer` for the formulas). `optimized` selects the blocked
/// int16 GEMM (`Quant.Optimized`) instead of the plain loops (`Quant.Reference`) for the
/// accumulator; the requantization is the same code, so the two paths must agree bit for bit.
///
/// Invalid parameters (only in hand-edited or reduced models; generated scales are positive): a
/// real multiplier that is not finite and non-negative, or a quantization scale that is not finite
/// and positive, maps every element to the output zero point (saturated), and a NaN result of the
/// float64 QLinearAdd formula does too. Nothing traps.
public enum QuantizedOps {
  /// The saturation range of a quantized dtype: i8 `-128...127`, u8 `0...255`, i32 the int32 range.
  public static func bounds(_ dtype: DType) -> (min: Int32, max: Int32) {
    switch dtype {
    case .u8: return (0, 255)
    case .i8: return (-128, 127)
    default: return (Int32.min, Int32.max)
    }
  }

  /// The weight range for `bits` (8: symmetric `-127...127` as TFLite; 4: `-8...7`).
  public static func weightBounds(bits: Int) -> (min: Int32, max: Int32) {
    bits == 4 ? (-8, 7) : (-127, 127)
  }

  /// Integer storage as Int32 (values are integers already; out-of-range values wrap).
  static func ints(_ t: Tensor) -> [Int32] { t.storage.map { Int32(truncatingIfNeeded: Int64($0)) } }

  /// A scale/zero-point pair expanded to `count` channels (a scalar repeats).
  static func channels(_ scale: Tensor, _ zero: Tensor, count: Int) -> (scale: [Double], zero: [Int32]) {
    let s = scale.storage.count == 1 ? [Double](repeating: scale.storage[0], count: count) : scale.storage
    let z = zero.storage.count == 1 ? [Int32](repeating: ints(zero)[0], count: count) : ints(zero)
    return (s, z)
  }

  /// Requantizes accumulators laid out `[outer, channels, inner]` with one multiplier per channel.
  static func requantize(
    _ acc: [Int32], channels: Int, inner: Int, multipliers: [Double], zero: Int32, dtype: DType,
    variant: RequantVariant
  ) -> [Double] {
    let (lo, hi) = bounds(dtype)
    let rq = multipliers.map {
      Quant.Requantizer(real: usable($0), zeroPoint: zero, min: lo, max: hi, variant: variant)
    }
    var out = [Double](repeating: 0, count: acc.count)
    for i in 0..<acc.count { out[i] = Double(rq[(i / inner) % channels](acc[i])) }
    return out
  }

  /// A real multiplier as the requantizers accept it: invalid ones (not finite, negative) become 0,
  /// which requantizes everything to the zero point.
  static func usable(_ real: Double) -> Double { real.isFinite && real >= 0 ? real : 0 }

  // MARK: - Quantize / dequantize

  /// Channels and the elements per channel step of a per-axis parameter (1 and 1 for a scalar).
  static func layout(_ t: Tensor, scale: Tensor, axis: Int) -> (channels: Int, inner: Int) {
    guard scale.storage.count != 1 else { return (1, 1) }
    let ax = axis < 0 ? axis + t.rank : axis
    return (t.shape[ax], t.shape[(ax + 1)...].reduce(1, *))
  }

  /// ONNX QuantizeLinear: `q = saturate(round(x / scale) + zero_point)`, per tensor or along
  /// `axis`; rounding per `variant` (`Quant.quantize`). NaN quantizes to the zero point.
  public static func quantize(_ x: Tensor, scale: Tensor, zero: Tensor, axis: Int, variant: RequantVariant)
    -> Tensor
  {
    let (lo, hi) = bounds(zero.dtype)
    let (c, inner) = layout(x, scale: scale, axis: axis)
    let (s, z) = channels(scale, zero, count: c)
    var out = [Double](repeating: 0, count: x.count)
    for i in 0..<x.count {
      let k = (i / inner) % c
      guard s[k].isFinite && s[k] > 0 else {
        out[i] = Double(Swift.min(Swift.max(z[k], lo), hi))
        continue
      }
      out[i] = Double(
        Quant.quantize(x.storage[i], scale: s[k], zeroPoint: z[k], min: lo, max: hi, variant: variant))
    }
    return Tensor(dtype: zero.dtype, shape: x.shape, storage: out)
  }

  /// ONNX DequantizeLinear: `x = (q - zero_point) * scale` in float64 (the caller rounds to f32).
  public static func dequantize(_ q: Tensor, scale: Tensor, zero: Tensor, axis: Int) -> Tensor {
    let (c, inner) = layout(q, scale: scale, axis: axis)
    let (s, z) = channels(scale, zero, count: c)
    var out = [Double](repeating: 0, count: q.count)
    for i in 0..<q.count {
      let k = (i / inner) % c
      out[i] = (q.storage[i] - Double(z[k])) * s[k]
    }
    return Tensor(dtype: .f32, shape: q.shape, storage: out)
  }

  // MARK: - Convolution and matrix products

  /// The weights as used by the kernels: saturated into the `bits` range (int4 weights stored in an
  /// i8 tensor are clamped to `-8...7`, 8-bit ones to `-127...127`).
  static func weights(_ w: Tensor, bits: Int) -> [Int32] {
    let (lo, hi) = weightBounds(bits: bits)
    return ints(w).map { Swift.min(Swift.max($0, lo), hi) }
  }

  /// ONNX QLinearConv (2-D, NCHW) with an int32 bias: `acc[o] = Σ (x - x_zp)(w - w_zp[o]) + bias[o]`
  /// (padding taps read the input zero point, i.e. real 0), then requantized with the real
  /// multiplier `x_scale * w_scale[o] / y_scale` to `y_zp`'s dtype. With `optimized` and
  /// `weightBits` 4, the (clamped) weights are packed two per byte and the packed-weight kernel runs.
  public static func conv2d(
    _ x: Tensor, xScale: Tensor, xZero: Tensor, _ w: Tensor, wScale: Tensor, wZero: Tensor,
    yScale: Tensor, yZero: Tensor, bias: Tensor, strides: [Int], pads: [Int], dilations: [Int], group: Int,
    variant: RequantVariant, weightBits: Int, optimized: Bool
  ) -> Tensor {
    let shape = QConv2DShape(
      n: x.shape[0], c: x.shape[1], h: x.shape[2], w: x.shape[3], o: w.shape[0], kh: w.shape[2],
      kw: w.shape[3],
      strideH: strides[0], strideW: strides[1], padTop: pads[0], padLeft: pads[1], padBottom: pads[2],
      padRight: pads[3], dilationH: dilations[0], dilationW: dilations[1], groups: group)
    let o = w.shape[0]
    let (ws, wz) = channels(wScale, wZero, count: o)
    let xin = ints(x)
    let xz = ints(xZero)[0]
    let wq = weights(w, bits: weightBits)
    let b = ints(bias)
    let acc: [Int32]
    if !optimized {
      acc = Quant.Reference.conv2d(
        input: xin, zeroPointInput: xz, weight: wq, zeroPointWeight: wz, bias: b, shape: shape)
    } else if weightBits == 4 {
      // int4 weights are packed two per byte (`Quant.packInt4`, low nibble first) and the kernel
      // reads the nibbles back, as a deployment of 4-bit weights does.
      acc = Quant.Optimized.conv2d(
        input: xin, zeroPointInput: xz, int4Weight: Quant.packInt4(wq), zeroPointWeight: wz, bias: b,
        shape: shape)
    } else {
      acc = Quant.Optimized.conv2d(
        input: xin, zeroPointInput: xz, weight: wq, zeroPointWeight: wz, bias: b, shape: shape)
    }
    let multipliers = ws.map { xScale.storage[0] * $0 / yScale.storage[0] }
    let out = requantize(
      acc, channels: o, inner: shape.outH * shape.outW, multipliers: multipliers, zero: ints(yZero)[0],
      dtype: yZero.dtype, variant: variant)
    return Tensor(dtype: yZero.dtype, shape: [shape.n, o, shape.outH, shape.outW], storage: out)
  }

  /// Quantized `[batch..., M, K] x [K, N]` (the weight `b` may be stored transposed `[N, K]`) with
  /// per-column weight parameters and an optional int32 bias `[N]`, requantized with
  /// `a_scale * b_scale[n] / y_scale`. The QLinearMatMul and QGemm kernels.
  public static func matmul(
    _ a: Tensor, aScale: Tensor, aZero: Tensor, _ b: Tensor, bScale: Tensor, bZero: Tensor,
    bias: Tensor?, yScale: Tensor, yZero: Tensor, transB: Bool, variant: RequantVariant, optimized: Bool
  ) -> Tensor {
    let k = a.shape[a.rank - 1]
    let m = a.count / k
    let n = transB ? b.shape[0] : b.shape[1]
    var bq = weights(b, bits: 8)
    if transB {
      var t = [Int32](repeating: 0, count: bq.count)
      for i in 0..<n { for j in 0..<k { t[j * n + i] = bq[i * k + j] } }
      bq = t
    }
    let (bs, bz) = channels(bScale, bZero, count: n)
    let biasInts = bias.map(ints)
    let acc =
      optimized
      ? Quant.Optimized.gemm(
        a: ints(a), zeroPointA: ints(aZero)[0], b: bq, zeroPointB: bz, bias: biasInts, m: m, k: k, n: n)
      : Quant.Reference.gemm(
        a: ints(a), zeroPointA: ints(aZero)[0], b: bq, zeroPointB: bz, bias: biasInts, m: m, k: k, n: n)
    let multipliers = bs.map { aScale.storage[0] * $0 / yScale.storage[0] }
    let out = requantize(
      acc, channels: n, inner: 1, multipliers: multipliers, zero: ints(yZero)[0], dtype: yZero.dtype,
      variant: variant)
    return Tensor(dtype: yZero.dtype, shape: Array(a.shape.dropLast()) + [n], storage: out)
  }

  // MARK: - Elementwise

  /// QLinearAdd (com.microsoft): `y = saturate(round_half_even((sa(a - za) + sb(b - zb)) / sy) + zy)`
  /// in float64 with NumPy broadcasting. (TFLite's fixed-point add is a different scheme and is not
  /// modelled.)
  public static func add(
    _ a: Tensor, aScale: Tensor, aZero: Tensor, _ b: Tensor, bScale: Tensor, bZero: Tensor, yScale: Tensor,
    yZero: Tensor
  ) -> Tensor {
    let (lo, hi) = bounds(yZero.dtype)
    let (sa, za, sb, zb) = (aScale.storage[0], aZero.storage[0], bScale.storage[0], bZero.storage[0])
    let (sy, zy) = (yScale.storage[0], yZero.storage[0])
    return Reference.broadcast(a, b, to: yZero.dtype) { x, y in
      let real = sa * (x - za) + sb * (y - zb)
      let q = (real / sy).rounded(.toNearestOrEven) + zy
      return q.isNaN
        ? Swift.min(Swift.max(zy, Double(lo)), Double(hi)) : Swift.min(Swift.max(q, Double(lo)), Double(hi))
    }
  }

  /// QLinearMul: the exact integer product `(a - za)(b - zb)` requantized with `sa * sb / sy` by
  /// `variant`, NumPy broadcasting.
  public static func mul(
    _ a: Tensor, aScale: Tensor, aZero: Tensor, _ b: Tensor, bScale: Tensor, bZero: Tensor, yScale: Tensor,
    yZero: Tensor, variant: RequantVariant
  ) -> Tensor {
    let (lo, hi) = bounds(yZero.dtype)
    let rq = Quant.Requantizer(
      real: usable(aScale.storage[0] * bScale.storage[0] / yScale.storage[0]),
      zeroPoint: Int32(yZero.storage[0]), min: lo, max: hi, variant: variant)
    let (za, zb) = (aZero.storage[0], bZero.storage[0])
    return Reference.broadcast(a, b, to: yZero.dtype) { x, y in
      Double(rq(Int32((x - za) * (y - zb))))
    }
  }

  /// Integer clip: `min(max(q, lo), hi)` with quantized bounds (int8 relu is `lo = zero point`).
  public static func clip(_ x: Tensor, low: Tensor, high: Tensor) -> Tensor {
    let (l, h) = (low.storage[0], high.storage[0])
    return Reference.map(x) { Swift.min(Swift.max($0, l), h) }
  }

  /// Quantized average pooling (2-D, NCHW, no dilation): `acc = Σ (q - x_zp)` over the window's
  /// real cells (padded cells are real 0), requantized with `x_scale / (y_scale * count)` where
  /// `count` is the kernel size if `countIncludePad` else the number of real cells.
  public static func avgPool2d(
    _ x: Tensor, xScale: Tensor, xZero: Tensor, yScale: Tensor, yZero: Tensor, kernel: [Int],
    strides: [Int], pads: [Int], countIncludePad: Bool, variant: RequantVariant
  ) -> Tensor {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let oh = (h + pads[0] + pads[2] - kernel[0]) / strides[0] + 1
    let ow = (w + pads[1] + pads[3] - kernel[1]) / strides[1] + 1
    let (lo, hi) = bounds(yZero.dtype)
    let xz = Int32(xZero.storage[0])
    let real = xScale.storage[0] / yScale.storage[0]
    var requantizers: [Int: Quant.Requantizer] = [:]
    func rq(_ count: Int) -> Quant.Requantizer {
      if let r = requantizers[count] { return r }
      let r = Quant.Requantizer(
        real: usable(real / Double(count)), zeroPoint: Int32(yZero.storage[0]), min: lo, max: hi,
        variant: variant)
      requantizers[count] = r
      return r
    }
    let q = ints(x)
    var out = [Double](repeating: 0, count: n * c * oh * ow)
    for plane in 0..<(n * c) {
      for i in 0..<oh {
        for j in 0..<ow {
          var acc: Int32 = 0
          var cells = 0
          for ki in 0..<kernel[0] {
            let y = i * strides[0] - pads[0] + ki
            guard y >= 0 && y < h else { continue }
            for kj in 0..<kernel[1] {
              let xx = j * strides[1] - pads[1] + kj
              guard xx >= 0 && xx < w else { continue }
              acc &+= q[(plane * h + y) * w + xx] &- xz
              cells += 1
            }
          }
          out[(plane * oh + i) * ow + j] = Double(rq(countIncludePad ? kernel[0] * kernel[1] : cells)(acc))
        }
      }
    }
    return Tensor(dtype: yZero.dtype, shape: [n, c, oh, ow], storage: out)
  }
}
