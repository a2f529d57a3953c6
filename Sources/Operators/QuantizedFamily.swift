import Kernels
import Symbolic
import Tensors

// Quantized int8/uint8 operators in ONNX form: quantization parameters are inputs (a f32 scale and
// a zero point of the quantized dtype, scalar or per channel), shared between a producer and its
// consumers. The arithmetic is `QuantizedOps` (Kernels); the requantization variant is the
// `requant` attribute.

/// Activations: int8 or uint8 (`Q` binds the tensor and its zero point).
private let activation = TypeConstraint("Q", [.i8, .u8])
/// Weights: int8, symmetric by default (TFLite), stored in i8 also when `weight_bits` is 4.
private let weight = TypeConstraint("W", [.i8])
private let scale = TypeConstraint(nil, [.f32])
private let int32 = TypeConstraint(nil, [.i32])

private let requant = AttributeSpec(
  "requant", .choice(RequantVariant.allCases.map(\.rawValue)), default: .string(RequantVariant.onnx.rawValue))

private func variant(_ a: Attributes) -> RequantVariant {
  RequantVariant(rawValue: a.string("requant")) ?? .onnx
}

/// Scales are positive and moderate, so real multipliers stay inside every variant's range.
private let scaleDomain = ValueDomain.within(0x1p-10, 1)

/// A zero point's domain: inside its dtype.
private func zeroDomain(_ d: DType) -> ValueDomain {
  d == .u8 ? .within(0, 255) : .within(-128, 127)
}

/// The values a quantized dtype holds.
private func saturation(_ d: DType) -> Interval {
  let (lo, hi) = QuantizedOps.bounds(d)
  return Interval(Double(lo), Double(hi))
}

/// A scalar parameter (rank 0) or a per-channel one whose length must equal `channels`.
private func perChannel(_ p: [Dim], _ channels: Dim) -> [Constraint] {
  p.isEmpty ? [] : [p[0] .== channels]
}

/// QuantizeLinear/DequantizeLinear: same shape out; a per-channel scale and zero point run along
/// `axis`.
private let perAxisRule: @Sendable (RuleContext) -> Rule? = { c in
  guard c.rank(1) <= 1, c.rank(2) == c.rank(1) else { return nil }
  let r = c.rank(0)
  let axis = c.concreteInt("axis")
  let ax = axis < 0 ? axis + r : axis
  guard ax >= 0, ax < r else { return nil }
  return Rule(requires: perChannel(c[1], c[0][ax]) + perChannel(c[2], c[0][ax]), outputs: [c[0]])
}

private let quantNote =
  " Integers are exact; each requantization rounds once or twice as its `requant` variant defines (Quant.Requantizer) and saturates to the output dtype (i8 -128...127, u8 0...255)."

extension OperatorSpec {
  public static let quantizedFamily: [OperatorSpec] = [
    OperatorSpec(
      id: "quantize_linear", family: .quantized,
      doc:
        "ONNX QuantizeLinear: q = saturate(round(x / scale) + zero_point), per tensor (scalar scale) or per channel along `axis`; x / scale in float64; round is half-to-even for requant onnx/xnnpack and half-away-from-zero for gemmlowp/single-rounding (TFLite's std::round); NaN gives the zero point, ±inf saturate.",
      inputs: [
        InputSpec("x", ranks: .range(1...6), .variable("F", [.f32])),
        InputSpec("scale", ranks: .range(0...1), scale, role: .weight),
        InputSpec("zero_point", ranks: .same(as: 1), activation, role: .weight),
      ],
      outputTypes: [.same("Q")],
      attributes: [AttributeSpec("axis", .axis(of: 0), default: .int(1)), requant],
      traits: [.discontinuous],
      rule: perAxisRule,
      domain: { c in [nil, scaleDomain, zeroDomain(c.dtypes[2])] },
      range: { c, _ in [saturation(c.dtypes[2])] },
      reference: { a, t in
        [QuantizedOps.quantize(t[0], scale: t[1], zero: t[2], axis: a.int("axis"), variant: variant(a))]
      }),

    OperatorSpec(
      id: "dequantize_linear", family: .quantized,
      doc:
        "ONNX DequantizeLinear: x = (q - zero_point) * scale in float64, rounded once to f32 (round to nearest even); per tensor or per channel along `axis`.",
      inputs: [
        InputSpec("q", ranks: .range(1...6), activation),
        InputSpec("scale", ranks: .range(0...1), scale, role: .weight),
        InputSpec("zero_point", ranks: .same(as: 1), activation, role: .weight),
      ],
      outputTypes: [.fixed(.f32)],
      attributes: [AttributeSpec("axis", .axis(of: 0), default: .int(1))],
      rule: perAxisRule,
      domain: { c in [nil, scaleDomain, zeroDomain(c.dtypes[2])] },
      range: { _, ins in [(ins[0] - ins[2]) * ins[1]] },
      reference: { a, t in [QuantizedOps.dequantize(t[0], scale: t[1], zero: t[2], axis: a.int("axis"))] }),

    OperatorSpec(
      id: "qlinear_conv2d", family: .quantized,
      doc:
        "ONNX QLinearConv (2-D, NCHW) with an int32 bias [O] of scale x_scale * w_scale: acc = Σ (x - x_zp)(w - w_zp[o]) + bias[o] with int32 wraparound; padding taps read x_zp (real 0); out = requant(acc, x_scale * w_scale[o] / y_scale) + y_zp, saturated. w [O, C/group, KH, KW] int8 with per-tensor or per-output-channel scale and zero point; weight_bits 4 clamps weights to -8...7 (int4), 8 to -127...127."
        + quantNote,
      inputs: [
        InputSpec("x", ranks: .exactly(4), activation),
        InputSpec("x_scale", ranks: .exactly(0), scale, role: .weight),
        InputSpec("x_zero_point", ranks: .exactly(0), activation, role: .weight),
        InputSpec("w", ranks: .exactly(4), weight, role: .weight),
        InputSpec("w_scale", ranks: .range(0...1), scale, role: .weight),
        InputSpec("w_zero_point", ranks: .same(as: 4), weight, role: .weight),
        InputSpec("y_scale", ranks: .exactly(0), scale, role: .weight),
        InputSpec("y_zero_point", ranks: .exactly(0), activation, role: .weight),
        InputSpec("bias", ranks: .exactly(1), int32, role: .weight),
      ],
      outputTypes: [.same("Q")],
      attributes: [
        AttributeSpec("strides", .ints(.fixed(2), 1...3), default: ones(2)),
        AttributeSpec("pads", .ints(.fixed(4), 0...3), default: zeros(4)),
        AttributeSpec("dilations", .ints(.fixed(2), 1...2), default: ones(2)),
        AttributeSpec("group", .int(1...64), default: .int(1)),
        AttributeSpec("weight_bits", .choice(["8", "4"]), default: .string("8")),
        requant,
      ],
      rule: { c in
        guard c.rank(0) == 4, c.rank(3) == 4, c.rank(4) <= 1, c.rank(5) == c.rank(4) else { return nil }
        let x = c[0]
        let w = c[3]
        let g = c.int("group")
        let s = c.ints("strides")
        let p = c.ints("pads")
        let d = c.ints("dilations")
        var requires = [x[1] % g .== 0, w[1] * g .== x[1], w[0] % g .== 0, c[8][0] .== w[0]]
        requires += perChannel(c[4], w[0]) + perChannel(c[5], w[0])
        var out = [x[0], w[0]]
        for i in 0..<2 {
          let span = d[i] * (w[2 + i] - 1) + 1
          let padded = x[2 + i] + p[i] + p[2 + i]
          requires.append(padded .>= span)
          out.append((padded - span) / s[i] + 1)
        }
        return Rule(requires: requires, outputs: [out])
      },
      domain: { c in
        let wb: ValueDomain = c.attributes.string("weight_bits") == "4" ? .within(-8, 7) : .within(-127, 127)
        return [
          nil, scaleDomain, zeroDomain(c.dtypes[2]), wb, scaleDomain, .within(0, 0), scaleDomain,
          zeroDomain(c.dtypes[7]), .within(-65536, 65536),
        ]
      },
      range: { c, _ in
        [saturation(c.dtypes[7])]
      },
      kernel: { a, t, optimized in
        [
          QuantizedOps.conv2d(
            t[0], xScale: t[1], xZero: t[2], t[3], wScale: t[4], wZero: t[5], yScale: t[6], yZero: t[7],
            bias: t[8], strides: a.ints("strides"), pads: a.ints("pads"), dilations: a.ints("dilations"),
            group: a.int("group"), variant: variant(a), weightBits: Int(a.string("weight_bits")) ?? 8,
            optimized: optimized)
        ]
      }),

    OperatorSpec(
      id: "qlinear_matmul", family: .quantized,
      doc:
        "ONNX QLinearMatMul with a constant int8 right operand: a [batch..., M, K] x b [K, N]; acc = Σ (a - a_zp)(b - b_zp[n]) (int32 wraparound); out = requant(acc, a_scale * b_scale[n] / y_scale) + y_zp, saturated; b's parameters per tensor or per column."
        + quantNote,
      inputs: [
        InputSpec("a", ranks: .range(2...3), activation),
        InputSpec("a_scale", ranks: .exactly(0), scale, role: .weight),
        InputSpec("a_zero_point", ranks: .exactly(0), activation, role: .weight),
        InputSpec("b", ranks: .exactly(2), weight, role: .weight),
        InputSpec("b_scale", ranks: .range(0...1), scale, role: .weight),
        InputSpec("b_zero_point", ranks: .same(as: 4), weight, role: .weight),
        InputSpec("y_scale", ranks: .exactly(0), scale, role: .weight),
        InputSpec("y_zero_point", ranks: .exactly(0), activation, role: .weight),
      ],
      outputTypes: [.same("Q")],
      attributes: [requant],
      rule: { c in
        guard (2...3).contains(c.rank(0)), c.rank(3) == 2, c.rank(4) <= 1, c.rank(5) == c.rank(4) else {
          return nil
        }
        let a = c[0]
        let b = c[3]
        let requires = [a[a.count - 1] .== b[0]] + perChannel(c[4], b[1]) + perChannel(c[5], b[1])
        return Rule(requires: requires, outputs: [Array(a.dropLast()) + [b[1]]])
      },
      domain: { c in
        [
          nil, scaleDomain, zeroDomain(c.dtypes[2]), .within(-127, 127), scaleDomain, .within(0, 0),
          scaleDomain, zeroDomain(c.dtypes[7]),
        ]
      },
      range: { c, _ in
        [saturation(c.dtypes[7])]
      },
      kernel: { a, t, optimized in
        [
          QuantizedOps.matmul(
            t[0], aScale: t[1], aZero: t[2], t[3], bScale: t[4], bZero: t[5], bias: nil, yScale: t[6],
            yZero: t[7], transB: false, variant: variant(a), optimized: optimized)
        ]
      }),

    OperatorSpec(
      id: "qgemm", family: .quantized,
      doc:
        "QGemm (com.microsoft, alpha = 1): a [M, K] x b' with b' = trans_b ? bᵀ : b of shape [K, N], plus an int32 bias c [N] of scale a_scale * b_scale; acc = Σ (a - a_zp)(b' - b_zp[n]) + c[n] (int32 wraparound); out = requant(acc, a_scale * b_scale[n] / y_scale) + y_zp, saturated."
        + quantNote,
      inputs: [
        InputSpec("a", ranks: .exactly(2), activation),
        InputSpec("a_scale", ranks: .exactly(0), scale, role: .weight),
        InputSpec("a_zero_point", ranks: .exactly(0), activation, role: .weight),
        InputSpec("b", ranks: .exactly(2), weight, role: .weight),
        InputSpec("b_scale", ranks: .range(0...1), scale, role: .weight),
        InputSpec("b_zero_point", ranks: .same(as: 4), weight, role: .weight),
        InputSpec("c", ranks: .exactly(1), int32, role: .weight),
        InputSpec("y_scale", ranks: .exactly(0), scale, role: .weight),
        InputSpec("y_zero_point", ranks: .exactly(0), activation, role: .weight),
      ],
      outputTypes: [.same("Q")],
      attributes: [AttributeSpec("trans_b", .flag, default: .int(0)), requant],
      rule: { c in
        guard c.rank(0) == 2, c.rank(3) == 2, c.rank(4) <= 1, c.rank(5) == c.rank(4), c.rank(6) == 1 else {
          return nil
        }
        let tb = c.concreteInt("trans_b") == 1
        let (k, n) = tb ? (c[3][1], c[3][0]) : (c[3][0], c[3][1])
        let requires = [c[0][1] .== k, c[6][0] .== n] + perChannel(c[4], n) + perChannel(c[5], n)
        return Rule(requires: requires, outputs: [[c[0][0], n]])
      },
      domain: { c in
        [
          nil, scaleDomain, zeroDomain(c.dtypes[2]), .within(-127, 127), scaleDomain, .within(0, 0),
          .within(-65536, 65536), scaleDomain, zeroDomain(c.dtypes[8]),
        ]
      },
      range: { c, _ in
        [saturation(c.dtypes[8])]
      },
      kernel: { a, t, optimized in
        [
          QuantizedOps.matmul(
            t[0], aScale: t[1], aZero: t[2], t[3], bScale: t[4], bZero: t[5], bias: t[6], yScale: t[7],
            yZero: t[8], transB: a.int("trans_b") == 1, variant: variant(a), optimized: optimized)
        ]
      }),

    qlinearBinary(
      "qlinear_add",
      "QLinearAdd (com.microsoft): y = saturate(round_half_even((a_scale(a - a_zp) + b_scale(b - b_zp)) / y_scale) + y_zp) in float64, NumPy broadcasting; per-tensor parameters."
    ) { _, t in
      QuantizedOps.add(
        t[0], aScale: t[1], aZero: t[2], t[3], bScale: t[4], bZero: t[5], yScale: t[6], yZero: t[7])
    },
    qlinearBinary(
      "qlinear_mul",
      "QLinearMul (com.microsoft): the exact integer product (a - a_zp)(b - b_zp) requantized with a_scale * b_scale / y_scale by the `requant` variant, + y_zp, saturated; NumPy broadcasting; per-tensor parameters."
        + quantNote, requantized: true
    ) { a, t in
      QuantizedOps.mul(
        t[0], aScale: t[1], aZero: t[2], t[3], bScale: t[4], bZero: t[5], yScale: t[6], yZero: t[7],
        variant: variant(a))
    },

    OperatorSpec(
      id: "qclip", family: .quantized,
      doc:
        "Integer Clip (ONNX Clip on int8/uint8): min(max(q, low), high) with quantized scalar bounds; int8 relu is low = the zero point, relu6 adds high = quantize(6). The scale and zero point pass through unchanged (shared parameters). If low > high the result is high (ONNX)."
        + "",
      inputs: [
        InputSpec("q", ranks: .range(0...6), activation),
        InputSpec("low", ranks: .exactly(0), activation, role: .weight),
        InputSpec("high", ranks: .exactly(0), activation, role: .weight),
      ],
      outputTypes: [.same("Q")],
      rule: { c in Rule(outputs: [c[0]]) },
      domain: { c in [nil, zeroDomain(c.dtypes[1]), zeroDomain(c.dtypes[2])] },
      reference: { _, t in [QuantizedOps.clip(t[0], low: t[1], high: t[2])] }),

    OperatorSpec(
      id: "qavg_pool2d", family: .quantized,
      doc:
        "QLinearAveragePool (2-D, NCHW, no dilation): acc = Σ (q - x_zp) over the window's real cells (padded cells are real 0); out = requant(acc, x_scale / (y_scale * count)) + y_zp, count = prod(kernel) if count_include_pad else the real cells; pads < kernel."
        + quantNote,
      inputs: [
        InputSpec("x", ranks: .exactly(4), activation),
        InputSpec("x_scale", ranks: .exactly(0), scale, role: .weight),
        InputSpec("x_zero_point", ranks: .exactly(0), activation, role: .weight),
        InputSpec("y_scale", ranks: .exactly(0), scale, role: .weight),
        InputSpec("y_zero_point", ranks: .exactly(0), activation, role: .weight),
      ],
      outputTypes: [.same("Q")],
      attributes: [
        AttributeSpec("kernel_shape", .ints(.fixed(2), 1...4), default: ones(2)),
        AttributeSpec("strides", .ints(.fixed(2), 1...3), default: ones(2)),
        AttributeSpec("pads", .ints(.fixed(4), 0...3), default: zeros(4)),
        AttributeSpec("count_include_pad", .flag, default: .int(0)),
        requant,
      ],
      rule: { c in
        guard c.rank(0) == 4 else { return nil }
        let x = c[0]
        let k = c.ints("kernel_shape")
        let s = c.ints("strides")
        let p = c.ints("pads")
        var requires: [Constraint] = []
        var out = [x[0], x[1]]
        for i in 0..<2 {
          let padded = x[2 + i] + p[i] + p[2 + i]
          requires += [padded .>= k[i], p[i] .< k[i], p[2 + i] .< k[i]]
          out.append((padded - k[i]) / s[i] + 1)
        }
        return Rule(requires: requires, outputs: [out])
      },
      domain: { c in [nil, scaleDomain, zeroDomain(c.dtypes[2]), scaleDomain, zeroDomain(c.dtypes[4])] },
      range: { c, _ in
        [saturation(c.dtypes[4])]
      },
      reference: { a, t in
        [
          QuantizedOps.avgPool2d(
            t[0], xScale: t[1], xZero: t[2], yScale: t[3], yZero: t[4], kernel: a.ints("kernel_shape"),
            strides: a.ints("strides"), pads: a.ints("pads"),
            countIncludePad: a.int("count_include_pad") == 1,
            variant: variant(a))
        ]
      }),
  ]

  /// A two-input QLinear elementwise operator with NumPy broadcasting and per-tensor parameters.
  static func qlinearBinary(
    _ id: String, _ doc: String, requantized: Bool = false,
    _ kernel: @escaping @Sendable (Attributes, [Tensor]) -> Tensor
  ) -> OperatorSpec {
    OperatorSpec(
      id: id, family: .quantized, doc: doc,
      inputs: [
        InputSpec("a", ranks: .range(0...6), activation),
        InputSpec("a_scale", ranks: .exactly(0), scale, role: .weight),
        InputSpec("a_zero_point", ranks: .exactly(0), activation, role: .weight),
        InputSpec("b", ranks: .upTo(0), activation),
        InputSpec("b_scale", ranks: .exactly(0), scale, role: .weight),
        InputSpec("b_zero_point", ranks: .exactly(0), activation, role: .weight),
        InputSpec("y_scale", ranks: .exactly(0), scale, role: .weight),
        InputSpec("y_zero_point", ranks: .exactly(0), activation, role: .weight),
      ],
      outputTypes: [.same("Q")],
      attributes: requantized ? [requant] : [],
      rule: { c in broadcastRule(c[0], c[3]) },
      domain: { c in
        [
          nil, scaleDomain, zeroDomain(c.dtypes[2]), nil, scaleDomain, zeroDomain(c.dtypes[5]), scaleDomain,
          zeroDomain(c.dtypes[7]),
        ]
      },
      range: { c, _ in
        [saturation(c.dtypes[7])]
      },
      reference: { a, t in [kernel(a, t)] })
  }
}
