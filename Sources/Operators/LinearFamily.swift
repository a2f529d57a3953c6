import Foundation
import Kernels
import Symbolic
import Tensors

// MARK: - Rule helpers (file-private)

/// `a == b`, folded to true when the two expressions are structurally equal.
private func linearSame(_ a: Dim, _ b: Dim) -> Constraint { a == b ? .constant(true) : a .== b }

/// Output extent of a sliding window along one axis, `(size + pb + pe - d*(k-1) - 1) / s + 1`,
/// and the requirement that the padded input covers the dilated kernel. `s >= 1` by its domain.
private func slidingWindow(
  _ size: Dim, kernel k: Dim, stride s: Dim, begin pb: Dim, end pe: Dim, dilation d: Dim
) -> (Dim, Constraint) {
  let span = d * (k - 1) + 1
  let padded = size + pb + pe
  return ((padded - span) / s + 1, padded .>= span)
}

/// Shared text: how every op of this family computes and rounds.
private let float64Note =
  "Computed in float64 (sums in loop order) and rounded once to the dtype (round to nearest even) by OperatorSpec.evaluate; NaN and inf propagate by IEEE arithmetic."

extension OperatorSpec {
  /// ONNX Conv without bias over `n` spatial dims.
  static func convolution(_ id: String, spatial n: Int) -> OperatorSpec {
    OperatorSpec(
      id: id, family: .conv,
      doc:
        "ONNX Conv without bias: x [N, C, S...], w [O, C/group, K...] -> [N, O, (S + pb + pe - d*(K-1) - 1) / s + 1 (floor)...]; output channel o reads input channels of group o / (O/group). Zero padding (padded cells contribute nothing); pads are [begin..., end...]. "
        + float64Note,
      inputs: [
        InputSpec("x", ranks: .exactly(n + 2), .float),
        InputSpec("w", ranks: .same(as: 0), .float, role: .weight),
      ],
      attributes: [
        AttributeSpec("strides", .ints(.spatial(of: 0), 1...3), default: ones(n)),
        AttributeSpec("pads", .ints(.twiceSpatial(of: 0), 0...3), default: zeros(2 * n)),
        AttributeSpec("dilations", .ints(.spatial(of: 0), 1...2), default: ones(n)),
        AttributeSpec("group", .int(1...64), default: .int(1)),
      ],
      rule: { c in
        guard c.rank(0) == n + 2, c.rank(1) == n + 2 else { return nil }
        let x = c[0]
        let w = c[1]
        let g = c.int("group")
        let s = c.ints("strides")
        let p = c.ints("pads")
        let d = c.ints("dilations")
        guard s.count == n, p.count == 2 * n, d.count == n else { return nil }
        var requires = [x[1] % g .== 0, w[1] * g .== x[1], w[0] % g .== 0]
        var out = [x[0], w[0]]
        for i in 0..<n {
          let (o, ok) = slidingWindow(
            x[2 + i], kernel: w[2 + i], stride: s[i], begin: p[i], end: p[n + i], dilation: d[i])
          requires.append(ok)
          out.append(o)
        }
        return Rule(requires: requires, outputs: [out])
      },
      range: { c, ins in
        // Each output sums C/group * prod(K) products of an x value (or a padding 0) and a weight.
        let terms = c.shapes[1].dropFirst().reduce(1, *)
        return [(ins[0].hull(0) * ins[1]).scaled(by: Double(terms))]
      },
      reference: { a, t in
        [
          Reference.conv(
            t[0], t[1], strides: a.ints("strides"), pads: a.ints("pads"), dilations: a.ints("dilations"),
            group: a.int("group"))
        ]
      })
  }

  /// ONNX MaxPool (`max == true`, with dilations) or AveragePool over `n` spatial dims.
  static func pooling(_ id: String, spatial n: Int, max isMax: Bool) -> OperatorSpec {
    let semantics =
      isMax
      ? "ONNX MaxPool: the maximum of each (dilated) window. Padded cells are -inf and never win; the rule requires every spatial size >= its dilation, which with pad < kernel guarantees each window holds a real cell. A NaN in a window gives NaN (NumPy/PyTorch; ONNX Runtime skips NaN)."
      : "ONNX AveragePool (no dilation): the sum of a window's real cells divided by prod(kernel_shape) if count_include_pad (padded cells count as zeros), else by the number of real cells (never 0, since pad < kernel)."
    var attributes = [
      AttributeSpec("kernel_shape", .ints(.spatial(of: 0), 1...4), default: ones(n)),
      AttributeSpec("strides", .ints(.spatial(of: 0), 1...3), default: ones(n)),
      AttributeSpec("pads", .ints(.twiceSpatial(of: 0), 0...3), default: zeros(2 * n)),
    ]
    attributes.append(
      isMax
        ? AttributeSpec("dilations", .ints(.spatial(of: 0), 1...2), default: ones(n))
        : AttributeSpec("count_include_pad", .flag, default: .int(0)))
    return OperatorSpec(
      id: id, family: .pool,
      doc: semantics
        + " x [N, C, S...] -> [N, C, (S + pb + pe - d*(k-1) - 1) / s + 1 (floor)...]; pads are [begin..., end...] and each must be < its kernel size; ceil_mode is not supported. "
        + float64Note,
      inputs: [
        InputSpec(
          "x", ranks: .exactly(n + 2), isMax ? TypeConstraint("T", DType.floats + DType.quantized) : .float)
      ],
      attributes: attributes,
      rule: { c in
        guard c.rank(0) == n + 2 else { return nil }
        let x = c[0]
        let k = c.ints("kernel_shape")
        let s = c.ints("strides")
        let p = c.ints("pads")
        let d = isMax ? c.ints("dilations") : [Dim](repeating: 1, count: n)
        guard k.count == n, s.count == n, p.count == 2 * n, d.count == n else { return nil }
        var requires: [Constraint] = []
        var out = [x[0], x[1]]
        for i in 0..<n {
          let (o, ok) = slidingWindow(
            x[2 + i], kernel: k[i], stride: s[i], begin: p[i], end: p[n + i], dilation: d[i])
          requires += [ok, p[i] .< k[i], p[n + i] .< k[i]]
          if isMax { requires.append(x[2 + i] .>= d[i]) }
          out.append(o)
        }
        return Rule(requires: requires, outputs: [out])
      },
      range: { c, ins in
        let padded =
          !isMax && c.attributes.int("count_include_pad") == 1
          && c.attributes.ints("pads").contains { $0 > 0 }
        return [padded ? ins[0].hull(0) : ins[0]]
      },
      reference: { a, t in
        isMax
          ? [
            Reference.maxPool(
              t[0], kernel: a.ints("kernel_shape"), strides: a.ints("strides"), pads: a.ints("pads"),
              dilations: a.ints("dilations"))
          ]
          : [
            Reference.avgPool(
              t[0], kernel: a.ints("kernel_shape"), strides: a.ints("strides"), pads: a.ints("pads"),
              countIncludePad: a.int("count_include_pad") == 1)
          ]
      })
  }

  /// ONNX Softmax / LogSoftmax (opset 13: one axis).
  static func softmaxOp(_ id: String, log: Bool) -> OperatorSpec {
    OperatorSpec(
      id: id, family: .normalization,
      doc: (log
        ? "ONNX LogSoftmax (opset 13) along `axis`: (x - m) - log(sum exp(x - m)) with m the slice maximum (numerically stable). "
        : "ONNX Softmax (opset 13) along `axis`: exp(x - m) / sum exp(x - m) with m the slice maximum (numerically stable). ")
        + "A NaN makes its whole slice NaN. " + float64Note,
      inputs: [InputSpec("x", ranks: .range(1...6), .float)],
      attributes: [AttributeSpec("axis", .axis(of: 0), default: .int(-1))],
      rule: { c in
        guard Shape.axis(c.concreteInt("axis"), rank: c.rank(0)) != nil, c.rank(0) >= 1 else { return nil }
        return Rule(outputs: [c[0]])
      },
      range: { c, ins in
        guard log else { return [Interval(0, 1)] }
        // x_i - m >= lo - hi and log(sum) <= log(n); widened 1% against rounding.
        let axis = Shape.axis(c.attributes.int("axis"), rank: c.shapes[0].count) ?? 0
        let n = Double(c.shapes[0][axis])
        return [Interval(-((ins[0].hi - ins[0].lo) + Foundation.log(n)) * 1.01, 0)]
      },
      reference: { a, t in
        [Reference.softmax(t[0], axis: Shape.axis(a.int("axis"), rank: t[0].rank) ?? 0, log: log)]
      })
  }

  static let linearFamily: [OperatorSpec] = [
    OperatorSpec(
      id: "matmul", family: .matmul,
      doc:
        "NumPy matmul of a [..., M, K] and b [..., K, N] (ranks 2...4) -> [..., M, N]; batch dims broadcast (NumPy rules). "
        + float64Note,
      inputs: [InputSpec("a", ranks: .range(2...4), .float), InputSpec("b", ranks: .range(2...4), .float)],
      rule: { c in
        let a = c[0]
        let b = c[1]
        let ra = c.rank(0)
        let rb = c.rank(1)
        guard (2...4).contains(ra), (2...4).contains(rb) else { return nil }
        let batch = broadcastRule(Array(a.dropLast(2)), Array(b.dropLast(2)))
        return Rule(
          requires: batch.requires + [linearSame(a[ra - 1], b[rb - 2])],
          outputs: [batch.outputs[0] + [a[ra - 2], b[rb - 1]]])
      },
      range: { c, ins in [(ins[0] * ins[1]).scaled(by: Double(c.shapes[0].last ?? 1))] },
      reference: { _, t in [Reference.matmul(t[0], t[1])] }),

    OperatorSpec(
      id: "gemm", family: .matmul,
      doc:
        "ONNX Gemm: alpha * A' B' + beta * C with A' = trans_a ? Aᵀ : A of shape [M, K], B' = trans_b ? Bᵀ : B of shape [K, N], and C (rank 0...2) broadcast unidirectionally to [M, N]. "
        + float64Note,
      inputs: [
        InputSpec("A", ranks: .exactly(2), .float),
        InputSpec("B", ranks: .exactly(2), .float, role: .weight),
        InputSpec("C", ranks: .range(0...2), .float, role: .weight),
      ],
      attributes: [
        AttributeSpec("alpha", .float(-2...2), default: .float(1)),
        AttributeSpec("beta", .float(-2...2), default: .float(1)),
        AttributeSpec("trans_a", .flag, default: .int(0)),
        AttributeSpec("trans_b", .flag, default: .int(0)),
      ],
      rule: { c in
        guard c.rank(0) == 2, c.rank(1) == 2, c.rank(2) <= 2 else { return nil }
        let ta = c.concreteInt("trans_a") == 1
        let tb = c.concreteInt("trans_b") == 1
        let (m, k) = ta ? (c[0][1], c[0][0]) : (c[0][0], c[0][1])
        let (kb, n) = tb ? (c[1][1], c[1][0]) : (c[1][0], c[1][1])
        var requires = [linearSame(k, kb)]
        let target = [m, n]
        let bias = c[2]
        for (i, dim) in bias.enumerated() {
          let t = target[2 - bias.count + i]
          if dim != t && dim != 1 { requires.append(.any([dim .== 1, dim .== t])) }
        }
        return Rule(requires: requires, outputs: [target])
      },
      range: { c, ins in
        let k = c.shapes[0][c.attributes.int("trans_a") == 1 ? 0 : 1]
        let product = (ins[0] * ins[1]).scaled(by: Double(k)).scaled(by: c.attributes.float("alpha"))
        return [product + ins[2].scaled(by: c.attributes.float("beta"))]
      },
      reference: { a, t in
        [
          Reference.gemm(
            t[0], t[1], t[2], alpha: a.float("alpha"), beta: a.float("beta"),
            transA: a.int("trans_a") == 1, transB: a.int("trans_b") == 1)
        ]
      }),

    convolution("conv1d", spatial: 1),
    convolution("conv2d", spatial: 2),

    OperatorSpec(
      id: "conv_transpose2d", family: .conv,
      doc:
        "ONNX ConvTranspose without bias: x [N, C, H, W], w [C, O/group, KH, KW] -> [N, O, (S-1)*s - pb - pe + d*(K-1) + output_padding + 1, ...]; each input cell adds x * w at output position i*s - pb + k*d, positions cut off by the pads are dropped; output_padding extends the end and must be < stride or < dilation. "
        + float64Note,
      inputs: [
        InputSpec("x", ranks: .exactly(4), .float),
        InputSpec("w", ranks: .same(as: 0), .float, role: .weight),
      ],
      attributes: [
        AttributeSpec("strides", .ints(.spatial(of: 0), 1...3), default: ones(2)),
        AttributeSpec("pads", .ints(.twiceSpatial(of: 0), 0...3), default: zeros(4)),
        AttributeSpec("dilations", .ints(.spatial(of: 0), 1...2), default: ones(2)),
        AttributeSpec("output_padding", .ints(.spatial(of: 0), 0...2), default: zeros(2)),
        AttributeSpec("group", .int(1...2), default: .int(1)),
      ],
      rule: { c in
        guard c.rank(0) == 4, c.rank(1) == 4 else { return nil }
        let x = c[0]
        let w = c[1]
        let g = c.int("group")
        let s = c.ints("strides")
        let p = c.ints("pads")
        let d = c.ints("dilations")
        let op = c.ints("output_padding")
        guard s.count == 2, p.count == 4, d.count == 2, op.count == 2 else { return nil }
        var requires = [linearSame(w[0], x[1]), x[1] % g .== 0]
        var out = [x[0], w[1] * g]
        for i in 0..<2 {
          let o = (x[2 + i] - 1) * s[i] - p[i] - p[2 + i] + d[i] * (w[2 + i] - 1) + op[i] + 1
          requires += [o .>= 1, .any([op[i] .< s[i], op[i] .< d[i]])]
          out.append(o)
        }
        return Rule(requires: requires, outputs: [out])
      },
      range: { c, ins in
        // Each output sums at most C/group * KH * KW products x * w (or nothing: 0).
        let w = c.shapes[1]
        let groups = Swift.max(c.attributes.int("group"), 1)
        let terms = w[0] / groups * w[2...].reduce(1, *)
        return [(ins[0] * ins[1]).hull(0).scaled(by: Double(terms))]
      },
      reference: { a, t in
        [
          Reference.convTranspose(
            t[0], t[1], strides: a.ints("strides"), pads: a.ints("pads"), dilations: a.ints("dilations"),
            outputPadding: a.ints("output_padding"), group: a.int("group"))
        ]
      }),

    pooling("max_pool1d", spatial: 1, max: true).with([.exact, .nanUnspecified]),
    pooling("max_pool2d", spatial: 2, max: true).with([.exact, .nanUnspecified]),
    pooling("avg_pool1d", spatial: 1, max: false),
    pooling("avg_pool2d", spatial: 2, max: false),

    OperatorSpec(
      id: "global_avg_pool", family: .pool,
      doc:
        "ONNX GlobalAveragePool: x [N, C, S...] (rank 3...5) -> [N, C, 1...], the mean of each channel plane (sum / count). "
        + float64Note,
      inputs: [InputSpec("x", ranks: .range(3...5), .float)],
      rule: { c in
        guard (3...5).contains(c.rank(0)) else { return nil }
        return Rule(outputs: [[c[0][0], c[0][1]] + [Dim](repeating: 1, count: c.rank(0) - 2)])
      },
      reference: { _, t in [Reference.globalAvgPool(t[0])] }),

    OperatorSpec(
      id: "batch_norm", family: .normalization,
      doc:
        "ONNX BatchNormalization, inference mode: scale[c] * (x - mean[c]) / sqrt(var[c] + epsilon) + bias[c] over channel dim 1 of x [N, C, ...] (rank 2...5). Generated var is >= 0. "
        + float64Note,
      inputs: [
        InputSpec("x", ranks: .range(2...5), .float),
        InputSpec("scale", ranks: .exactly(1), .float, role: .weight),
        InputSpec("bias", ranks: .exactly(1), .float, role: .weight),
        InputSpec("mean", ranks: .exactly(1), .float, role: .weight),
        InputSpec("var", ranks: .exactly(1), .float, role: .weight),
      ],
      attributes: [AttributeSpec("epsilon", .float(1e-5...1e-3), default: .float(1e-5))],
      rule: { c in
        guard (2...5).contains(c.rank(0)), (1...4).allSatisfy({ c.rank($0) == 1 }) else { return nil }
        return Rule(requires: (1...4).map { linearSame(c[$0][0], c[0][1]) }, outputs: [c[0]])
      },
      domain: { _ in [nil, nil, nil, nil, .nonNegative] },
      range: { c, ins in
        let eps = c.attributes.float("epsilon")
        let v = ins[4]
        let inverse = Interval(
          1 / (Swift.max(v.hi, 0) + eps).squareRoot(), 1 / (Swift.max(v.lo, 0) + eps).squareRoot())
        return [ins[1] * ((ins[0] - ins[3]) * inverse) + ins[2]]
      },
      reference: { a, t in
        [
          Reference.batchNorm(
            t[0], scale: t[1], bias: t[2], mean: t[3], variance: t[4], epsilon: a.float("epsilon"))
        ]
      }),

    OperatorSpec(
      id: "layer_norm", family: .normalization,
      doc:
        "ONNX LayerNormalization: over dims axis... of x (rank 1...5), (x - mean) / sqrt(var + epsilon) * scale + bias with the population variance (two passes); scale and bias have shape x.shape[axis...], optionally preceded by 1s (the same elements: ONNX broadcasts them, ONNX Runtime checks their size). "
        + float64Note,
      inputs: [
        InputSpec("x", ranks: .range(1...5), .float),
        InputSpec("scale", ranks: .upTo(0, from: 1), .float, role: .weight),
        InputSpec("bias", ranks: .same(as: 1), .float, role: .weight),
      ],
      attributes: [
        AttributeSpec("axis", .axis(of: 0), default: .int(-1)),
        AttributeSpec("epsilon", .float(1e-5...1e-3), default: .float(1e-5)),
      ],
      rule: { c in
        guard let axis = Shape.axis(c.concreteInt("axis"), rank: c.rank(0)), c.rank(0) >= 1 else {
          return nil
        }
        let normalized = Array(c[0][axis...])
        guard c.rank(1) >= normalized.count, c.rank(2) == c.rank(1) else { return nil }
        // scale / bias: leading 1s, then exactly x.shape[axis...].
        let lead = c.rank(1) - normalized.count
        let requires = [c[1], c[2]].flatMap { p in
          p[..<lead].map { linearSame($0, 1) } + zip(p[lead...], normalized).map(linearSame)
        }
        return Rule(requires: requires, outputs: [c[0]])
      },
      range: { c, ins in
        // |x - mean| / sqrt(var + eps) <= sqrt(n - 1) (Samuelson) and <= (hi - lo) / sqrt(eps).
        let axis = Shape.axis(c.attributes.int("axis"), rank: c.shapes[0].count) ?? 0
        let n = Double(c.shapes[0][axis...].reduce(1, *))
        let bound = Swift.min(
          (n - 1).squareRoot(), (ins[0].hi - ins[0].lo) / c.attributes.float("epsilon").squareRoot())
        return [ins[1] * Interval(-bound, bound) + ins[2]]
      },
      reference: { a, t in
        [
          Reference.layerNorm(
            t[0], scale: t[1], bias: t[2], axis: Shape.axis(a.int("axis"), rank: t[0].rank) ?? 0,
            epsilon: a.float("epsilon"))
        ]
      }),

    softmaxOp("softmax", log: false),
    softmaxOp("log_softmax", log: true),
  ]
}
