import IR
import Operators
import Tensors

/// Which generated models get special values (`EdgeValues`), and where.
///
/// A model gets them with probability `GeneratorOptions.edgeRate`, decided by a generator derived
/// from the model seed, after the model is complete: so the model's structure and ordinary values
/// are what they are without special values, and `edgeRate` 0 draws exactly the same models.
///
/// In a chosen model every float graph input whose consumers are all float operators with a
/// reference kernel (no quantized, binarized or spiking operator: their exact arithmetic has no
/// NaN) gets special values with probability 0.7, at least one: a nonempty random subset of the
/// kinds, replacing 5%, 15% or 40% of its elements. Seeded float constants get them with
/// probability 0.3, finite kinds only (weights are never NaN or infinite). `.bound` is offered only
/// where a consumer is a `clip`, at its bounds. And each `clip` gets its bounds crossed (`min >
/// max`, which ONNX defines as `max` everywhere) with probability 0.3: the one structural change, so
/// a model with special values is its seed's model up to values and crossed clips.
public enum EdgeValuePlan {
  static let excluded: Set<OperatorSpec.Family> = [.quantized, .binarized, .spiking, .onnx]
  static let shares = [0.05, 0.15, 0.4]

  /// `graph` with special values on some of its inputs and constants, or unchanged.
  public static func assign(
    _ graph: Graph, rate: Double, seed: UInt64, operators: OperatorLookup = Catalogue.spec
  ) -> Graph {
    guard rate > 0 else { return graph }
    var rng = SplitMix64(seed: seed).derived(0xED6E_5A1E)
    guard rng.chance(rate) else { return graph }
    var consumers: [ValueID: [Node]] = [:]
    for n in graph.nodes { for v in Set(n.inputs) { consumers[v, default: []].append(n) } }
    func eligible(_ id: ValueID, _ type: TensorType) -> Bool {
      guard type.dtype.isFloat, let uses = consumers[id], !uses.isEmpty else { return false }
      return uses.allSatisfy { n in
        guard let spec = operators(n.op) else { return false }
        return !excluded.contains(spec.family)
      }
    }
    func bounds(_ id: ValueID) -> [Double] {
      var b: [Double] = []
      for n in consumers[id] ?? [] where n.op == "clip" {
        b.append(n.attributes.float("min"))
        b.append(n.attributes.float("max"))
      }
      return b
    }
    func draw(finiteOnly: Bool, bounds: [Double]) -> EdgeValues {
      var pool = EdgeValues.Kind.allCases.filter { (!finiteOnly || $0.isFinite) }
      if bounds.isEmpty { pool.removeAll { $0 == .bound } }
      var kinds = pool.filter { _ in rng.chance(0.35) }
      if kinds.isEmpty { kinds = [rng.pick(pool)] }
      return EdgeValues(share: rng.pick(shares), kinds: kinds, bounds: bounds)
    }
    var g = graph
    let candidates = g.inputs.indices.filter { eligible(g.inputs[$0].id, g.inputs[$0].type) }
    guard !candidates.isEmpty else { return graph }
    var chosen = candidates.filter { _ in rng.chance(0.7) }
    if chosen.isEmpty { chosen = [rng.pick(candidates)] }
    for i in chosen { g.inputs[i].edges = draw(finiteOnly: false, bounds: bounds(g.inputs[i].id)) }
    for i in g.constants.indices
    where g.constants[i].data == nil && eligible(g.constants[i].id, g.constants[i].type) && rng.chance(0.3) {
      g.constants[i].edges = draw(finiteOnly: true, bounds: bounds(g.constants[i].id))
    }
    // Crossed clip bounds: ONNX Clip gives `max` everywhere when `min > max`.
    for i in g.nodes.indices where g.nodes[i].op == "clip" && rng.chance(0.3) {
      let a = g.nodes[i].attributes
      let (lo, hi) = (a.float("min"), a.float("max"))
      guard lo < hi else { continue }
      g.nodes[i].attributes.values["min"] = .float(hi)
      g.nodes[i].attributes.values["max"] = .float(lo)
    }
    return g
  }
}
