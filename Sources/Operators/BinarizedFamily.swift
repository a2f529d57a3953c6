import Kernels
import Symbolic
import Tensors

// Binary neural-network operators (Larq Compute Engine conventions; see `BinaryOps`). Packed
// tensors are i32 words, channel-innermost (NHWC), 32 channels a word, groups packed separately;
// the unpacked channel count is the symbolic `channels` attribute, so the packing arithmetic
// `G * ceil(C / G / 32)` is part of the shape constraints Z3 solves.

private let words32 = TypeConstraint(nil, [.i32])
private let real = TypeConstraint(nil, [.f32])
/// Any 32-bit pattern is a valid packed word.
private let wordDomain = ValueDomain.within(-2_147_483_648, 2_147_483_647)

/// `ceil(c / 32)` as a shape expression.
private func words(_ c: Dim) -> Dim { (c + 31) / 32 }

private let paddingAttribute = AttributeSpec(
  "padding", .choice(Binary.Padding.allCases.map(\.rawValue)), default: .string("one"))

private func padding(_ a: Attributes) -> Binary.Padding {
  Binary.Padding(rawValue: a.string("padding")) ?? .one
}

private let convNote =
  " Dots are exact integers: dot = Σ over taps and channels of a·w in ±1 (K - 2·popcount(a XOR w)); padding `one` reads +1 (bit 0) outside the image, `zero` contributes 0 there (what a float conv of ±1 values with zero padding computes; optimized kernels subtract a precomputed correction). Tail bits of a group's last word are ignored."

/// The binary conv2d shape rule (requires, and the output's [N, OH, OW]) over packed x `[N, H, W, G*words(C/G)]`, w `[O, KH, KW, words(C/G)]`.
private func binaryConvRule(_ c: RuleContext, perChannel: [Int]) -> Rule? {
  guard c.rank(0) == 4, c.rank(1) == 4 else { return nil }
  let x = c[0]
  let w = c[1]
  let ch = c.int("channels")
  let g = c.int("group")
  let s = c.ints("strides")
  let p = c.ints("pads")
  let d = c.ints("dilations")
  var requires = [ch % g .== 0, x[3] .== g * words(ch / g), w[3] .== words(ch / g), w[0] % g .== 0]
  for i in perChannel { requires.append(c[i][0] .== w[0]) }
  var out = [x[0]]
  for i in 0..<2 {
    let span = d[i] * (w[1 + i] - 1) + 1
    let padded = x[1 + i] + p[i] + p[2 + i]
    requires.append(padded .>= span)
    out.append((padded - span) / s[i] + 1)
  }
  return Rule(requires: requires, outputs: [out])
}

private let convAttributes = [
  AttributeSpec("channels", .int(1...256), default: .int(32)),
  AttributeSpec("strides", .ints(.fixed(2), 1...3), default: ones(2)),
  AttributeSpec("pads", .ints(.fixed(4), 0...3), default: zeros(4)),
  AttributeSpec("dilations", .ints(.fixed(2), 1...2), default: ones(2)),
  AttributeSpec("group", .int(1...8), default: .int(1)),
  paddingAttribute,
]

extension OperatorSpec {
  public static let binarizedFamily: [OperatorSpec] = [
    OperatorSpec(
      id: "bitpack", family: .binarized,
      doc:
        "Binarize and bitpack the last dimension: x [..., C] f32 -> i32 words [..., G * ceil(C/G / 32)]. method `sign`: -1 iff x < 0, so sign(0) = sign(-0.0) = sign(NaN) = +1 (Larq); `biper`: sign(sin(omega * x)) (BiPer square-wave weights). Bit 1 means -1, bit 0 means +1; channel j of a group is bit j % 32 of word j / 32; tail bits are 0.",
      inputs: [InputSpec("x", ranks: .range(2...4), real)],
      outputTypes: [.fixed(.i32)],
      attributes: [
        AttributeSpec("method", .choice(BinaryOps.Method.allCases.map(\.rawValue)), default: .string("sign")),
        AttributeSpec("omega", .float(0.5...8), default: .float(1)),
        AttributeSpec("groups", .int(1...8), default: .int(1)),
      ],
      traits: [.packedOutput],
      rule: { c in
        let x = c[0]
        let g = c.int("groups")
        let ch = x[x.count - 1]
        return Rule(requires: [ch % g .== 0], outputs: [Array(x.dropLast()) + [g * words(ch / g)]])
      },
      range: { _, _ in [wordDomain.allowed] },
      reference: { a, t in
        [
          BinaryOps.pack(
            t[0], method: BinaryOps.Method(rawValue: a.string("method")) ?? .sign, omega: a.float("omega"),
            groups: a.int("groups"))
        ]
      }),

    OperatorSpec(
      id: "bconv2d", family: .binarized,
      doc:
        "Binary conv2d (LCE BConv2D), NHWC: x [N, H, W, G*words(C/G)] packed, w [O, KH, KW, words(C/G)] packed; y[n, i, j, o] = dot * multiplier[o] + bias[o] (float64, multiply then add, rounded once to f32), or with output i8: saturate(round half away from zero(y)) to -128...127."
        + convNote,
      inputs: [
        InputSpec("x", ranks: .exactly(4), words32, packed: true),
        InputSpec("w", ranks: .exactly(4), words32, role: .weight, packed: true),
        InputSpec("multiplier", ranks: .exactly(1), real, role: .weight),
        InputSpec("bias", ranks: .exactly(1), real, role: .weight),
      ],
      outputTypes: [.attribute("output")],
      attributes: convAttributes + [AttributeSpec("output", .dtype([.f32, .i8]), default: .string("f32"))],
      rule: { c in
        binaryConvRule(c, perChannel: [2, 3]).map {
          Rule(requires: $0.requires, outputs: [$0.outputs[0] + [c[1][0]]])
        }
      },
      domain: { _ in [nil, nil, .within(-0.5, 0.5), .within(-4, 4)] },
      range: { c, ins in
        let k = Double(
          c.shapes[1][1] * c.shapes[1][2] * (c.attributes.int("channels") / c.attributes.int("group")))
        let y = Interval(-k, k) * ins[2] + ins[3]
        return [c.attributes.string("output") == "i8" ? Interval(-128, 127) : y]
      },
      kernel: { a, t, optimized in
        [
          BinaryOps.conv2d(
            t[0], t[1], multiplier: t[2], bias: t[3], channels: a.int("channels"), strides: a.ints("strides"),
            pads: a.ints("pads"), dilations: a.ints("dilations"), group: a.int("group"), padding: padding(a),
            output: DType(rawValue: a.string("output")) ?? .f32, optimized: optimized)
        ]
      }),

    OperatorSpec(
      id: "bconv2d_packed", family: .binarized,
      doc:
        "Binary conv2d with a bitpacked output (LCE bitpacked output transform): channel o is -1 (bit 1) iff dot < threshold[o], else +1; the result is packed over O: [N, OH, OW, words(O)]."
        + convNote,
      inputs: [
        InputSpec("x", ranks: .exactly(4), words32, packed: true),
        InputSpec("w", ranks: .exactly(4), words32, role: .weight, packed: true),
        InputSpec("threshold", ranks: .exactly(1), words32, role: .weight),
      ],
      outputTypes: [.fixed(.i32)],
      attributes: convAttributes,
      traits: [.packedOutput],
      rule: { c in
        guard let r = binaryConvRule(c, perChannel: [2]) else { return nil }
        return Rule(requires: r.requires, outputs: [r.outputs[0] + [words(c[1][0])]])
      },
      domain: { _ in [nil, nil, .within(-8, 8)] },
      range: { _, _ in [wordDomain.allowed] },
      kernel: { a, t, optimized in
        [
          BinaryOps.conv2dThreshold(
            t[0], t[1], threshold: t[2], channels: a.int("channels"), strides: a.ints("strides"),
            pads: a.ints("pads"), dilations: a.ints("dilations"), group: a.int("group"), padding: padding(a),
            optimized: optimized)
        ]
      }),

    OperatorSpec(
      id: "bdense", family: .binarized,
      doc:
        "Binary dense (LCE BDense): x [N, words(C)] packed, w [O, words(C)] packed; dot[n, o] = Σ_c a·w in ±1 = C - 2·popcount(a XOR w) over real channels (tail bits ignored); y = dot * multiplier[o] + bias[o] (float64, rounded once to f32) or, with output i8, saturate(round half away from zero(y)).",
      inputs: [
        InputSpec("x", ranks: .exactly(2), words32, packed: true),
        InputSpec("w", ranks: .exactly(2), words32, role: .weight, packed: true),
        InputSpec("multiplier", ranks: .exactly(1), real, role: .weight),
        InputSpec("bias", ranks: .exactly(1), real, role: .weight),
      ],
      outputTypes: [.attribute("output")],
      attributes: [
        AttributeSpec("channels", .int(1...4096), default: .int(32)),
        AttributeSpec("output", .dtype([.f32, .i8]), default: .string("f32")),
      ],
      rule: { c in
        guard c.rank(0) == 2, c.rank(1) == 2 else { return nil }
        let ch = c.int("channels")
        let o = c[1][0]
        return Rule(
          requires: [c[0][1] .== words(ch), c[1][1] .== words(ch), c[2][0] .== o, c[3][0] .== o],
          outputs: [[c[0][0], o]])
      },
      domain: { _ in [nil, nil, .within(-0.5, 0.5), .within(-4, 4)] },
      range: { c, ins in
        let k = Double(c.attributes.int("channels"))
        let y = Interval(-k, k) * ins[2] + ins[3]
        return [c.attributes.string("output") == "i8" ? Interval(-128, 127) : y]
      },
      kernel: { a, t, optimized in
        [
          BinaryOps.dense(
            t[0], t[1], multiplier: t[2], bias: t[3], channels: a.int("channels"),
            output: DType(rawValue: a.string("output")) ?? .f32, optimized: optimized)
        ]
      }),
  ]
}
