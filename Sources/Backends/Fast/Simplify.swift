import IR
import Kernels
import Operators
import Tensors

extension RewriteRule {
  static let constantFold = RewriteRule(
    "constant-folding.fold", "a node whose inputs are all constants becomes constants holding its results")
  static let algebraicMulOne = RewriteRule(
    "algebraic.mul-one", "x * 1 and 1 * x become x (the 1 not broadcasting x larger)")
  static let algebraicDivOne = RewriteRule("algebraic.div-one", "x / 1 becomes x")
  static let algebraicAddZero = RewriteRule("algebraic.add-zero", "x + 0 and 0 + x become x")
  static let algebraicSubZero = RewriteRule("algebraic.sub-zero", "x - 0 becomes x")
  static let algebraicCastIdentity = RewriteRule(
    "algebraic.cast-identity", "a cast to the dtype x already has becomes x")
  static let algebraicTransposeIdentity = RewriteRule(
    "algebraic.transpose-identity", "a transpose with the identity permutation becomes x")
  static let algebraicTransposeTranspose = RewriteRule(
    "algebraic.transpose-transpose", "a transpose of a transpose used once becomes one composed transpose")
  static let algebraicReshapeIdentity = RewriteRule(
    "algebraic.reshape-identity", "a reshape, flatten, squeeze or unsqueeze that keeps x's shape becomes x")
  static let algebraicReshapeChain = RewriteRule(
    "algebraic.reshape-chain",
    "a reshape, flatten, squeeze or unsqueeze of another one used once becomes one reshape")

  /// The neutral-element rule of each binary operator `algebraic` simplifies.
  static let algebraicNeutral: [String: RewriteRule] = [
    "mul": algebraicMulOne, "div": algebraicDivOne, "add": algebraicAddZero, "sub": algebraicSubZero,
  ]
}

extension Pass {
  /// Largest constant (in elements) that folding may create.
  static let maxFoldedElements = 1 << 16

  /// Evaluates nodes whose inputs are all constants with the fast kernels and replaces them with
  /// constants holding the results (as a compiler folds at build time, in its own arithmetic).
  public static let constantFolding = Pass(
    name: "constant-folding",
    summary: "constant folding: evaluate nodes whose inputs are all constants at compile time",
    rules: [.constantFold]
  ) { g, fired in
    var g = g
    var known: [ValueID: FastTensor] = [:]
    for c in g.constants where FastTensor.supported.contains(c.type.dtype) {
      known[c.id] = FastTensor(c.tensor)
    }
    var kept: [Node] = []
    for (i, n) in g.nodes.enumerated() {
      let args = n.inputs.compactMap { known[$0] }
      guard args.count == n.inputs.count, FastKernels.table[n.op] != nil,
        n.types.allSatisfy({ FastTensor.supported.contains($0.dtype) && $0.elementCount <= maxFoldedElements }
        ),
        let results = try? FastBackend.run(n, args, index: i)
      else {
        kept.append(n)
        continue
      }
      fired.record(.constantFold)
      for (v, r) in zip(n.outputs, results) {
        known[v] = r
        let t = r.tensor
        let finite = t.storage.filter(\.isFinite)
        g.constants.append(
          Constant(
            id: v, type: TensorType(t.dtype, t.shape), range: Interval(finite.min() ?? 0, finite.max() ?? 0),
            seed: 0, data: t.storage))
      }
    }
    g.nodes = kept
    return deadCode.apply(g, counting: &fired)
  }

  /// Local identities: `x * 1`, `x / 1`, `x + 0`, `x - 0` (when the constant does not broadcast `x`
  /// to a larger shape), casts to the same dtype, identity transposes and reshapes, transpose of
  /// transpose (composed), and chains of reshape/flatten/squeeze/unsqueeze (one reshape).
  public static let algebraic = Pass(
    name: "algebraic",
    summary:
      "algebraic simplification: x*1, x+0, identity casts/transposes/reshapes, transpose and reshape chains",
    rules: [
      .algebraicMulOne, .algebraicDivOne, .algebraicAddZero, .algebraicSubZero, .algebraicCastIdentity,
      .algebraicTransposeIdentity, .algebraicTransposeTranspose, .algebraicReshapeIdentity,
      .algebraicReshapeChain,
    ]
  ) { g, fired in
    var g = g
    var changed = true
    while changed {
      changed = false
      let constants = g.constantsByID
      let producers = g.producers
      let uses = g.useCounts
      for (i, n) in g.nodes.enumerated() {
        // The value `n` can be replaced by, if any, and the rule that says so.
        var forward: (value: ValueID, rule: RewriteRule)?
        switch n.op {
        case "mul", "div", "add", "sub":
          let neutral: Double = (n.op == "mul" || n.op == "div") ? 1 : 0
          let commutative = n.op == "mul" || n.op == "add"
          for (x, c) in [(0, 1), (1, 0)] where x == 0 || commutative {
            if let k = constants[n.inputs[c]], k.isUniform(neutral),
              k.type.elementCount <= n.types[0].elementCount,
              g.types[n.inputs[x]] == n.types[0]
            {
              forward = (n.inputs[x], RewriteRule.algebraicNeutral[n.op]!)
              break
            }
          }
        case "cast":
          if g.types[n.inputs[0]] == n.types[0] { forward = (n.inputs[0], .algebraicCastIdentity) }
        case "transpose":
          let perm = n.attributes.ints("perm")
          if perm == Array(perm.indices) {
            forward = (n.inputs[0], .algebraicTransposeIdentity)
          } else if let p = producers[n.inputs[0]], g.nodes[p].op == "transpose", uses[n.inputs[0]] == 1 {
            let inner = g.nodes[p].attributes.ints("perm")
            g.nodes[i].inputs = g.nodes[p].inputs
            g.nodes[i].attributes["perm"] = .ints(perm.map { inner[$0] })
            fired.record(.algebraicTransposeTranspose)
            changed = true
          }
        case "reshape", "flatten", "squeeze", "unsqueeze":
          if g.types[n.inputs[0]] == n.types[0] {
            forward = (n.inputs[0], .algebraicReshapeIdentity)
          } else if let p = producers[n.inputs[0]],
            ["reshape", "flatten", "squeeze", "unsqueeze"].contains(g.nodes[p].op),
            uses[n.inputs[0]] == 1, (1...4).contains(n.types[0].shape.count)
          {
            g.nodes[i] = Node(
              op: "reshape", inputs: g.nodes[p].inputs, outputs: n.outputs,
              attributes: Attributes(["shape": .ints(n.types[0].shape)]), types: n.types)
            fired.record(.algebraicReshapeChain)
            changed = true
          }
        default: break
        }
        if let (x, rule) = forward, !(g.outputs.contains(n.outputs[0]) && g.outputs.contains(x)) {
          g.replaceUses(of: n.outputs[0], with: x)
          fired.record(rule)
          changed = true
        }
        if changed { break }
      }
      if changed { g = deadCode.apply(g, counting: &fired) }
    }
    return g
  }
}
