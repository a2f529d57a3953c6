#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Binary (±1) neural-network kernels with Larq Compute Engine (LCE) conventions.
///
/// Conventions (`semantics.md` §2), shared by every function here:
/// - **Sign** (Larq `larq.math.sign`): `−1` if `x < 0`, else `+1`. Hence `sign(0) = sign(−0.0) = +1` and
///   `sign(NaN) = +1` (unlike PyTorch's three-valued `torch.sign`).
/// - **Bits** (LCE): bit `1` ↔ `−1`, bit `0` ↔ `+1`. Values are packed into 32-bit words (`UInt32`),
///   channel-innermost: `words(c) = (c + 31) / 32` words per pixel, channel `j·32 + i` in bit `i`
///   (`1 << i`) of word `j`. Tail bits of the last word are written as `0` (↔ `+1`) by `pack` and are
///   *ignored* (masked) by every kernel, so they never count.
/// - **Groups**: with `G` groups each group's `Cg = C / G` channels are packed separately, so a pixel is
///   `G · words(Cg)` words (`[N, H, W, G, words(Cg)]`); `G = 1` is the plain layout.
/// - **Accumulator**: `dot = Σ_taps Σ_c a·w ∈ [−K, K]`, `K = kh·kw·Cg`; for in-image taps it equals
///   `K_valid − 2·popcount(a XOR w)`. Out-of-image taps follow `Padding`.
/// - **Outputs** are transformed per output channel by `OutputTransform`.
public enum Binary: Sendable {
  /// Bits per packed word: 32 (`UInt32`), LCE's `TBitpacked`.
  public static let wordBits = 32

  /// Number of 32-bit words holding `channels` packed values: `(channels + 31) / 32`.
  ///
  /// - Precondition: `channels >= 0`.
  public static func words(_ channels: Int) -> Int {
    precondition(channels >= 0, "Binary.words: negative channel count \(channels)")
    return (channels + wordBits - 1) / wordBits
  }

  /// Larq sign: `−1` if `x < 0`, else `+1`.
  ///
  /// Exactly: `sign(0) = sign(−0.0) = +1`, `sign(NaN) = +1` (NaN compares false), `sign(+inf) = +1`,
  /// `sign(−inf) = −1`, `sign(−5e-324) = −1`.
  public static func sign(_ x: Double) -> Double { x < 0 ? -1 : 1 }

  /// BiPer weight binarization `sign(sin(omega · w))` with the Larq sign rule.
  ///
  /// `omega · w` is rounded once in Double and `sin` is the platform libm's Double `sin`. Because
  /// `sin(0) = 0` (also `sin(−0.0) = −0.0`) the result there is `+1`; a NaN or infinite product gives
  /// `sin = NaN`, hence `+1`. This differs from BiPer's PyTorch code, whose `torch.sign` maps exact zeros
  /// to `0` and which computes in float32.
  public static func biper(_ w: Double, omega: Double) -> Double { sign(sin(omega * w)) }

  // MARK: - Packing

  /// Packs `±1`-valued (or any float) values into words, one bit per value: bit `1` iff `x < 0`.
  ///
  /// `values` is row-major `[outer, groups, channels]` (`channels` = `Cg`, the channels of one group); the
  /// result is `[outer, groups, words(channels)]`, value `i` of a group in bit `i % 32` of word `i / 32`.
  /// Unused tail bits are `0`. `−0.0` and NaN pack to bit `0` (`+1`), as in LCE's reference packer.
  /// Example: a conv input `[n, h, w, c]` with `g` groups is `pack(x, channels: c / g, groups: g)`.
  ///
  /// - Parameters:
  ///   - values: `outer · groups · channels` values.
  ///   - channels: channels per group `Cg` (all channels when `groups == 1`).
  ///   - groups: number of groups `G`, each packed into its own words.
  /// - Precondition: `channels >= 1`, `groups >= 1`, `values.count % (groups · channels) == 0`.
  public static func pack(_ values: [Double], channels: Int, groups: Int = 1) -> [UInt32] {
    precondition(channels >= 1 && groups >= 1, "Binary.pack: channels and groups must be positive")
    let row = groups * channels
    precondition(values.count % row == 0, "Binary.pack: \(values.count) values are not rows of \(row)")
    let wc = words(channels)
    let outer = values.count / row
    var out = [UInt32](repeating: 0, count: outer * groups * wc)
    for r in 0..<outer {
      for g in 0..<groups {
        let src = (r * groups + g) * channels
        let dst = (r * groups + g) * wc
        for i in 0..<channels where values[src + i] < 0 {
          out[dst + i / wordBits] |= UInt32(1) << UInt32(i % wordBits)
        }
      }
    }
    return out
  }

  /// Unpacks words into `±1` values: bit `1` → `−1`, bit `0` → `+1`; the inverse layout of `pack`.
  ///
  /// `words` is `[outer, groups, words(channels)]` (`channels` per group); the result is
  /// `[outer, groups, channels]`. Tail bits beyond `channels` in each group's last word are ignored.
  ///
  /// - Precondition: `channels >= 1`, `groups >= 1`, `outer >= 0`,
  ///   `words.count == outer · groups · words(channels)`.
  public static func unpack(_ words: [UInt32], channels: Int, groups: Int = 1, outer: Int) -> [Double] {
    unpackSigns(words, channels: channels, groups: groups, outer: outer).map { Double($0) }
  }

  /// `unpack` as `Int8` values `±1`.
  static func unpackSigns(_ words: [UInt32], channels: Int, groups: Int, outer: Int) -> [Int8] {
    precondition(channels >= 1 && groups >= 1, "Binary.unpack: channels and groups must be positive")
    let wc = Binary.words(channels)
    precondition(
      outer >= 0 && words.count == outer * groups * wc,
      "Binary.unpack: expected \(outer)·\(groups)·\(wc) words, got \(words.count)")
    var out = [Int8](repeating: 1, count: outer * groups * channels)
    for r in 0..<outer * groups {
      for i in 0..<channels where (words[r * wc + i / wordBits] >> UInt32(i % wordBits)) & 1 == 1 {
        out[r * channels + i] = -1
      }
    }
    return out
  }

  // MARK: - Convolution parameters

  /// Value of out-of-image taps of a binary convolution.
  public enum Padding: String, Sendable, Codable, CaseIterable {
    /// LCE's bitpacked default (`pad_value = 1`): an out-of-image tap reads activation `+1` (bits 0), so it
    /// contributes `Σ_c w` to the dot.
    case one
    /// `pad_value = 0`: an out-of-image tap contributes `0`, which is what a float convolution of the `±1`
    /// values with zero padding computes (BiPer / PyTorch `F.conv2d`).
    case zero
  }

  /// Per-output-channel transform of the int32 dots (LCE `output_transform.h`, in terms of the ±1 dot).
  public enum OutputTransform: Hashable, Sendable {
    /// `y = Double(clamp(dot, clampMin, clampMax)) * multiplier[o] + bias[o]`, computed as a Double
    /// multiply then a Double add (two roundings, no FMA). `clamp(x, lo, hi) = min(max(x, lo), hi)`.
    case float(multiplier: [Double], bias: [Double], clampMin: Int32, clampMax: Int32)
    /// The `float` value `y`, rounded to the nearest integer with ties away from zero (`2.5 → 3`,
    /// `−2.5 → −3`; NaN → 0) and saturated to `−128...127` (`±inf` saturate).
    case int8(multiplier: [Double], bias: [Double], clampMin: Int32, clampMax: Int32)
    /// `−1` (bit 1) iff `dot < threshold[o]`, else `+1` (bit 0); `dot == threshold[o]` gives `+1`.
    case bitpacked(threshold: [Int32])
  }

  /// Shape and parameters of a binary 2-D convolution (NHWC activations, OHWI filters).
  ///
  /// Input: `[n, h, w, groups, words(c / groups)]` words (`c` unpacked channels). Filter:
  /// `[o, kh, kw, words(c / groups)]` words, each output channel packed over its `c / groups` input
  /// channels; output channel `oc` belongs to group `oc / (o / groups)`. Output: dots `[n, outH, outW, o]`.
  /// Tap `(ky, kx)` of output pixel `(oy, ox)` reads input pixel
  /// `(oy·strideH − padTop + ky·dilationH, ox·strideW − padLeft + kx·dilationW)`; taps outside
  /// `[0, h) × [0, w)` follow `padding`.
  public struct Conv2DShape: Hashable, Sendable {
    /// Batch size (`>= 0`).
    public var n: Int
    /// Input height (`>= 1`).
    public var h: Int
    /// Input width (`>= 1`).
    public var w: Int
    /// Unpacked input channels over all groups (`>= 1`, a multiple of `groups`).
    public var c: Int
    /// Output channels (`>= 1`, a multiple of `groups`).
    public var o: Int
    /// Kernel height (`>= 1`).
    public var kh: Int
    /// Kernel width (`>= 1`).
    public var kw: Int
    /// Vertical stride (`>= 1`).
    public var strideH: Int
    /// Horizontal stride (`>= 1`).
    public var strideW: Int
    /// Rows of padding above the image (`>= 0`).
    public var padTop: Int
    /// Columns of padding left of the image (`>= 0`).
    public var padLeft: Int
    /// Rows of padding below the image (`>= 0`).
    public var padBottom: Int
    /// Columns of padding right of the image (`>= 0`).
    public var padRight: Int
    /// Vertical dilation (`>= 1`).
    public var dilationH: Int
    /// Horizontal dilation (`>= 1`).
    public var dilationW: Int
    /// Number of groups `G` (`>= 1`).
    public var groups: Int
    /// Value of out-of-image taps.
    public var padding: Padding

    /// Memberwise initializer; strides and dilations default to 1, pads to 0, one group, one-padding.
    public init(
      n: Int, h: Int, w: Int, c: Int, o: Int, kh: Int, kw: Int, strideH: Int = 1, strideW: Int = 1,
      padTop: Int = 0, padLeft: Int = 0, padBottom: Int = 0, padRight: Int = 0, dilationH: Int = 1,
      dilationW: Int = 1, groups: Int = 1, padding: Padding = .one
    ) {
      self.n = n
      self.h = h
      self.w = w
      self.c = c
      self.o = o
      self.kh = kh
      self.kw = kw
      self.strideH = strideH
      self.strideW = strideW
      self.padTop = padTop
      self.padLeft = padLeft
      self.padBottom = padBottom
      self.padRight = padRight
      self.dilationH = dilationH
      self.dilationW = dilationW
      self.groups = groups
      self.padding = padding
    }

    /// Output height `⌊(h + padTop + padBottom − dilationH·(kh − 1) − 1) / strideH⌋ + 1`, or 0 when the
    /// padded input is shorter than the dilated kernel.
    public var outH: Int {
      Conv2DShape.outSize(h + padTop + padBottom, kh, dilationH, strideH)
    }

    /// Output width `⌊(w + padLeft + padRight − dilationW·(kw − 1) − 1) / strideW⌋ + 1`, or 0 when the
    /// padded input is narrower than the dilated kernel.
    public var outW: Int {
      Conv2DShape.outSize(w + padLeft + padRight, kw, dilationW, strideW)
    }

    static func outSize(_ padded: Int, _ k: Int, _ d: Int, _ s: Int) -> Int {
      let span = padded - d * (k - 1) - 1
      return span < 0 ? 0 : span / s + 1
    }

    /// Channels per group `c / groups`.
    var cg: Int { c / groups }

    /// Checks the parameters and the packed operand sizes (`input`, `filter` word counts).
    func validate(input: Int, filter: Int, _ kernel: String) {
      precondition(n >= 0 && h >= 1 && w >= 1 && c >= 1 && o >= 1, "\(kernel): bad sizes in \(self)")
      precondition(kh >= 1 && kw >= 1 && strideH >= 1 && strideW >= 1, "\(kernel): bad kernel/stride")
      precondition(dilationH >= 1 && dilationW >= 1, "\(kernel): dilation must be >= 1")
      precondition(min(padTop, padLeft, padBottom, padRight) >= 0, "\(kernel): pads must be >= 0")
      precondition(groups >= 1 && c % groups == 0 && o % groups == 0, "\(kernel): groups must divide c and o")
      precondition(kh * kw * cg <= Int(Int32.max), "\(kernel): accumulator range exceeds Int32")
      let wc = Binary.words(cg)
      precondition(
        input == n * h * w * groups * wc,
        "\(kernel): input has \(input) words, expected \(n * h * w * groups * wc)")
      precondition(
        filter == o * kh * kw * wc, "\(kernel): filter has \(filter) words, expected \(o * kh * kw * wc)")
    }
  }

  // MARK: - Output transform

  /// Applies `t` to int32 dots `[rows, o]` (channel `o` innermost), returning one Double per dot.
  ///
  /// `.float`: the `y` values; `.int8`: the saturated integers (as Doubles); `.bitpacked`: the `±1` values,
  /// unpacked — a caller wanting bits packs them with `pack(_:channels: o)`.
  ///
  /// - Precondition: `o >= 1`, `dots.count % o == 0`, every parameter array has `o` entries,
  ///   `clampMin <= clampMax`.
  public static func transform(_ dots: [Int32], channels o: Int, _ t: OutputTransform) -> [Double] {
    precondition(o >= 1 && dots.count % o == 0, "Binary.transform: \(dots.count) dots are not rows of \(o)")
    switch t {
    case .float(let m, let b, let lo, let hi):
      return affine(dots, o, m, b, lo, hi)
    case .int8(let m, let b, let lo, let hi):
      return affine(dots, o, m, b, lo, hi).map { y in
        if y.isNaN { return 0 }
        return min(max(y.rounded(.toNearestOrAwayFromZero), -128), 127)
      }
    case .bitpacked(let threshold):
      precondition(threshold.count == o, "Binary.transform: \(threshold.count) thresholds for \(o) channels")
      return dots.indices.map { dots[$0] < threshold[$0 % o] ? -1 : 1 }
    }
  }

  /// `Double(clamp(dot)) * m[o] + b[o]`, multiply and add rounded separately.
  static func affine(
    _ dots: [Int32], _ o: Int, _ m: [Double], _ b: [Double], _ lo: Int32, _ hi: Int32
  ) -> [Double] {
    precondition(m.count == o && b.count == o, "Binary.transform: multiplier/bias need \(o) entries")
    precondition(lo <= hi, "Binary.transform: clampMin \(lo) > clampMax \(hi)")
    return dots.indices.map { i in
      let product = Double(min(max(dots[i], lo), hi)) * m[i % o]
      return product + b[i % o]
    }
  }
}

// MARK: - Reference kernels

extension Binary {
  /// Obviously correct binary kernels: unpack to `±1` integers and loop over taps and channels.
  public enum Reference: Sendable {
    /// Binary 2-D convolution; returns dots `[n, outH, outW, o]` (NHWC), see `Conv2DShape` for layouts.
    ///
    /// `dot[b, y, x, oc] = Σ_{ky, kx} Σ_{ci < cg} a(b, iy, ix, g·cg + ci) · f(oc, ky, kx, ci)` with
    /// `g = oc / (o / groups)`; an out-of-image tap reads `a = +1` for `.one` and contributes nothing for
    /// `.zero`. Tail bits are ignored. Exact integer arithmetic.
    ///
    /// - Precondition: the shape is valid and the operands have the sizes `Conv2DShape` describes.
    public static func conv2d(input: [UInt32], filter: [UInt32], shape s: Conv2DShape) -> [Int32] {
      s.validate(input: input.count, filter: filter.count, "Binary.Reference.conv2d")
      let cg = s.cg
      let og = s.o / s.groups
      let a = Binary.unpackSigns(input, channels: cg, groups: s.groups, outer: s.n * s.h * s.w)
      let f = Binary.unpackSigns(filter, channels: cg, groups: 1, outer: s.o * s.kh * s.kw)
      let (outH, outW) = (s.outH, s.outW)
      var out = [Int32](repeating: 0, count: s.n * outH * outW * s.o)
      for b in 0..<s.n {
        for y in 0..<outH {
          for x in 0..<outW {
            for oc in 0..<s.o {
              let g = oc / og
              var dot = 0
              for ky in 0..<s.kh {
                for kx in 0..<s.kw {
                  let iy = y * s.strideH - s.padTop + ky * s.dilationH
                  let ix = x * s.strideW - s.padLeft + kx * s.dilationW
                  let inside = iy >= 0 && iy < s.h && ix >= 0 && ix < s.w
                  for ci in 0..<cg {
                    let wv = Int(f[((oc * s.kh + ky) * s.kw + kx) * cg + ci])
                    if inside {
                      dot += Int(a[((b * s.h + iy) * s.w + ix) * s.c + g * cg + ci]) * wv
                    } else if s.padding == .one {
                      dot += wv  // activation +1
                    }
                  }
                }
              }
              out[((b * outH + y) * outW + x) * s.o + oc] = Int32(dot)
            }
          }
        }
      }
      return out
    }

    /// Binary fully-connected layer: input `[n, words(c)]`, filter `[o, words(c)]`, returns dots `[n, o]`,
    /// `dot[i, j] = Σ_{k < c} a(i, k) · f(j, k)`. Tail bits are ignored.
    ///
    /// - Precondition: `n >= 0`, `c >= 1`, `o >= 1`, operand sizes as stated.
    public static func dense(input: [UInt32], filter: [UInt32], n: Int, c: Int, o: Int) -> [Int32] {
      Binary.validateDense(
        input: input.count, filter: filter.count, n: n, c: c, o: o, "Binary.Reference.dense")
      let a = Binary.unpackSigns(input, channels: c, groups: 1, outer: n)
      let f = Binary.unpackSigns(filter, channels: c, groups: 1, outer: o)
      var out = [Int32](repeating: 0, count: n * o)
      for i in 0..<n {
        for j in 0..<o {
          var dot = 0
          for k in 0..<c { dot += Int(a[i * c + k]) * Int(f[j * c + k]) }
          out[i * o + j] = Int32(dot)
        }
      }
      return out
    }
  }

  static func validateDense(input: Int, filter: Int, n: Int, c: Int, o: Int, _ kernel: String) {
    precondition(
      n >= 0 && c >= 1 && o >= 1 && c <= Int(Int32.max), "\(kernel): bad sizes n \(n) c \(c) o \(o)")
    let wc = words(c)
    precondition(input == n * wc, "\(kernel): input has \(input) words, expected \(n * wc)")
    precondition(filter == o * wc, "\(kernel): filter has \(filter) words, expected \(o * wc)")
  }
}
