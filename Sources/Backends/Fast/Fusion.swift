import IR
import Kernels
import Operators
import Tensors

extension RewriteRule {
  static let bnFoldConv = RewriteRule(
    "bn-folding.conv", "batch_norm of a conv1d/conv2d with constant weights folds into a fused_conv")
  static let bnFoldFusedConv = RewriteRule(
    "bn-folding.fused-conv",
    "batch_norm of an NCHW fused_conv without activation folds into its weights and bias")
  static let fusionConv = RewriteRule(
    "fusion.conv", "f32 conv1d/conv2d becomes fused_conv (zero bias, no activation)")
  static let fusionMatmul = RewriteRule(
    "fusion.matmul", "f32 matmul becomes fused_matmul (zero bias, no activation)")
  static let fusionGemm = RewriteRule("fusion.gemm", "f32 gemm becomes fused_gemm (no activation)")
  static let fusionConvBias = RewriteRule(
    "fusion.conv-bias", "a per-channel constant add after a fused_conv joins its bias")
  static let fusionMatmulBias = RewriteRule(
    "fusion.matmul-bias", "a constant add along the last axis after a fused_matmul joins its bias")
  static let fusionConvActivation = RewriteRule(
    "fusion.conv-activation", "a fusible unary op after a fused_conv becomes its activation")
  static let fusionMatmulActivation = RewriteRule(
    "fusion.matmul-activation", "a fusible unary op after a fused_matmul becomes its activation")
  static let fusionGemmActivation = RewriteRule(
    "fusion.gemm-activation", "a fusible unary op after a fused_gemm becomes its activation")
  static let elementwisePair = RewriteRule(
    "elementwise-fusion.pair", "two fusible unary ops, the first used once, become an elementwise_chain")
  static let elementwiseExtend = RewriteRule(
    "elementwise-fusion.extend",
    "an elementwise_chain and a fusible unary op or chain next to it become one chain")

  /// The rules of the canonical fused forms, and of absorbing a bias add or an activation, by fused op.
  static let fusionCanonical: [String: RewriteRule] = [
    "conv1d": fusionConv, "conv2d": fusionConv, "matmul": fusionMatmul, "gemm": fusionGemm,
  ]
  static let fusionBias: [String: RewriteRule] = [
    "fused_conv": fusionConvBias, "fused_matmul": fusionMatmulBias,
  ]
  static let fusionActivation: [String: RewriteRule] = [
    "fused_conv": fusionConvActivation, "fused_matmul": fusionMatmulActivation,
    "fused_gemm": fusionGemmActivation,
  ]
}

extension Pass {
  /// Folds an inference `batch_norm` that follows a convolution with constant weights into the
  /// convolution: `w' = w * s`, `b' = (b - mean) * s + bias` with `s = scale / sqrt(var + eps)` per
  /// output channel, computed in float64 and rounded into the weights' dtype.
  public static let batchNormFolding = Pass(
    name: "bn-folding",
    summary: "batch_norm folding into the preceding conv (constant weights and statistics)",
    rules: [.bnFoldConv, .bnFoldFusedConv]
  ) { g, fired in
    var g = g
    var changed = true
    while changed {
      changed = false
      let producers = g.producers
      let uses = g.useCounts
      let constants = g.constantsByID
      for bn in g.nodes where bn.op == "batch_norm" {
        guard let p = producers[bn.inputs[0]], uses[bn.inputs[0]] == 1 else { continue }
        let conv = g.nodes[p]
        let isConv = conv.op == "conv1d" || conv.op == "conv2d"
        let isFused =
          conv.op == "fused_conv" && conv.attributes["layout"] == .string("nchw")
          && FusedOperators.activation(conv.attributes) == nil
        guard isConv || isFused, let w = constants[conv.inputs[1]],
          let scale = constants[bn.inputs[1]], let shift = constants[bn.inputs[2]],
          let mean = constants[bn.inputs[3]], let variance = constants[bn.inputs[4]]
        else { continue }
        let oldBias = isFused ? constants[conv.inputs[2]] : nil
        if isFused && oldBias == nil { continue }
        let eps = bn.attributes.float("epsilon")
        let wt = w.tensor
        let o = wt.shape[0]
        let per = wt.count / o
        let (sc, sh, mu, va) = (
          scale.tensor.storage, shift.tensor.storage, mean.tensor.storage, variance.tensor.storage
        )
        let b0 = oldBias?.tensor.storage ?? [Double](repeating: 0, count: o)
        var newW = wt.storage
        var newB = [Double](repeating: 0, count: o)
        for c in 0..<o {
          let s = sc[c] / (va[c] + eps).squareRoot()
          for k in 0..<per { newW[c * per + k] *= s }
          newB[c] = (b0[c] - mu[c]) * s + sh[c]
        }
        let wID = g.addConstant(Tensor(rounding: newW, dtype: wt.dtype, shape: wt.shape))
        let bID = g.addConstant(Tensor(rounding: newB, dtype: wt.dtype, shape: [o]))
        var attrs = Attributes()
        for k in ["strides", "pads", "dilations", "group"] { attrs[k] = conv.attributes[k] }
        attrs["layout"] = .string("nchw")
        attrs["activation"] = .string("none")
        let fused = Node(
          op: "fused_conv", inputs: [conv.inputs[0], wID, bID], outputs: bn.outputs, attributes: attrs,
          types: bn.types)
        let bi = g.nodes.firstIndex { $0.outputs == bn.outputs }!
        g.nodes[bi] = fused
        g.nodes.remove(at: p)
        fired.record(isFused ? .bnFoldFusedConv : .bnFoldConv)
        changed = true
        break
      }
    }
    return deadCode.apply(g, counting: &fired)
  }

  /// Turns conv1d/conv2d into `fused_conv`, matmul into `fused_matmul` and gemm into `fused_gemm`,
  /// then absorbs a following constant per-channel bias `add` and a following unary activation into
  /// the fused node's epilogue (each absorbed value must have no other use).
  public static let linearFusion = Pass(
    name: "fusion", summary: "conv/gemm/matmul fusion with a following bias add and activation",
    rules: [
      .fusionConv, .fusionMatmul, .fusionGemm, .fusionConvBias, .fusionMatmulBias, .fusionConvActivation,
      .fusionMatmulActivation, .fusionGemmActivation,
    ]
  ) { g, fired in
    var g = g
    // 1. Canonical fused forms.
    for i in g.nodes.indices {
      let n = g.nodes[i]
      guard n.types.allSatisfy({ $0.dtype == .f32 }) else { continue }
      if let rule = RewriteRule.fusionCanonical[n.op] { fired.record(rule) }
      switch n.op {
      case "conv1d", "conv2d":
        let o = n.types[0].shape[1]
        let b = g.addConstant(Tensor(dtype: .f32, shape: [o], storage: .init(repeating: 0, count: o)))
        var a = n.attributes
        a["layout"] = .string("nchw")
        a["activation"] = .string("none")
        g.nodes[i] = Node(
          op: "fused_conv", inputs: n.inputs + [b], outputs: n.outputs, attributes: a, types: n.types)
      case "matmul":
        let last = n.types[0].shape.last!
        let b = g.addConstant(Tensor(dtype: .f32, shape: [last], storage: .init(repeating: 0, count: last)))
        g.nodes[i] = Node(
          op: "fused_matmul", inputs: n.inputs + [b], outputs: n.outputs,
          attributes: Attributes(["activation": .string("none")]), types: n.types)
      case "gemm":
        var a = n.attributes
        a["activation"] = .string("none")
        g.nodes[i] = Node(
          op: "fused_gemm", inputs: n.inputs, outputs: n.outputs, attributes: a, types: n.types)
      default: break
      }
    }
    // 2. Absorb bias adds and activations.
    var changed = true
    while changed {
      changed = false
      let producers = g.producers
      let uses = g.useCounts
      let constants = g.constantsByID
      for (i, n) in g.nodes.enumerated() {
        guard let pIndex = n.inputs.first.flatMap({ producers[$0] }), uses[n.inputs[0]] == 1,
          !g.outputs.contains(n.inputs[0])
        else { continue }
        let p = g.nodes[pIndex]
        guard ["fused_conv", "fused_matmul", "fused_gemm"].contains(p.op),
          p.attributes["activation"] == .string("none")
        else { continue }
        var merged = p
        merged.outputs = n.outputs
        merged.types = n.types
        if n.op == "add", p.op != "fused_gemm", n.types == p.types,
          let other = n.inputs.count == 2 ? n.inputs[1] : nil, let c = constants[other],
          case let biasIndex = 2, let oldBias = constants[p.inputs[biasIndex]],
          let add = channelBias(
            c, output: p.types[0],
            channelAxis: p.op == "fused_conv"
              ? (p.attributes["layout"] == .string("nhwc") ? 3 : 1) : p.types[0].shape.count - 1)
        {
          let newBias = zip(oldBias.tensor.storage, add).map { $0 + $1 }
          merged.inputs[biasIndex] = g.addConstant(
            Tensor(rounding: newBias, dtype: .f32, shape: [newBias.count]))
          fired.record(RewriteRule.fusionBias[p.op]!)
        } else if FusedOperators.isFusibleUnary(n.op), n.types == p.types {
          merged.attributes["activation"] = .string(FusedOperators.chainText([(n.op, n.attributes)]))
          fired.record(RewriteRule.fusionActivation[p.op]!)
        } else {
          continue
        }
        g.nodes[i] = merged
        g.nodes.remove(at: pIndex)
        changed = true
        break
      }
    }
    return deadCode.apply(g, counting: &fired)
  }

  /// The per-channel values a constant adds when broadcast against `output`, if it is constant along
  /// every axis but `channelAxis` (and does not enlarge the output).
  static func channelBias(_ c: Constant, output: TensorType, channelAxis: Int) -> [Double]? {
    let r = output.shape.count
    guard c.type.shape.count <= r, c.type.dtype == output.dtype else { return nil }
    let padded = [Int](repeating: 1, count: r - c.type.shape.count) + c.type.shape
    let channels = output.shape[channelAxis]
    for (axis, d) in padded.enumerated() where d != 1 && !(axis == channelAxis && d == channels) {
      return nil
    }
    let values = c.tensor.storage
    return padded[channelAxis] == 1 ? [Double](repeating: values[0], count: channels) : values
  }

  /// Replaces maximal runs of unary elementwise operators (each intermediate used once, not a graph
  /// output) with one `elementwise_chain` node that makes a single pass over memory.
  public static let elementwiseFusion = Pass(
    name: "elementwise-fusion",
    summary: "elementwise chain fusion: runs of unary ops become one single-pass node",
    rules: [.elementwisePair, .elementwiseExtend]
  ) { g, fired in
    var g = g
    var changed = true
    while changed {
      changed = false
      let producers = g.producers
      let uses = g.useCounts
      for (i, n) in g.nodes.enumerated() {
        guard let steps = chainSteps(n), let p = producers[n.inputs[0]], uses[n.inputs[0]] == 1,
          !g.outputs.contains(n.inputs[0]), let before = chainSteps(g.nodes[p]), g.nodes[p].types == n.types
        else { continue }
        let fused = Node(
          op: "elementwise_chain", inputs: g.nodes[p].inputs, outputs: n.outputs,
          attributes: Attributes(["chain": .string(FusedOperators.chainText(before + steps))]), types: n.types
        )
        let extends = n.op == "elementwise_chain" || g.nodes[p].op == "elementwise_chain"
        fired.record(extends ? .elementwiseExtend : .elementwisePair)
        g.nodes[i] = fused
        g.nodes.remove(at: p)
        changed = true
        break
      }
    }
    return g
  }

  /// The chain steps a node stands for, if it is a fusible unary op or a chain (f32 only).
  static func chainSteps(_ n: Node) -> [(String, Attributes)]? {
    guard n.types.count == 1, n.types[0].dtype == .f32 else { return nil }
    if n.op == "elementwise_chain", case .string(let text) = n.attributes["chain"] {
      return FusedOperators.parseChain(text)
    }
    guard FusedOperators.isFusibleUnary(n.op),
      n.attributes.values.values.allSatisfy({ if case .float = $0 { true } else { false } })
    else { return nil }
    return [(n.op, n.attributes)]
  }
}
