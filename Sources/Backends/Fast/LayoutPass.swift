import IR
import Operators
import Tensors

extension RewriteRule {
  static let layoutConvNHWC = RewriteRule(
    "layout.conv-nhwc", "a 2-D group-1 NCHW fused_conv runs in NHWC between two transposes")
  static let layoutSinkTranspose = RewriteRule(
    "layout.sink-transpose", "u(transpose(x)) becomes transpose(u(x)) for a unary u, so transposes meet")
}

extension Pass {
  /// NCHW to NHWC inside chains of 2-D convolutions.
  ///
  /// Every 2-D `fused_conv` with `group == 1` runs in NHWC (its kernel then does im2col over
  /// contiguous channels and one GEMM whose output is already NHWC), wrapped in transposes. Transposes
  /// are then sunk through unary elementwise nodes, and transpose pairs that cancel are removed, so a
  /// chain conv → activation → conv stays in NHWC and converts once at each end.
  public static let layout = Pass(
    name: "layout", summary: "layout change: NCHW to NHWC inside chains of fused 2-D convolutions",
    rules: [.layoutConvNHWC, .layoutSinkTranspose]
  ) { g, fired in
    var g = g
    let toNHWC = [0, 2, 3, 1]
    let toNCHW = [0, 3, 1, 2]
    var rewritten: [Node] = []
    var next = g.nextValueID
    for n in g.nodes {
      guard n.op == "fused_conv", n.attributes["layout"] == .string("nchw"), n.types[0].shape.count == 4,
        n.attributes["group"] == .int(1), let xType = g.types[n.inputs[0]]
      else {
        rewritten.append(n)
        continue
      }
      fired.record(.layoutConvNHWC)
      let xt = next
      let yt = next + 1
      next += 2
      let inType = TensorType(xType.dtype, toNHWC.map { xType.shape[$0] })
      let outType = TensorType(n.types[0].dtype, toNHWC.map { n.types[0].shape[$0] })
      rewritten.append(
        Node(
          op: "transpose", inputs: [n.inputs[0]], outputs: [xt],
          attributes: Attributes(["perm": .ints(toNHWC)]), types: [inType]))
      var conv = n
      conv.inputs[0] = xt
      conv.outputs = [yt]
      conv.types = [outType]
      conv.attributes["layout"] = .string("nhwc")
      rewritten.append(conv)
      rewritten.append(
        Node(
          op: "transpose", inputs: [yt], outputs: n.outputs, attributes: Attributes(["perm": .ints(toNCHW)]),
          types: n.types))
    }
    g.nodes = rewritten
    g = sinkTransposes(g, counting: &fired)
    // Transposes that meet compose to the identity and go (`algebraic` rules).
    return algebraic.apply(g, counting: &fired)
  }

  /// Moves a transpose below a unary elementwise node that is its only user: `u(T(x))` becomes
  /// `T(u(x))`, so that transposes meet and cancel.
  static func sinkTransposes(_ g: Graph, counting fired: inout RuleCounts) -> Graph {
    var g = g
    var changed = true
    while changed {
      changed = false
      let producers = g.producers
      let uses = g.useCounts
      for (i, u) in g.nodes.enumerated() {
        guard u.inputs.count == 1, u.outputs.count == 1, chainSteps(u) != nil || u.op == "elementwise_chain",
          let p = producers[u.inputs[0]], g.nodes[p].op == "transpose", uses[u.inputs[0]] == 1,
          !g.outputs.contains(u.inputs[0]), let src = g.types[g.nodes[p].inputs[0]]
        else { continue }
        // Only worth it when another transpose follows (so the pair can cancel).
        let following = g.nodes.contains { $0.op == "transpose" && $0.inputs == u.outputs }
        let preceding =
          g.nodes[p].inputs.first.flatMap { producers[$0] }.map { g.nodes[$0].op == "transpose" } ?? false
        guard following || !preceding else { continue }
        let t = g.nodes[p]
        let mid = t.outputs[0]
        var newU = u
        newU.inputs = t.inputs
        newU.outputs = [mid]
        newU.types = [TensorType(u.types[0].dtype, src.shape)]
        var newT = t
        newT.inputs = [mid]
        newT.outputs = u.outputs
        newT.types = u.types
        g.nodes[p] = newU
        g.nodes[i] = newT
        fired.record(.layoutSinkTranspose)
        changed = true
        break
      }
    }
    return g
  }
}
