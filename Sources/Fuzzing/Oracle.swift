import Backends
import IR
import Operators
import Tensors

/// Compares a backend's outputs with the reference run of the same model and inputs.
///
/// 1. Output count, then per output dtype and shape: a difference there is reported as such.
/// 2. Values with the output dtype's `Tolerance` at the output's operating scale (the largest
///    reference magnitude among its ancestors); NaN in the same place is agreement.
/// 3. The discontinuity guard: a value difference is `unstable` rather than a mismatch when some
///    discontinuous node (round, floor, ceil, sign, comparisons, argmax, cast, quantize, ...)
///    upstream of the output is *sensitive at this input*: perturbing its computed float inputs by
///    their tolerance changes its result. Such a node turns an allowed float32 rounding difference
///    into a jump. Graph inputs and constants are not perturbed: every backend gets them exactly.
///
/// Quantized (i8/u8) outputs are compared exactly. `quantizedSlack` (0 by default) lets a target
/// outside our bit-exact contract differ by that many quantization steps: such a difference is
/// `unstable` (a rounding-policy difference, e.g. ONNX Runtime requantizes with a float32 scale
/// where ONNX specifies the exact real value), not a mismatch. External (ONNX) targets get 1; the
/// built-in low-bit backends get 0.
public struct Oracle: Sendable {
  public var tolerances: Tolerances
  public var operators: OperatorLookup
  /// Quantization steps an i8/u8 output may differ by and be judged `unstable` instead of a mismatch.
  public var quantizedSlack: Double = 0

  /// The slack for targets that receive models as ONNX (external implementations of the ONNX
  /// quantized operators), 0 for the rest.
  public static func quantizedSlack(external: Bool) -> Double { external ? 1 : 0 }

  /// This oracle for one target: external (ONNX) targets get at least one quantization step.
  public func `for`(_ target: BackendTarget) -> Oracle {
    var o = self
    o.quantizedSlack = Swift.max(quantizedSlack, Oracle.quantizedSlack(external: target.sendsONNX))
    return o
  }

  public init(tolerances: Tolerances = Tolerances(), operators: @escaping OperatorLookup = Catalogue.spec) {
    self.tolerances = tolerances
    self.operators = operators
  }

  /// - Parameters:
  ///   - reference: every value of the reference run (`ReferenceBackend.run(_:inputs:keepAll:)`).
  ///   - actual: the backend's outputs, in `graph.outputs` order.
  public func verdict(_ graph: Graph, reference: [ValueID: Tensor], actual: [Tensor]) -> Verdict {
    guard actual.count == graph.outputs.count else {
      return .mismatch(
        Discrepancy(
          kind: .outputCount, output: -1, expectedType: "\(graph.outputs.count)",
          actualType: "\(actual.count)"))
    }
    let scale = scales(graph, reference)
    for (k, id) in graph.outputs.enumerated() {
      guard let e = reference[id] else { continue }
      let a = actual[k]
      let et = TensorType(e.dtype, e.shape)
      let at = TensorType(a.dtype, a.shape)
      if a.dtype != e.dtype {
        return .mismatch(Discrepancy(kind: .dtype, output: id, expectedType: "\(et)", actualType: "\(at)"))
      }
      if a.shape != e.shape {
        return .mismatch(Discrepancy(kind: .shape, output: id, expectedType: "\(et)", actualType: "\(at)"))
      }
      if var d = compare(e, a, tolerance: tolerances[e.dtype], scale: scale[id] ?? 1) {
        d.output = id
        d.expectedType = "\(et)"
        d.actualType = "\(at)"
        if e.dtype.isQuantized && d.maxAbsoluteError <= quantizedSlack {
          return .unstable(d, nodes: ancestors(graph, of: id))
        }
        let sensitive = unstableNodes(graph, reference, scale: scale, upstreamOf: id)
        return sensitive.isEmpty ? .mismatch(d) : .unstable(d, nodes: sensitive)
      }
    }
    return .agree
  }

  /// The value discrepancy between two same-shaped tensors, or `nil` if they agree.
  func compare(_ e: Tensor, _ a: Tensor, tolerance: Tolerance, scale: Double) -> Discrepancy? {
    var d = Discrepancy(kind: .values, output: -1, expectedType: "", actualType: "")
    for i in 0..<e.storage.count {
      let (x, y) = (e.storage[i], a.storage[i])
      if tolerance.agrees(x, y, scale: scale) { continue }
      let abs = (x.isNaN || y.isNaN) ? Double.nan : Swift.abs(y - x)
      if d.mismatched == 0 {
        d.firstIndex = Shape.index(of: i, shape: e.shape)
        d.expected = x
        d.actual = y
      }
      d.mismatched += 1
      if abs.isNaN || abs > d.maxAbsoluteError { d.maxAbsoluteError = abs }
      // Relative to the expected value; infinite where the expected value is 0.
      let rel = x == 0 ? (abs == 0 ? 0 : Double.infinity) : abs / Swift.abs(x)
      if rel.isNaN || rel > d.maxRelativeError { d.maxRelativeError = rel }
    }
    return d.mismatched == 0 ? nil : d
  }

  /// For every value: the largest finite magnitude among the reference values it depends on.
  func scales(_ graph: Graph, _ values: [ValueID: Tensor]) -> [ValueID: Double] {
    func magnitude(_ t: Tensor?) -> Double {
      guard let t, t.dtype.isFloat || t.dtype.isInteger else { return 0 }
      var m = 0.0
      for x in t.storage where x.isFinite { m = Swift.max(m, Swift.abs(x)) }
      return m
    }
    var s: [ValueID: Double] = [:]
    for i in graph.inputs { s[i.id] = magnitude(values[i.id]) }
    for c in graph.constants { s[c.id] = magnitude(values[c.id]) }
    for n in graph.nodes {
      let upstream = n.inputs.map { s[$0] ?? 0 }.max() ?? 0
      for o in n.outputs { s[o] = Swift.max(upstream, magnitude(values[o])) }
    }
    return s
  }

  /// Indices of the nodes `output` depends on (its producer included), ascending.
  func ancestors(_ graph: Graph, of output: ValueID) -> [Int] {
    var producer: [ValueID: Int] = [:]
    for (i, n) in graph.nodes.enumerated() { for o in n.outputs { producer[o] = i } }
    var needed = Set<Int>()
    var stack = [output]
    var seen = Set<ValueID>()
    while let v = stack.popLast() {
      guard seen.insert(v).inserted, let p = producer[v] else { continue }
      needed.insert(p)
      stack.append(contentsOf: graph.nodes[p].inputs)
    }
    return needed.sorted()
  }

  /// Indices of discontinuous nodes upstream of `output` whose result changes when their float
  /// inputs move within tolerance.
  func unstableNodes(
    _ graph: Graph, _ values: [ValueID: Tensor], scale: [ValueID: Double], upstreamOf output: ValueID
  ) -> [Int] {
    var result: [Int] = []
    let computedValues = Set(graph.nodes.flatMap(\.outputs))
    for i in ancestors(graph, of: output) {
      let node = graph.nodes[i]
      guard let spec = operators(node.op), spec.traits.contains(.discontinuous) else { continue }
      let inputs = node.inputs.compactMap { values[$0] }
      // Only computed values can differ between backends: graph inputs and constants reach every
      // backend bit for bit, so they are never perturbed.
      let computed = node.inputs.map { computedValues.contains($0) }
      guard inputs.count == node.inputs.count,
        zip(inputs, computed).contains(where: { $0.dtype.isFloat && $1 })
      else { continue }
      let base = spec.evaluate(inputs, attributes: node.attributes)
      let s = node.inputs.map { scale[$0] ?? 1 }.max() ?? 1
      var rng = SplitMix64(seed: UInt64(i))
      // Trials 0–11 move every element by its tolerance (up, down, then random signs); trials 12–13
      // snap every element to a grid of the absolute tolerance, which makes values that are equal
      // within tolerance exactly equal (equality cannot be reached by moving values apart).
      trials: for trial in 0..<14 {
        let perturbed = zip(inputs, computed).map { t, isComputed -> Tensor in
          guard t.dtype.isFloat && isComputed else { return t }
          let tol = tolerances[t.dtype]
          let grid = tol.atol * Swift.max(1, s)
          return Tensor(
            dtype: t.dtype, shape: t.shape,
            storage: t.storage.map { x in
              if trial >= 12 {
                let offset = trial == 12 ? 0 : grid / 2
                return t.dtype.rounded(((x + offset) / grid).rounded() * grid - offset)
              }
              let sign: Double = trial == 0 ? 1 : trial == 1 ? -1 : (rng.chance(0.5) ? 1 : -1)
              return t.dtype.rounded(x + sign * (tol.atol * Swift.max(1, s) + tol.rtol * Swift.abs(x)))
            })
        }
        let moved = spec.evaluate(perturbed, attributes: node.attributes)
        for (b, m) in zip(base, moved) {
          let tol = tolerances[b.dtype]
          for (x, y) in zip(b.storage, m.storage) where !tol.agrees(x, y, scale: s) {
            result.append(i)
            break trials
          }
        }
      }
    }
    return result
  }
}
