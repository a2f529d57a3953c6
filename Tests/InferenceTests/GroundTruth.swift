import Inference
import Symbolic
import Tensors

/// A known operator rule standing in for a real target: it labels symbol vectors as valid (with
/// output shapes) or invalid, the way running the target would.
struct GroundTruth: Sendable {
  var name: String
  var symbolNames: [String]
  var outputRanks: [Int]
  /// A plausible call, as a trace collector sees from test suites (valid, or nearly so).
  var sample: @Sendable (inout SplitMix64) -> [Int]
  /// The "target": output shapes, or `nil` for an invalid call.
  var run: @Sendable ([Int]) -> [[Int]]?

  var partial: PartialOperator {
    PartialOperator(op: name, key: "test", symbolNames: symbolNames, outputRanks: outputRanks)
  }

  func label(_ symbols: [Int]) -> Record {
    if let o = run(symbols) { return .valid(symbols, o) }
    return .invalid(symbols, "\(name): invalid arguments")
  }

  /// Base calls plus their labelled NeuRI augmentation, the way the trace collector will work.
  func training(seed: UInt64, bases: Int, augmentLimit: Int) -> RecordSet {
    var rng = SplitMix64(seed: seed)
    var set = RecordSet(partial: partial)
    var seen = Set<[Int]>()
    for _ in 0..<bases {
      let s = sample(&rng)
      if seen.insert(s).inserted { set.records.append(label(s)) }
    }
    for s in set.augmented(limit: augmentLimit, seed: seed) { set.records.append(label(s)) }
    return set
  }

  /// Fresh records from another seed: 70% one-step mutations of fresh calls, 30% calls with two or
  /// three symbols replaced by random values in −2...12.
  func heldOut(seed: UInt64, count: Int = 1_000) -> [Record] {
    var rng = SplitMix64(seed: seed)
    var bases = RecordSet(partial: partial)
    for _ in 0..<30 { bases.records.append(label(sample(&rng))) }
    let mutated = bases.augmented(limit: count * 7 / 10, seed: seed)
    var out = mutated.map(label)
    while out.count < count {
      var s = sample(&rng)
      for _ in 0..<rng.int(in: 2...3) { s[rng.int(in: 0...(s.count - 1))] = rng.int(in: -2...12) }
      out.append(label(s))
    }
    return out
  }
}

/// Floor division for the ground truths.
func fdiv(_ a: Int, _ b: Int) -> Int { floorDivide(a, b)! }

enum Truths {
  static let elementwise = GroundTruth(
    name: "add", symbolNames: ["x0.0", "x0.1", "x1.0", "x1.1"], outputRanks: [2],
    sample: { rng in
      let (a, b) = (rng.int(in: 1...32), rng.int(in: 1...32))
      return [a, b, a, b]
    },
    run: { s in
      guard s.allSatisfy({ $0 >= 1 }), s[0] == s[2], s[1] == s[3] else { return nil }
      return [[s[0], s[1]]]
    })

  static let broadcast = GroundTruth(
    name: "add-broadcast", symbolNames: ["x0.0", "x0.1", "x1.0", "x1.1"], outputRanks: [2],
    sample: { rng in
      func pair() -> (Int, Int) {
        let v = rng.int(in: 2...16)
        switch rng.int(in: 0...2) {
        case 0: return (v, v)
        case 1: return (1, v)
        default: return (v, 1)
        }
      }
      let (p, q) = (pair(), pair())
      return [p.0, q.0, p.1, q.1]
    },
    run: { s in
      guard s.allSatisfy({ $0 >= 1 }) else { return nil }
      for (a, b) in [(s[0], s[2]), (s[1], s[3])] where a != b && a != 1 && b != 1 { return nil }
      return [[max(s[0], s[2]), max(s[1], s[3])]]
    })

  static let matmul = GroundTruth(
    name: "matmul", symbolNames: ["x0.0", "x0.1", "x1.0", "x1.1"], outputRanks: [2],
    sample: { rng in
      let (m, k, n) = (rng.int(in: 1...32), rng.int(in: 1...32), rng.int(in: 1...32))
      return [m, k, k, n]
    },
    run: { s in
      guard s.allSatisfy({ $0 >= 1 }), s[1] == s[2] else { return nil }
      return [[s[0], s[3]]]
    })

  static let flatten = GroundTruth(
    name: "flatten", symbolNames: ["x0.0", "x0.1", "x0.2"], outputRanks: [2],
    sample: { rng in [rng.int(in: 1...8), rng.int(in: 1...16), rng.int(in: 1...16)] },
    run: { s in
      guard s.allSatisfy({ $0 >= 1 }) else { return nil }
      return [[s[0], s[1] * s[2]]]
    })

  /// Reshape `[a, b]` to the attribute shape `[c, d]`: requires `a * b == c * d` (NeuRI's
  /// `s0 - s1*s2*s3 == 0` kind of predicate, one size smaller).
  static let reshape = GroundTruth(
    name: "reshape", symbolNames: ["x0.0", "x0.1", "shape.0", "shape.1"], outputRanks: [2],
    sample: { rng in
      let (p, q, r) = (rng.int(in: 1...6), rng.int(in: 1...6), rng.int(in: 1...6))
      return [p * q, r, p, q * r]
    },
    run: { s in
      guard s.allSatisfy({ $0 >= 1 }), s[0] * s[1] == s[2] * s[3] else { return nil }
      return [[s[2], s[3]]]
    })

  static let concat = GroundTruth(
    name: "concat", symbolNames: ["x0.0", "x0.1", "x1.0", "x1.1"], outputRanks: [2],
    sample: { rng in
      let (a, b, c) = (rng.int(in: 1...32), rng.int(in: 1...32), rng.int(in: 1...32))
      return [a, b, c, b]
    },
    run: { s in
      guard s.allSatisfy({ $0 >= 1 }), s[1] == s[3] else { return nil }
      return [[s[0] + s[2], s[1]]]
    })

  /// Conv2d, NCHW, weight [oc, c/g, kh, kw], ONNX pads [h_begin, w_begin, h_end, w_end].
  static let conv2d = GroundTruth(
    name: "conv2d",
    symbolNames: [
      "x0.0", "x0.1", "x0.2", "x0.3", "w.0", "w.1", "w.2", "w.3", "strides.0", "strides.1",
      "pads.0", "pads.1", "pads.2", "pads.3", "dilations.0", "dilations.1", "group",
    ],
    outputRanks: [4],
    sample: { rng in
      let g = rng.int(in: 1...3)
      let cg = rng.int(in: 1...4)
      let oc = g * rng.int(in: 1...4)
      let (kh, kw) = (rng.int(in: 1...5), rng.int(in: 1...5))
      let (sh, sw) = (rng.int(in: 1...3), rng.int(in: 1...3))
      let pads = (0..<4).map { _ in rng.int(in: 0...2) }
      let (dh, dw) = (rng.int(in: 1...3), rng.int(in: 1...3))
      let h = max(1, dh * (kh - 1) + 1 - pads[0] - pads[2]) + rng.int(in: 0...20)
      let w = max(1, dw * (kw - 1) + 1 - pads[1] - pads[3]) + rng.int(in: 0...20)
      return [rng.int(in: 1...4), cg * g, h, w, oc, cg, kh, kw, sh, sw] + pads + [dh, dw, g]
    },
    run: { s in
      let (n, c, h, w, oc, cg, kh, kw) = (s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7])
      let (sh, sw, pt, pl, pb, pr, dh, dw, g) = (s[8], s[9], s[10], s[11], s[12], s[13], s[14], s[15], s[16])
      guard [n, c, h, w, oc, cg, kh, kw, sh, sw, dh, dw, g].allSatisfy({ $0 >= 1 }),
        [pt, pl, pb, pr].allSatisfy({ $0 >= 0 }), c == cg * g, oc % g == 0,
        h + pt + pb >= dh * (kh - 1) + 1, w + pl + pr >= dw * (kw - 1) + 1
      else { return nil }
      let oh = fdiv(h + pt + pb - dh * (kh - 1) - 1, sh) + 1
      let ow = fdiv(w + pl + pr - dw * (kw - 1) - 1, sw) + 1
      return [[n, oc, oh, ow]]
    })

  /// Max pool 2-D, floor mode, pads [h_begin, w_begin, h_end, w_end] smaller than the kernel.
  static let pool2d = GroundTruth(
    name: "maxpool2d",
    symbolNames: [
      "x0.0", "x0.1", "x0.2", "x0.3", "kernel.0", "kernel.1", "strides.0", "strides.1",
      "pads.0", "pads.1", "pads.2", "pads.3",
    ],
    outputRanks: [4],
    sample: { rng in
      let (kh, kw) = (rng.int(in: 1...5), rng.int(in: 1...5))
      let pads = [kh, kw, kh, kw].map { rng.int(in: 0...min(2, $0 - 1)) }
      let h = max(1, kh - pads[0] - pads[2]) + rng.int(in: 0...20)
      let w = max(1, kw - pads[1] - pads[3]) + rng.int(in: 0...20)
      return [rng.int(in: 1...4), rng.int(in: 1...8), h, w, kh, kw, rng.int(in: 1...3), rng.int(in: 1...3)]
        + pads
    },
    run: { s in
      let (n, c, h, w, kh, kw, sh, sw) = (s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7])
      let (pt, pl, pb, pr) = (s[8], s[9], s[10], s[11])
      guard [n, c, h, w, kh, kw, sh, sw].allSatisfy({ $0 >= 1 }), [pt, pl, pb, pr].allSatisfy({ $0 >= 0 }),
        pt < kh, pb < kh, pl < kw, pr < kw, h + pt + pb >= kh, w + pl + pr >= kw
      else { return nil }
      return [[n, c, fdiv(h + pt + pb - kh, sh) + 1, fdiv(w + pl + pr - kw, sw) + 1]]
    })

  /// Split into two halves along axis 0 (two outputs): `[a / 2, b]` and `[a - a / 2, b]`.
  static let split = GroundTruth(
    name: "split", symbolNames: ["x0.0", "x0.1"], outputRanks: [2, 2],
    sample: { rng in [rng.int(in: 1...64), rng.int(in: 1...16)] },
    run: { s in
      guard s[0] >= 1, s[1] >= 1 else { return nil }
      return [[s[0] / 2, s[1]], [s[0] - s[0] / 2, s[1]]]
    })

  /// A 1-D slice with the end clamped to the input: `min(end, n) - start`.
  static let slice = GroundTruth(
    name: "slice", symbolNames: ["x0.0", "starts.0", "ends.0"], outputRanks: [1],
    sample: { rng in
      let n = rng.int(in: 1...32)
      let start = rng.int(in: 0...(n - 1))
      return [n, start, start + rng.int(in: 1...40)]
    },
    run: { s in
      let (n, start, end) = (s[0], s[1], s[2])
      guard n >= 1, start >= 0, end > start, n > start else { return nil }
      return [[min(end, n) - start]]
    })
}
