import Kernels
import Symbolic
import Tensors

// Spiking operators: LIF neurons over a leading time dimension T, spiking linear and conv blocks
// and spike-driven self-attention (see `SpikingOps` and `Spiking`). T is a shape dimension, so the
// generator's constraints keep every spiking tensor of a block on the same T.

private let real = TypeConstraint("T", [.f32])

/// Largest number of time steps a generated spiking tensor has.
private let maxSteps = 8

/// The LIF attributes shared by every spiking operator.
private let lifAttributes = [
  AttributeSpec("tau_shift", .choice(["1", "2", "3"]), default: .string("1")),
  AttributeSpec("threshold", .float(0.25...2), default: .float(1)),
  AttributeSpec("v_reset", .float(-0.5...0), default: .float(0)),
  AttributeSpec("reset", .choice(Spiking.Reset.allCases.map(\.rawValue)), default: .string("hard")),
  AttributeSpec("fire", .choice(Spiking.Fire.allCases.map(\.rawValue)), default: .string("geq")),
  AttributeSpec("levels", .choice(["1", "2", "4"]), default: .string("1")),
]

private func lif(_ a: Attributes) -> Spiking.LIF {
  Spiking.LIF(
    tauShift: Int(a.string("tau_shift")) ?? 1, threshold: a.float("threshold"), vReset: a.float("v_reset"),
    reset: Spiking.Reset(rawValue: a.string("reset")) ?? .hard,
    fire: Spiking.Fire(rawValue: a.string("fire")) ?? .geq,
    levels: Int(a.string("levels")) ?? 1)
}

/// Spikes lie in 0...levels.
private func spikeRange(_ c: ValueContext) -> Interval {
  Interval(0, Double(Int(c.attributes.string("levels")) ?? 1))
}

private let lifNote =
  " LIF (SpikingJelly form, decay_input, dyadic tau = 2^tau_shift): H = V + (X - (V - v_reset)) * 2^-tau_shift in float64 in exactly this order; spike s = min(levels, floor(H / threshold)) when H >= threshold (fire geq) or H > threshold (fire gt), else 0 (levels 1 is the binary neuron); reset hard: V = v_reset after a spike, soft: V = H - s * threshold. V starts at v_reset for every call (state is reset between samples); spikes are f32 integers 0...levels."

extension OperatorSpec {
  public static let spikingFamily: [OperatorSpec] = [
    OperatorSpec(
      id: "lif", family: .spiking,
      doc:
        "Leaky integrate-and-fire neuron over the leading time dimension: x [T, ...] input currents -> spikes [T, ...]."
        + lifNote,
      inputs: [InputSpec("x", ranks: .range(2...5), real)],
      attributes: lifAttributes,
      rule: { c in Rule(requires: [c[0][0] .<= Dim.constant(maxSteps)], outputs: [c[0]]) },
      range: { c, _ in [spikeRange(c)] },
      kernel: { a, t, optimized in [SpikingOps.lif(t[0], lif(a), optimized: optimized)] }),

    OperatorSpec(
      id: "lif_fixed", family: .spiking,
      doc:
        "Bit-accurate fixed-point LIF (Loihi/Lava PyLifModelBitAcc style) over the leading time dimension: integer currents a [T, ...] i32; u = trunc0(u * (4096 - du) / 2^12) + (a << 6) wrapped to 24-bit signed; v = clamp(trunc0(v * (4096 - dv) / 2^12) + u + bias, -2^23+1, 2^23-1); spike iff v > (vth << 6) (fire gt) or >= (geq); v = 0 after a spike; trunc0 rounds toward zero. u = v = 0 at the start of every call. Spikes are i32 0/1.",
      inputs: [InputSpec("x", ranks: .range(2...4), TypeConstraint(nil, [.i32]))],
      outputTypes: [.fixed(.i32)],
      attributes: [
        AttributeSpec("du", .int(0...4096), default: .int(1024)),
        AttributeSpec("dv", .int(0...4096), default: .int(1024)),
        AttributeSpec("vth", .int(1...4096), default: .int(64)),
        AttributeSpec("bias", .int(0...512), default: .int(0)),
        AttributeSpec("fire", .choice(Spiking.Fire.allCases.map(\.rawValue)), default: .string("gt")),
      ],
      rule: { c in Rule(requires: [c[0][0] .<= Dim.constant(maxSteps)], outputs: [c[0]]) },
      domain: { _ in [.within(-4096, 4096)] },
      range: { _, _ in [Interval(0, 1)] },
      kernel: { a, t, optimized in
        [
          SpikingOps.lifFixed(
            t[0],
            Spiking.FixedLIF(
              du: a.int("du"), dv: a.int("dv"), vth: a.int("vth"), bias: a.int("bias"),
              fire: Spiking.Fire(rawValue: a.string("fire")) ?? .gt), optimized: optimized)
        ]
      }),

    OperatorSpec(
      id: "spiking_linear", family: .spiking,
      doc:
        "Spiking linear block: currents X[t, n, o] = (Σ_i ascending W[o, i] * s[t, n, i], skipping exact-zero spikes, from 0.0) + b[o] in float64, then LIF over t. s [T, N, I], W [O, I], b [O] -> spikes [T, N, O]. The optimized kernel is event-driven: it visits only active (nonzero) input spikes."
        + lifNote,
      inputs: [
        InputSpec("s", ranks: .exactly(3), real),
        InputSpec("w", ranks: .exactly(2), real, role: .weight),
        InputSpec("b", ranks: .exactly(1), real, role: .weight),
      ],
      attributes: lifAttributes,
      rule: { c in
        Rule(
          requires: [c[0][0] .<= Dim.constant(maxSteps), c[1][1] .== c[0][2], c[2][0] .== c[1][0]],
          outputs: [[c[0][0], c[0][1], c[1][0]]])
      },
      domain: { _ in [.within(0, 4), .within(-1, 1), .within(-0.5, 0.5)] },
      range: { c, _ in [spikeRange(c)] },
      kernel: { a, t, optimized in [SpikingOps.linear(t[0], t[1], t[2], lif(a), optimized: optimized)] }),

    OperatorSpec(
      id: "spiking_conv2d", family: .spiking,
      doc:
        "Spiking conv block: for every step, currents = conv2d(s[t]) + b[o] (float64 reference convolution with zero padding over the folded [T*N, C, H, W] batch, no dilation, one group), then LIF over t. s [T, N, C, H, W], w [O, C, KH, KW], b [O] -> spikes [T, N, O, OH, OW]."
        + lifNote,
      inputs: [
        InputSpec("s", ranks: .exactly(5), real),
        InputSpec("w", ranks: .exactly(4), real, role: .weight),
        InputSpec("b", ranks: .exactly(1), real, role: .weight),
      ],
      attributes: [
        AttributeSpec("strides", .ints(.fixed(2), 1...2), default: .ints([1, 1])),
        AttributeSpec("pads", .ints(.fixed(4), 0...2), default: .ints([0, 0, 0, 0])),
      ] + lifAttributes,
      rule: { c in
        let s = c[0]
        let w = c[1]
        let st = c.ints("strides")
        let p = c.ints("pads")
        var requires = [s[0] .<= Dim.constant(maxSteps), w[1] .== s[2], c[2][0] .== w[0]]
        var out = [s[0], s[1], w[0]]
        for i in 0..<2 {
          let padded = s[3 + i] + p[i] + p[2 + i]
          requires.append(padded .>= w[2 + i])
          out.append((padded - w[2 + i]) / st[i] + 1)
        }
        return Rule(requires: requires, outputs: [out])
      },
      domain: { _ in [.within(0, 4), .within(-1, 1), .within(-0.5, 0.5)] },
      range: { c, _ in [spikeRange(c)] },
      kernel: { a, t, optimized in
        [
          SpikingOps.conv2d(
            t[0], t[1], t[2], strides: a.ints("strides"), pads: a.ints("pads"), lif(a), optimized: optimized)
        ]
      }),

    OperatorSpec(
      id: "sdsa", family: .spiking,
      doc:
        "Spike-driven self-attention (Spike-driven Transformer V1): q, k, v [T, N, L, D] spikes; kv[t, n, d] = Σ_l k * v (Hadamard, then a column sum over tokens), m = LIF over t of kv (per n, d), out[t, n, l, d] = q[t, n, l, d] * m[t, n, d]: masks and additions only. The optimized kernel touches only positions where k and v are both nonzero."
        + lifNote,
      inputs: [
        InputSpec("q", ranks: .exactly(4), real),
        InputSpec("k", ranks: .same(as: 0), real),
        InputSpec("v", ranks: .same(as: 0), real),
      ],
      attributes: lifAttributes,
      rule: { c in
        var requires = [c[0][0] .<= Dim.constant(maxSteps)]
        for i in 0..<4 { requires += [c[1][i] .== c[0][i], c[2][i] .== c[0][i]] }
        return Rule(requires: requires, outputs: [c[0]])
      },
      domain: { _ in [.within(0, 1), .within(0, 1), .within(0, 1)] },
      range: { c, ins in [ins[0].hull(0).scaled(by: Double(Int(c.attributes.string("levels")) ?? 1))] },
      kernel: { a, t, optimized in [SpikingOps.sdsa(t[0], t[1], t[2], lif(a), optimized: optimized)] }),
  ]
}
