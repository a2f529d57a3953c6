import Backends
import IR
import Kernels
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
///
/// **Exactness.** Every value is either *exact* or *approximate* (`exactValues`). Graph inputs and
/// constants are exact; a node's outputs are exact when its operator is declared `.exact`
/// (correctly rounded IEEE operations, comparisons, selections, casts, data movement) and all its
/// inputs are exact, or when it maps exact integers to integers. Every faithful implementation
/// produces an exact value bit for bit, so exact float outputs are compared bit for bit (`-0 == +0`,
/// NaN == NaN): a target that skips or adds a rounding step in an f16/bf16 graph differs there by an
/// ulp, far below the dtype's tolerance, and is caught (`Discrepancy.Kind.rounding`). Approximate
/// values (transcendentals, order-free reductions, matmul/conv accumulation) keep the tolerances,
/// and only approximate values are perturbed by the discontinuity guard: a floor of an exact value
/// is not a near-tie, it is the one right answer. A target that computes a dtype at another
/// precision (`computedAs`, found by `dlsmith probe`: OpenVINO runs f64 as f32) has no exact values
/// of that dtype and is judged at the tolerance of the precision it uses.
public struct Oracle: Sendable {
  public var tolerances: Tolerances
  public var operators: OperatorLookup
  /// Quantization steps an i8/u8 output may differ by and be judged `unstable` instead of a mismatch.
  public var quantizedSlack: Double = 0
  /// Dtypes the target computes at another precision (f64 → f32), or without rounding between
  /// operators (f16 → f32): values of these dtypes are approximate and judged at the looser of the
  /// two tolerances.
  public var computedAs: [DType: DType] = [:]
  /// Operators whose results in a dtype are approximate on the target (`PrecisionProbe`: fused
  /// multiply-adds, approximate division): never exact.
  public var approximateOps: [DType: Set<String>] = [:]

  /// The tolerance for values of `dtype` on this target.
  public func tolerance(_ dtype: DType) -> Tolerance {
    let own = tolerances[dtype]
    return computedAs[dtype].map { own.loosened(by: tolerances[$0]) } ?? own
  }

  /// The slack for targets that receive models as ONNX (external implementations of the ONNX
  /// quantized operators), 0 for the rest.
  public static func quantizedSlack(external: Bool) -> Double { external ? 1 : 0 }

  /// This oracle for one target: external (ONNX) targets get at least one quantization step.
  public func `for`(_ target: BackendTarget) -> Oracle {
    var o = self
    o.quantizedSlack = Swift.max(quantizedSlack, Oracle.quantizedSlack(external: target.sendsONNX))
    o.computedAs.merge(target.computedAs) { a, _ in a }
    for (d, ops) in target.approximateOps { o.approximateOps[d, default: []].formUnion(ops) }
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
    let exact = exactValues(graph, reference)
    // The reference rerun under each implementation choice, computed at the first difference.
    var choices: ChoiceRuns?? = .none
    // A difference ONNX leaves open at one output does not hide a mismatch at a later one.
    var firstUnstable: Verdict?
    for (k, id) in graph.outputs.enumerated() {
      guard let e = reference[id] else { continue }
      let a = actual[k]
      if let d = Oracle.typeDiscrepancy(e, a, output: id) { return .mismatch(d) }
      let bitwise = e.dtype.isFloat && exact.contains(id)
      var approximate = tolerance(e.dtype)
      var difference = compare(e, a, tolerance: bitwise ? .exact : approximate, scale: scale[id] ?? 1)
      // f64 values that depend on a constant ONNX leaves at float32 or exact (HardSwish's 1/6):
      // looked up only when the value differs, off the path of the models that agree.
      if difference != nil, !bitwise, e.dtype == .f64, dependsOnFloat32Constants(graph, id) {
        approximate = approximate.loosened(by: tolerance(.f32))
        difference = compare(e, a, tolerance: approximate, scale: scale[id] ?? 1)
      }
      if var d = difference {
        d.output = id
        d.expectedType = "\(TensorType(e.dtype, e.shape))"
        d.actualType = "\(TensorType(a.dtype, a.shape))"
        // Elements whose value ONNX leaves to the implementation (special values through max,
        // casts, a zero's sign, ...) are not compared; a difference only there is `unstable`.
        if choices == nil { choices = .some(choiceRuns(graph, reference)) }
        var skip: [Bool]? = nil
        if let runs = choices ?? nil {
          let tol = bitwise ? Tolerance.exact : approximate
          let mask = runs.unpinned(output: k, expected: e, tolerance: tol, scale: scale[id] ?? 1)
          if mask.contains(true) {
            guard var rest = compare(e, a, tolerance: tol, scale: scale[id] ?? 1, skipping: mask) else {
              let ancestors = Set(graph.ancestors(of: id))
              firstUnstable = firstUnstable ?? .unstable(d, nodes: runs.changed.filter(ancestors.contains))
              continue
            }
            rest.output = id
            rest.expectedType = d.expectedType
            rest.actualType = d.actualType
            d = rest
            skip = mask
          }
        }
        if bitwise && compare(e, a, tolerance: approximate, scale: scale[id] ?? 1, skipping: skip) == nil {
          d.kind = .rounding
        }
        if e.dtype.isQuantized && d.maxAbsoluteError <= quantizedSlack {
          firstUnstable = firstUnstable ?? .unstable(d, nodes: graph.ancestors(of: id))
          continue
        }
        let sensitive = unstableNodes(graph, reference, scale: scale, exact: exact, upstreamOf: id)
        if sensitive.isEmpty { return .mismatch(d) }
        firstUnstable = firstUnstable ?? .unstable(d, nodes: sensitive)
      }
    }
    return firstUnstable ?? .agree
  }

  /// The value discrepancy between two same-shaped tensors, or `nil` if they agree; elements
  /// where `skipping` is true are not compared.
  func compare(_ e: Tensor, _ a: Tensor, tolerance: Tolerance, scale: Double, skipping: [Bool]? = nil)
    -> Discrepancy?
  {
    var d = Discrepancy(kind: .values, output: -1, expectedType: "", actualType: "")
    for i in 0..<e.storage.count where skipping?[i] != true {
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

  /// Whether `output` depends on an operator declared `.float32Constants`.
  func dependsOnFloat32Constants(_ graph: Graph, _ output: ValueID) -> Bool {
    graph.ancestors(of: output).contains {
      operators(graph.nodes[$0].op)?.traits.contains(.float32Constants) == true
    }
  }

  /// The values every faithful implementation computes bit for bit (see the type's doc): graph
  /// inputs, constants, and outputs of `.exact` operators (or of integer-to-integer nodes) whose
  /// inputs are all exact. A cast from float to an integer type is exact only when every input
  /// value is in the target type's range (out-of-range casts are undefined in ONNX). Dtypes in
  /// `computedAs` are never exact.
  public func exactValues(_ graph: Graph, _ values: [ValueID: Tensor]) -> Set<ValueID> {
    var exact = Set(graph.inputs.map(\.id)).union(graph.constants.map(\.id))
    for n in graph.nodes {
      guard n.inputs.allSatisfy(exact.contains), let spec = operators(n.op) else { continue }
      let inputTypes = n.inputs.compactMap { values[$0]?.dtype }
      let integral = (inputTypes + n.types.map(\.dtype)).allSatisfy { !$0.isFloat }
      guard spec.traits.contains(.exact) || integral else { continue }
      if n.op == "cast", let to = n.types.first?.dtype, !to.isFloat, to != .bool,
        let x = n.inputs.first.flatMap({ values[$0] }), x.dtype.isFloat,
        !x.storage.allSatisfy({
          $0.isFinite && to.rounded($0.rounded(.towardZero)) == $0.rounded(.towardZero)
        })
      {
        continue
      }
      for (o, t) in zip(n.outputs, n.types)
      where computedAs[t.dtype] == nil && approximateOps[t.dtype]?.contains(n.op) != true {
        exact.insert(o)
      }
    }
    return exact
  }

  /// Indices of discontinuous nodes upstream of `output` whose result changes when their
  /// approximate float inputs move within tolerance.
  func unstableNodes(
    _ graph: Graph, _ values: [ValueID: Tensor], scale: [ValueID: Double], exact: Set<ValueID> = [],
    upstreamOf output: ValueID
  ) -> [Int] {
    var result: [Int] = []
    // Only approximate computed values can differ between faithful implementations: graph inputs
    // and constants reach every backend bit for bit, and exact values are computed bit for bit.
    let computedValues = Set(graph.nodes.flatMap(\.outputs)).subtracting(exact)
    for i in graph.ancestors(of: output) {
      let node = graph.nodes[i]
      guard let spec = operators(node.op), spec.traits.contains(.discontinuous) else { continue }
      let inputs = node.inputs.compactMap { values[$0] }
      let computed = node.inputs.map { computedValues.contains($0) }
      guard inputs.count == node.inputs.count,
        zip(inputs, computed).contains(where: { $0.dtype.isFloat && $1 })
      else { continue }
      let base = spec.evaluate(inputs, attributes: node.attributes)
      let s = node.inputs.map { scale[$0] ?? 1 }.max() ?? 1
      var rng = SplitMix64(seed: UInt64(i))
      /// How far a faithful implementation may be from `x`: its dtype's tolerance at this scale.
      func reach(_ x: Double, _ dtype: DType) -> Double {
        let tol = tolerance(dtype)
        return tol.atol * Swift.max(1, s) + tol.rtol * Swift.abs(x)
      }
      func changes(_ perturbed: [Tensor]) -> Bool {
        let moved = spec.evaluate(perturbed, attributes: node.attributes)
        for (b, m) in zip(base, moved) {
          let tol = tolerance(b.dtype)
          for (x, y) in zip(b.storage, m.storage) where !tol.agrees(x, y, scale: s) { return true }
        }
        return false
      }
      // Trials 0–11 move every element by its tolerance: all up, all down, then inputs in opposite
      // directions (even-numbered inputs up and odd down, then the reverse: a comparison of a value
      // with its own copy is a tie either way), then random signs per element; trials 12–13 snap
      // every element to a grid of the absolute tolerance, which makes values that are equal within
      // tolerance exactly equal (equality cannot be reached by moving values apart).
      var unstable = false
      trials: for trial in 0..<14 {
        let perturbed = zip(inputs, computed).enumerated().map { k, pair -> Tensor in
          let (t, isComputed) = pair
          guard t.dtype.isFloat && isComputed else { return t }
          let grid = reach(0, t.dtype)  // the absolute tolerance
          return Tensor(
            dtype: t.dtype, shape: t.shape,
            storage: t.storage.map { x in
              if trial >= 12 {
                let offset = trial == 12 ? 0 : grid / 2
                return t.dtype.rounded(((x + offset) / grid).rounded() * grid - offset)
              }
              let sign: Double =
                switch trial {
                case 0: 1
                case 1: -1
                case 2: k % 2 == 0 ? 1 : -1
                case 3: k % 2 == 0 ? -1 : 1
                default: rng.chance(0.5) ? 1 : -1
                }
              return t.dtype.rounded(x + sign * reach(x, t.dtype))
            })
        }
        if changes(perturbed) {
          unstable = true
          break trials
        }
      }
      // Then each computed operand of a binary node moved onto the other operand where they are
      // within its tolerance: a computed value 1 ulp from a graph input's (which neither a move by
      // the whole tolerance nor the grid reaches) is a tie that a faithful implementation can
      // break either way (`Equal(Sinh(x), y)`: onnxruntime's f32 sinh is within 2 ulps).
      if !unstable, inputs.count == 2, let out = Shape.broadcast(inputs[0].shape, inputs[1].shape) {
        for (p, q) in [(0, 1), (1, 0)] where computed[p] && inputs[p].dtype.isFloat {
          let (a, b) = (inputs[p], inputs[q])
          let (offA, offB) = (
            Reference.broadcastOffsets(from: a.shape, to: out),
            Reference.broadcastOffsets(from: b.shape, to: out)
          )
          var moved = a.storage
          for (oa, ob) in zip(offA, offB) {
            let (x, y) = (a.storage[oa], b.storage[ob])
            if x != y, Swift.abs(x - y) <= reach(x, a.dtype) {
              moved[oa] = y
            }
          }
          guard moved != a.storage else { continue }
          var perturbed = inputs
          perturbed[p] = Tensor(dtype: a.dtype, shape: a.shape, storage: moved)
          if changes(perturbed) {
            unstable = true
            break
          }
        }
      }
      if unstable { result.append(i) }
    }
    return result
  }
}

/// The reference's outputs under every `ImplementationChoice`, and the nodes the choices changed.
struct ChoiceRuns {
  var outputs: [[Tensor]]
  var changed: [Int]

  /// For each element of output `k`: whether some choice moves it beyond `tolerance` from the
  /// reference's `expected` value (NaN equals NaN, -0 equals +0).
  func unpinned(output k: Int, expected: Tensor, tolerance: Tolerance, scale: Double) -> [Bool] {
    var mask = [Bool](repeating: false, count: expected.storage.count)
    for run in outputs where k < run.count && run[k].storage.count == mask.count {
      for (i, (x, y)) in zip(expected.storage, run[k].storage).enumerated()
      where !mask[i] && !tolerance.agrees(x, y, scale: scale) {
        mask[i] = true
      }
    }
    return mask
  }
}

extension Oracle {
  /// Whether a reference run holds a value an implementation choice acts on: NaN, ±inf, -0 or a
  /// subnormal of its dtype.
  static func holdsSpecialValues(_ values: [ValueID: Tensor]) -> Bool {
    values.values.contains(where: \.holdsSpecialValues)
  }

  /// The reference rerun under every implementation choice, or `nil` when no value of the run is
  /// special (then no choice changes anything) or the graph inputs are not in `reference`.
  func choiceRuns(_ graph: Graph, _ reference: [ValueID: Tensor]) -> ChoiceRuns? {
    guard Oracle.holdsSpecialValues(reference) else { return nil }
    let inputs = graph.inputs.compactMap { reference[$0.id] }
    guard inputs.count == graph.inputs.count else { return nil }
    let backend = ReferenceBackend(operators: operators)
    var runs = ChoiceRuns(outputs: [], changed: [])
    var changed = Set<Int>()
    for choices in ImplementationChoice.alternatives {
      guard let r = try? backend.run(graph, inputs: inputs, choices: choices) else { continue }
      runs.outputs.append(r.outputs)
      changed.formUnion(r.changed)
    }
    runs.changed = changed.sorted()
    return runs
  }

  /// The computed values that some implementation choice changes (as numbers: NaN equals NaN, and a
  /// zero's sign alone does not count, or every model with a -0 somewhere would have unpinned values
  /// and nothing could be localized), given every value of the reference run. Empty when the run
  /// holds no special value.
  /// The minimizer never freezes these into graph inputs: a repro must not pin what ONNX leaves open.
  public static func unpinnedValues(
    _ graph: Graph, inputs: [Tensor], values: [ValueID: Tensor],
    operators: @escaping OperatorLookup = Catalogue.spec
  ) -> Set<ValueID> {
    guard holdsSpecialValues(values) else { return [] }
    let backend = ReferenceBackend(operators: operators)
    var unpinned = Set<ValueID>()
    for choices in ImplementationChoice.alternatives {
      guard let run = try? backend.run(graph, inputs: inputs, choices: choices, keepAll: true) else {
        continue
      }
      for n in graph.nodes {
        for o in n.outputs where !unpinned.contains(o) {
          guard let a = values[o], let b = run.values[o] else { continue }
          if zip(a.storage, b.storage).contains(where: {
            $0 != $1 && !($0.isNaN && $1.isNaN)
          }) {
            unpinned.insert(o)
          }
        }
      }
    }
    return unpinned
  }

  /// A wrong dtype or shape of output `output` (`actual` against `expected`), checked before values.
  static func typeDiscrepancy(_ expected: Tensor, _ actual: Tensor, output: ValueID) -> Discrepancy? {
    let et = TensorType(expected.dtype, expected.shape)
    let at = TensorType(actual.dtype, actual.shape)
    if actual.dtype != expected.dtype {
      return Discrepancy(kind: .dtype, output: output, expectedType: "\(et)", actualType: "\(at)")
    }
    if actual.shape != expected.shape {
      return Discrepancy(kind: .shape, output: output, expectedType: "\(et)", actualType: "\(at)")
    }
    return nil
  }
}
