import Kernels
import Operators
import Symbolic
import Tensors

/// Operators that exist only inside the fast backend, produced by its fusion passes.
///
/// Each is an ordinary `OperatorSpec` whose reference kernel is the composition of the catalogue
/// operators it replaces (each rounded into the dtype as the unfused graph would be), so a rewritten
/// graph still verifies and still has exactly the meaning of the original.
public enum FusedOperators {
  public static let all: [OperatorSpec] = [fusedConv, fusedMatmul, fusedGemm, elementwiseChain]

  static let byID: [OperatorSpec.ID: OperatorSpec] = Dictionary(uniqueKeysWithValues: all.map { ($0.id, $0) })

  /// Catalogue operators plus the fused ones.
  public static func lookup(_ id: OperatorSpec.ID) -> OperatorSpec? { Catalogue.spec(id) ?? byID[id] }

  /// The unary catalogue operators an epilogue or a chain may apply.
  public static func isFusibleUnary(_ id: OperatorSpec.ID) -> Bool {
    guard let s = Catalogue.spec(id) else { return false }
    return s.family == .unary && s.traits.contains(.elementwise) && s.inputs.count == 1
      && s.inputs[0].dtypes.allowed.contains(.f32) && s.outputTypes == [.same("T")]
  }

  // MARK: Activation epilogues

  /// The epilogue of a fused node: `activation` is "none" or one step in `elementwise_chain` syntax
  /// (`relu`, `clip min=0.0 max=6.0`).
  static let activationAttributes: [AttributeSpec] = [AttributeSpec("activation", .text)]

  /// The activation op and its attributes, if any.
  public static func activation(_ a: Attributes) -> (id: String, attributes: Attributes)? {
    guard case .string(let text) = a["activation"], text != "none", let steps = parseChain(text),
      steps.count == 1
    else {
      return nil
    }
    return steps[0]
  }

  static func applyActivation(_ t: Tensor, _ a: Attributes) -> Tensor {
    guard let (id, inner) = activation(a), let spec = Catalogue.spec(id) else { return t }
    return spec.evaluate([t], attributes: inner)[0]
  }

  // MARK: fused_conv

  /// `conv1d`/`conv2d` + per-channel bias + optional unary activation, NCHW or (2-D) NHWC layout.
  ///
  /// In NHWC layout `x` and the result are [N, H, W, C]; weights stay [O, C/group, kh, kw].
  public static let fusedConv = OperatorSpec(
    id: "fused_conv", family: .conv,
    doc:
      "Fast-backend fusion: conv (1-D or 2-D) + bias [O] + activation; layout nchw or nhwc (2-D). Reference: the catalogue ops composed, each rounded to the dtype.",
    inputs: [
      InputSpec("x", ranks: .range(3...4), .float),
      InputSpec("w", ranks: .same(as: 0), .float, role: .weight),
      InputSpec("b", ranks: .exactly(1), .float, role: .weight),
    ],
    attributes: [
      AttributeSpec("strides", .ints(.spatial(of: 0), 1...1_000)),
      AttributeSpec("pads", .ints(.twiceSpatial(of: 0), 0...1_000)),
      AttributeSpec("dilations", .ints(.spatial(of: 0), 1...1_000)),
      AttributeSpec("group", .int(1...1_000_000)), AttributeSpec("layout", .choice(["nchw", "nhwc"])),
    ] + activationAttributes,
    rule: { c in
      let nhwc = c.string("layout") == "nhwc"
      guard let conv = Catalogue.spec(c.rank(0) == 3 ? "conv1d" : "conv2d"), !(nhwc && c.rank(0) != 4) else {
        return nil
      }
      let x = nhwc ? [c[0][0], c[0][3], c[0][1], c[0][2]] : c[0]
      var attrs = c.attributes
      attrs.values["layout"] = nil
      guard let r = conv.rule(RuleContext(inputs: [x, c[1]], dtypes: c.dtypes, attributes: attrs)) else {
        return nil
      }
      var out = r.outputs[0]
      if nhwc { out = [out[0], out[2], out[3], out[1]] }
      return Rule(requires: r.requires + [c[2][0] .== c[1][0]], outputs: [out])
    },
    reference: { a, t in
      let nhwc = a["layout"] == .string("nhwc")
      let conv = Catalogue.spec(t[0].rank == 3 ? "conv1d" : "conv2d")!
      var convAttrs = Attributes()
      for k in ["strides", "pads", "dilations", "group"] { convAttrs[k] = a[k] }
      let x = nhwc ? Reference.transpose(t[0], perm: [0, 3, 1, 2]) : t[0]
      var y = conv.evaluate([x, t[1]], attributes: convAttrs)[0]
      let c = t[1].shape[0]
      let bias = Tensor(
        dtype: t[2].dtype, shape: [c] + [Int](repeating: 1, count: y.rank - 2), storage: t[2].storage)
      y = Catalogue.spec("add")!.evaluate([y, bias], attributes: Attributes())[0]
      y = applyActivation(y, a)
      return [nhwc ? Reference.transpose(y, perm: [0, 2, 3, 1]) : y]
    })

  // MARK: fused_matmul

  /// `matmul` + bias broadcast along the last dim + optional activation.
  public static let fusedMatmul = OperatorSpec(
    id: "fused_matmul", family: .matmul,
    doc:
      "Fast-backend fusion: matmul + bias [N] + activation. Reference: the catalogue ops composed, each rounded to the dtype.",
    inputs: [
      InputSpec("a", ranks: .range(2...4), .float), InputSpec("b", ranks: .range(2...4), .float),
      InputSpec("bias", ranks: .exactly(1), .float, role: .weight),
    ],
    attributes: activationAttributes,
    rule: { c in
      guard let mm = Catalogue.spec("matmul"),
        let r = mm.rule(
          RuleContext(inputs: [c[0], c[1]], dtypes: c.dtypes, attributes: SymbolicAttributes()))
      else { return nil }
      let n = r.outputs[0][r.outputs[0].count - 1]
      return Rule(requires: r.requires + [c[2][0] .== n], outputs: r.outputs)
    },
    reference: { a, t in
      var y = Catalogue.spec("matmul")!.evaluate([t[0], t[1]], attributes: Attributes())[0]
      y = Catalogue.spec("add")!.evaluate([y, t[2]], attributes: Attributes())[0]
      return [applyActivation(y, a)]
    })

  // MARK: fused_gemm

  /// `gemm` + activation.
  public static let fusedGemm: OperatorSpec = {
    let gemm = Catalogue.spec("gemm")!
    return OperatorSpec(
      id: "fused_gemm", family: .matmul,
      doc:
        "Fast-backend fusion: gemm + activation. Reference: the catalogue ops composed, each rounded to the dtype.",
      inputs: gemm.inputs, attributes: gemm.attributes + activationAttributes,
      rule: { c in
        var attrs = c.attributes
        attrs.values["activation"] = nil
        return gemm.rule(RuleContext(inputs: c.inputs, dtypes: c.dtypes, attributes: attrs))
      },
      reference: { a, t in
        var inner = a
        inner["activation"] = nil
        return [applyActivation(gemm.evaluate(t, attributes: inner)[0], a)]
      })
  }()

  // MARK: elementwise_chain

  /// A sequence of unary elementwise catalogue operators applied to one input in one pass.
  ///
  /// `chain` lists the steps separated by `|`; a step is an op id followed by its attributes as
  /// `name=value` (floats), e.g. `relu|clip min=0.0 max=6.0|sigmoid`.
  public static let elementwiseChain = OperatorSpec(
    id: "elementwise_chain", family: .unary,
    doc:
      "Fast-backend fusion of consecutive unary elementwise ops. Reference: each step's catalogue op, rounded to the dtype after each step, exactly as unfused.",
    inputs: [InputSpec("x", ranks: .range(0...8), .any)],
    attributes: [AttributeSpec("chain", .text)],
    traits: [.elementwise],
    rule: { c in
      guard let steps = parseChain(c.string("chain")), !steps.isEmpty else { return nil }
      return Rule(outputs: [c[0]])
    },
    reference: { a, t in
      guard let steps = parseChain(a.string("chain")) else { return t }
      var x = t[0]
      for (id, attrs) in steps { x = Catalogue.spec(id)!.evaluate([x], attributes: attrs)[0] }
      return [x]
    })

  public static func chainText(_ steps: [(String, Attributes)]) -> String {
    steps.map { id, attrs in
      ([id]
        + attrs.values.keys.sorted().compactMap { k in
          if case .float(let v) = attrs[k] { return "\(k)=\(v)" }
          return nil
        }).joined(separator: " ")
    }.joined(separator: "|")
  }

  public static func parseChain(_ text: String) -> [(String, Attributes)]? {
    var steps: [(String, Attributes)] = []
    for part in text.split(separator: "|") {
      let words = part.split(separator: " ")
      guard let first = words.first, isFusibleUnary(String(first)) else { return nil }
      var attrs = Attributes()
      for w in words.dropFirst() {
        let kv = w.split(separator: "=", maxSplits: 1)
        guard kv.count == 2, let v = Double(kv[1]) else { return nil }
        attrs[String(kv[0])] = .float(v)
      }
      steps.append((String(first), attrs))
    }
    return steps
  }
}
