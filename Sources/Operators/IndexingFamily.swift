import Kernels
import Symbolic
import Tensors

/// The axis attribute of a value rule, normalized for the rank of input `i`.
private func valueAxis(_ c: ValueContext, of i: Int = 0) -> Int? {
  guard i < c.shapes.count, case .int(let a)? = c.attributes["axis"] else { return nil }
  return Shape.axis(a, rank: c.shapes[i].count)
}

extension OperatorSpec {
  static let indexingFamily: [OperatorSpec] = [
    OperatorSpec(
      id: "slice", family: .indexing,
      doc: """
        x[..., start:end:step, ...] along `axis` (NumPy basic slicing; ONNX Slice with one axis). Only \
        positive steps (1...3). Negative start/end count from the end. With d the dim, generated values \
        are start in [-d, d-1] and end in [-d+1, d] except 0 (both within -64...64); with start' = \
        start mod d and end' = ((end - 1) mod d) + 1 (floor modulo; this is end + d for negative end), \
        end' > start', so no clamping applies and the result dim is ceil((end' - start') / step) >= 1. \
        Values are copied exactly.
        """,
      inputs: [InputSpec("x", ranks: .range(1...6), .any)],
      attributes: [
        AttributeSpec("axis", .axis(of: 0), default: .int(0)),
        AttributeSpec("start", .int(-64...64), default: .int(0)),
        AttributeSpec("end", .int(-64...64), default: .int(1)),
        AttributeSpec("step", .int(1...3), default: .int(1)),
      ],
      rule: { c in
        guard let a = Shape.axis(c.concreteInt("axis"), rank: c.rank(0)) else { return nil }
        let d = c[0][a]
        let start = c.int("start")
        let end = c.int("end")
        let step = c.int("step")
        let s = start % d
        let e = (end - 1) % d + 1
        var out = c[0]
        out[a] = (e - s + step - 1) / step
        return Rule(
          requires: [
            start .>= -d, start .< d, end .>= 1 - d, end .<= d, end .!= 0, step .>= 1, e .> s,
          ],
          outputs: [out])
      },
      reference: { a, t in
        let axis = Shape.axis(a.int("axis"), rank: t[0].rank)!
        return [
          Reference.slice(t[0], axis: axis, start: a.int("start"), end: a.int("end"), step: a.int("step"))
        ]
      }
    ).with([.exact]),
    OperatorSpec(
      id: "pad", family: .indexing,
      doc: """
        Pads every axis i with pads_begin[i] elements before and pads_end[i] after (0...3 each); output \
        dim = d + begin + end. Modes (ONNX Pad = NumPy pad): `constant` fills with `value` (rounded to \
        the dtype by evaluation); `reflect` mirrors without repeating the edge element ([a b c] padded \
        by 2 on both sides: c b a b c b a) and requires every pad < d; `edge` repeats the edge element \
        (a a a b c c c). Corners combine the per-axis rules. Values are copied exactly.
        """,
      inputs: [InputSpec("x", ranks: .range(1...6), .any)],
      attributes: [
        AttributeSpec("pads_begin", .ints(.rank(of: 0), 0...3)),
        AttributeSpec("pads_end", .ints(.rank(of: 0), 0...3)),
        AttributeSpec("mode", .choice(["constant", "reflect", "edge"]), default: .string("constant")),
        AttributeSpec("value", .float(-1...1), default: .float(0)),
      ],
      rule: { c in
        let x = c[0]
        let b = c.ints("pads_begin")
        let e = c.ints("pads_end")
        guard b.count == x.count, e.count == x.count else { return nil }
        var requires: [Constraint] = []
        if c.string("mode") == "reflect" {
          for i in x.indices { requires += [b[i] .< x[i], e[i] .< x[i]] }
        }
        return Rule(requires: requires, outputs: [x.indices.map { x[$0] + b[$0] + e[$0] }])
      },
      range: { c, ins in
        guard c.attributes.string("mode") == "constant" else { return [ins[0]] }
        let v = c.attributes.float("value")
        return [ins[0].hull(v).hull(c.dtypes.first?.rounded(v) ?? v)]
      },
      reference: { a, t in
        var value = 0.0
        if case .float(let v)? = a["value"] { value = v }
        let mode = Reference.PadMode(rawValue: a.string("mode"))!
        return [
          Reference.pad(t[0], begin: a.ints("pads_begin"), end: a.ints("pads_end"), mode: mode, value: value)
        ]
      }
    ).with([.exact]),
    OperatorSpec(
      id: "expand", family: .indexing,
      doc: """
        Broadcasts x to `shape` with NumPy rules (ONNX Expand): trailing dims align, each pair is equal \
        or contains a 1, and the result has rank max(rank x, len shape) and the larger dim of each pair \
        (so a 1 in `shape` keeps x's dim). Values are copied exactly.
        """,
      inputs: [InputSpec("x", ranks: .range(0...5), .any)],
      attributes: [AttributeSpec("shape", .ints(.chosen(1...5), 1...16))],
      rule: { c in broadcastRule(c[0], c.ints("shape")) },
      reference: { a, t in [Reference.expand(t[0], to: a.ints("shape"))] }
    ).with([.exact]),
    OperatorSpec(
      id: "tile", family: .indexing,
      doc: """
        Repeats x `repeats[i]` times (1...3) along every axis i (ONNX Tile): output dim = d * r and \
        out[o] = x[o mod d] per axis. Values are copied exactly.
        """,
      inputs: [InputSpec("x", ranks: .range(1...6), .any)],
      attributes: [AttributeSpec("repeats", .ints(.rank(of: 0), 1...3))],
      rule: { c in
        let r = c.ints("repeats")
        guard r.count == c.rank(0) else { return nil }
        return Rule(outputs: [zip(c[0], r).map { $0 * $1 }])
      },
      reference: { a, t in [Reference.tile(t[0], repeats: a.ints("repeats"))] }
    ).with([.exact]),
    OperatorSpec(
      id: "gather", family: .indexing,
      doc: """
        ONNX Gather along `axis`: output shape data.shape[..<axis] + indices.shape + \
        data.shape[(axis+1)...], out[i.., j.., k..] = data[i.., indices[j..], k..]. Negative indices \
        count from the end; generated indices lie in [-d, d-1] with d = data.shape[axis] (out-of-range \
        indices never occur). Values are copied exactly.
        """,
      inputs: [
        InputSpec("data", ranks: .range(1...4), .any),
        InputSpec("indices", ranks: .range(0...2), .index, role: .weight),
      ],
      attributes: [AttributeSpec("axis", .axis(of: 0), default: .int(0))],
      rule: { c in
        guard let a = Shape.axis(c.concreteInt("axis"), rank: c.rank(0)) else { return nil }
        return Rule(outputs: [Array(c[0][..<a]) + c[1] + Array(c[0][(a + 1)...])])
      },
      domain: { c in
        guard let a = valueAxis(c) else { return [] }
        let d = Double(c.shapes[0][a])
        return [nil, .within(-d, d - 1)]
      },
      range: { _, ins in [ins[0]] },
      reference: { a, t in
        [Reference.gather(t[0], t[1], axis: Shape.axis(a.int("axis"), rank: t[0].rank)!)]
      }
    ).with([.exact]),
    OperatorSpec(
      id: "resize", family: .indexing,
      doc: """
        Nearest-neighbour resize of the spatial dims of an N, C, ... tensor to `sizes` (1...64): \
        output position o of a dim resized from n to m reads input position floor(o * n / m), computed \
        exactly in integers. This is ONNX Resize with mode=nearest, \
        coordinate_transformation_mode=asymmetric, nearest_mode=floor and scale = m / n, read in exact \
        arithmetic; an implementation computing o / scale in float32 can land just below an integer and \
        pick the previous element (n = 14, m = 2, o = 1: 6.9999995 gives 6, not 7), which happens for \
        117 of the 64 x 64 (n, m) pairs. Values are copied exactly.
        """,
      inputs: [InputSpec("x", ranks: .range(3...5), .float)],
      attributes: [AttributeSpec("sizes", .ints(.spatial(of: 0), 1...64))],
      rule: { c in
        let sizes = c.ints("sizes")
        guard c.rank(0) >= 3, sizes.count == c.rank(0) - 2 else { return nil }
        return Rule(outputs: [Array(c[0][..<2]) + sizes])
      },
      reference: { a, t in [Reference.resizeNearest(t[0], sizes: a.ints("sizes"))] }
    ).with([.exact]),
    OperatorSpec(
      id: "cumsum", family: .reduction,
      doc: """
        Cumulative sum along `axis` (ONNX CumSum). exclusive = 1: each element sums the elements \
        strictly before it (the first is 0); reverse = 1: sums run from the end. The reference \
        accumulates in float64 in order along the axis and the result is rounded once to the dtype \
        (integers wrap); backends accumulating in the dtype may differ by rounding.
        """,
      inputs: [InputSpec("x", ranks: .range(1...6), .numeric)],
      attributes: [
        AttributeSpec("axis", .axis(of: 0), default: .int(0)),
        AttributeSpec("exclusive", .flag, default: .int(0)),
        AttributeSpec("reverse", .flag, default: .int(0)),
      ],
      rule: { c in
        guard Shape.axis(c.concreteInt("axis"), rank: c.rank(0)) != nil else { return nil }
        return Rule(outputs: [c[0]])
      },
      range: { c, ins in
        // A sum of k values from [lo, hi] lies in [k lo, k hi]; k runs over 1...n (0...n-1 if exclusive).
        guard let a = valueAxis(c) else { return [.everything] }
        let r = ins[0].scaled(by: Double(c.shapes[0][a])).hull(ins[0])
        return [c.attributes.int("exclusive") != 0 ? r.hull(0) : r]
      },
      reference: { a, t in
        let axis = Shape.axis(a.int("axis"), rank: t[0].rank)!
        return [
          Reference.cumsum(
            t[0], axis: axis, exclusive: a.int("exclusive") != 0, reverse: a.int("reverse") != 0)
        ]
      }),
  ]
}
