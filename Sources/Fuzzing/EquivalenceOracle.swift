import IR
import Operators
import Tensors

/// Compares one target's outputs on a model (`first`) with its outputs on an equivalent form of it
/// (`second`, `EquivalentForms`): the target against itself, no reference needed.
///
/// Per output, in order (the first that differs is the verdict):
/// 1. dtype and shape must be equal (`mismatch`);
/// 2. **exact-only forms**: an output whose value is exact in the original graph (`Oracle`'s
///    notion: built from inputs and constants by correctly rounded IEEE operations, selections and
///    data movement, on this target: `computedAs` and `approximateOps` count) must agree bit for
///    bit, NaN equal to NaN and `-0` equal to `+0` (ONNX leaves the sign of a zero min/max/reduce
///    result open, and the oracle does not tell where it pins it). A difference within the dtype's
///    tolerance is a `rounding` mismatch, as for the reference oracle;
/// 3. every other output (approximate values, and every output of a form with an inexact rewrite)
///    agrees within the dtype's tolerance at its operating scale. Even on an exact-only form an
///    approximate value may legitimately change bits: a target picks another kernel or another
///    summation order for another (equivalent) graph, a fused transpose, a vectorized body instead
///    of a scalar tail;
/// 4. a value difference downstream of a discontinuous operator whose approximate float inputs sit
///    near a discontinuity is `unstable`, not a mismatch: with the original's reference values, as
///    `Oracle.unstableNodes` decides it (every value of a form with an inexact rewrite counts as
///    approximate there); without them (operators without a reference kernel), any discontinuous
///    ancestor with a computed float input makes it unstable. Quantized outputs within the
///    target's `quantizedSlack` are unstable too.
///
/// The operating scale is the reference's (`Oracle.scales`) when reference values are given, else
/// the largest magnitude of the propagated value ranges among the output's ancestors and of the two
/// outputs themselves.
public struct EquivalenceOracle: Sendable {
  /// Tolerances, operators and what this target computes approximately (`Oracle.for(_:)`).
  public var oracle: Oracle

  public init(oracle: Oracle = Oracle()) { self.oracle = oracle }

  /// - Parameters:
  ///   - original: the model as generated; `first` are the target's outputs on it.
  ///   - form: its equivalent form; `second` are the target's outputs on `form.graph`.
  ///   - reference: every value of the reference run of `original`, when the reference can run it.
  public func verdict(
    original: Graph, form: EquivalentForm, first: [Tensor], second: [Tensor],
    reference: [ValueID: Tensor]? = nil
  ) -> Verdict {
    guard first.count == original.outputs.count, second.count == first.count else {
      return .mismatch(
        Discrepancy(
          kind: .outputCount, output: -1, expectedType: "\(first.count)", actualType: "\(second.count)"))
    }
    let exactForm = form.isExact
    let exact = exactValues(original, reference)
    let formExact = exactValues(form.graph, nil)
    let scale = reference.map { oracle.scales(original, $0) } ?? [:]
    var rangeScale: [ValueID: Double]?
    for (k, id) in original.outputs.enumerated() {
      let (e, a) = (first[k], second[k])
      if let d = Oracle.typeDiscrepancy(e, a, output: id) { return .mismatch(d) }
      let bitwise =
        exactForm && e.dtype.isFloat && exact.contains(id) && formExact.contains(form.graph.outputs[k])
      let approximate = oracle.tolerance(e.dtype)
      let s: Double
      if let r = scale[id] {
        s = r
      } else {
        if rangeScale == nil { rangeScale = rangeScales(original) }
        s = [rangeScale![id] ?? 1, magnitude(e), magnitude(a)].max()!
      }
      guard var d = oracle.compare(e, a, tolerance: bitwise ? .exact : approximate, scale: s) else {
        continue
      }
      d.output = id
      d.expectedType = "\(TensorType(e.dtype, e.shape))"
      d.actualType = "\(TensorType(a.dtype, a.shape))"
      if bitwise {
        if oracle.compare(e, a, tolerance: approximate, scale: s) == nil { d.kind = .rounding }
        return .mismatch(d)
      }
      if e.dtype.isQuantized && d.maxAbsoluteError <= oracle.quantizedSlack {
        return .unstable(d, nodes: original.ancestors(of: id))
      }
      let sensitive: [Int]
      if let reference {
        // Values of a form with an inexact rewrite are all approximate: only inputs and constants
        // reach the target unchanged.
        let inputs = Set(original.inputs.map(\.id)).union(original.constants.map(\.id))
        sensitive = oracle.unstableNodes(
          original, reference, scale: scale, exact: exactForm ? exact : inputs, upstreamOf: id)
      } else {
        sensitive =
          discontinuousAncestors(original, exact: exactForm ? exact : [], of: id)
          + discontinuousAncestors(form.graph, exact: exactForm ? formExact : [], of: form.graph.outputs[k])
      }
      return sensitive.isEmpty ? .mismatch(d) : .unstable(d, nodes: sensitive)
    }
    return .agree
  }

  /// `Oracle.exactValues` with the reference's values, or structurally without them: a cast from
  /// a float to an integer type is then never exact (whether its inputs are in range is unknown).
  func exactValues(_ graph: Graph, _ values: [ValueID: Tensor]?) -> Set<ValueID> {
    if let values { return oracle.exactValues(graph, values) }
    let types = graph.types
    var exact = Set(graph.inputs.map(\.id)).union(graph.constants.map(\.id))
    for n in graph.nodes {
      guard n.inputs.allSatisfy(exact.contains), let spec = oracle.operators(n.op) else { continue }
      let inTypes = n.inputs.compactMap { types[$0]?.dtype }
      let integral = (inTypes + n.types.map(\.dtype)).allSatisfy { !$0.isFloat }
      guard spec.traits.contains(.exact) || integral else { continue }
      if n.op == "cast", let to = n.types.first?.dtype, !to.isFloat, to != .bool,
        inTypes.contains(where: \.isFloat)
      {
        continue
      }
      for (o, t) in zip(n.outputs, n.types)
      where oracle.computedAs[t.dtype] == nil && oracle.approximateOps[t.dtype]?.contains(n.op) != true {
        exact.insert(o)
      }
    }
    return exact
  }

  /// Discontinuous nodes upstream of `output` with a computed float input that is not exact.
  func discontinuousAncestors(_ graph: Graph, exact: Set<ValueID>, of output: ValueID) -> [Int] {
    let types = graph.types
    let computed = Set(graph.nodes.flatMap(\.outputs))
    return graph.ancestors(of: output).filter { i in
      let n = graph.nodes[i]
      guard oracle.operators(n.op)?.traits.contains(.discontinuous) == true else { return false }
      return n.inputs.contains {
        computed.contains($0) && !exact.contains($0) && types[$0]?.dtype.isFloat == true
      }
    }
  }

  /// For every value, the largest finite magnitude of the propagated value ranges among its
  /// ancestors (itself included).
  func rangeScales(_ graph: Graph) -> [ValueID: Double] {
    let ranges = graph.valueRanges(operators: oracle.operators)
    func m(_ v: ValueID) -> Double {
      guard let r = ranges[v] else { return 0 }
      return [r.lo, r.hi].filter(\.isFinite).map(Swift.abs).max() ?? 0
    }
    var s: [ValueID: Double] = [:]
    for i in graph.inputs { s[i.id] = m(i.id) }
    for c in graph.constants { s[c.id] = m(c.id) }
    for n in graph.nodes {
      let upstream = n.inputs.map { s[$0] ?? 0 }.max() ?? 0
      for o in n.outputs { s[o] = Swift.max(upstream, m(o)) }
    }
    return s
  }

  private func magnitude(_ t: Tensor) -> Double {
    guard t.dtype.isFloat || t.dtype.isInteger else { return 0 }
    var m = 0.0
    for x in t.storage where x.isFinite { m = Swift.max(m, Swift.abs(x)) }
    return m
  }
}
