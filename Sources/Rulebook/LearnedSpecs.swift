import Inference
import Operators
import Symbolic
import Tensors

/// How the generator gets an operator's shape rule (`dlsmith generate --method`).
public enum GenerationMethod: String, Sendable, CaseIterable {
  /// Hand-written specs only.
  case spec
  /// Inferred rules only: operators without a usable inferred rule are left out.
  case rules
  /// Concrete recorded valid calls only (NeuRI's "records").
  case records
  /// Hand-written specs, inferred rules and recorded calls, as NeuRI's hybrid.
  case hybrid
}

/// Operator specs built from learned rules: the operator's signature and kernels, with the shape
/// rule replaced by the inferred one (or by its recorded valid calls), so the generator, `verify()`
/// and the backends treat them like hand-written specs.
public enum LearnedSpecs {
  /// Whether a learned partial is used for generation: complete on its training records and
  /// never accepting an invalid held-out call.
  public static func usable(_ p: LearnedPartial) -> Bool { p.complete && p.heldOut.falseValid == 0 }

  /// The specs for `method`, in catalogue order (`base`): for `rules`, one spec per operator with a
  /// usable learned partial; for `records`, one per operator with recorded valid calls; `hybrid`
  /// is the hand-written spec, then the rules and records variants (same id, so the generator
  /// draws among them and the model verifies against the hand-written rule).
  public static func specs(
    _ method: GenerationMethod, base: [OperatorSpec], rules: [RulesFile], records: [String: [TracedPartial]]
  ) -> [OperatorSpec] {
    let files = Dictionary(rules.map { ($0.op, $0) }, uniquingKeysWith: { a, _ in a })
    var out: [OperatorSpec] = []
    for spec in base {
      let inferred = files[spec.id].flatMap { inferredSpec(spec, $0) }
      let recorded = records[spec.id].flatMap { recordedSpec(spec, $0) }
      switch method {
      case .spec: out.append(spec)
      case .rules: if let inferred { out.append(inferred) }
      case .records: if let recorded { out.append(recorded) }
      case .hybrid:
        out.append(spec)
        if let inferred { out.append(inferred) }
        if let recorded { out.append(recorded) }
      }
    }
    return out
  }

  /// `spec` with the inferred rule of the partial operator an instance falls in; instances of
  /// partial operators never learned (or not usable) get no rule, so the generator draws again.
  public static func inferredSpec(_ spec: OperatorSpec, _ file: RulesFile) -> OperatorSpec? {
    let table = Dictionary(
      file.partials.filter(usable).map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
    guard !table.isEmpty else { return nil }
    return spec.replacingRule { ctx in
      guard
        let key = SpecTarget.key(
          spec, ranks: ctx.inputs.map(\.count), dtypes: ctx.dtypes, attributes: ctx.attributes),
        let p = table[key], let bound = p.template.bindings(operands: ctx.inputs, attributes: ctx.attributes)
      else { return nil }
      return p.instantiated(bound)
    }
  }

  /// `spec` whose rule admits exactly the recorded valid calls of an instance's partial operator:
  /// of the recorded calls that agree with the instance's already-concrete dims, the first in a
  /// fixed order (by a hash of those dims, so it is deterministic and varies between instances).
  public static func recordedSpec(_ spec: OperatorSpec, _ traced: [TracedPartial]) -> OperatorSpec? {
    var entries: [String: (CallTemplate, [Record])] = [:]
    for t in traced {
      let valid = t.records.records.filter(\.isValid)
      if !valid.isEmpty { entries[t.template.key] = (t.template, valid) }
    }
    let table = entries
    guard !table.isEmpty else { return nil }
    return spec.replacingRule { ctx in
      guard
        let key = SpecTarget.key(
          spec, ranks: ctx.inputs.map(\.count), dtypes: ctx.dtypes, attributes: ctx.attributes),
        let (template, records) = table[key],
        let bound = template.bindings(operands: ctx.inputs, attributes: ctx.attributes)
      else { return nil }
      let fits = records.filter { r in
        r.symbols.count == bound.count
          && zip(bound, r.symbols).allSatisfy { d, v in d.constantValue.map { $0 == v } ?? true }
      }
      guard !fits.isEmpty else { return nil }
      let concrete = bound.map { $0.constantValue.map(String.init) ?? "?" }.joined(separator: ",")
      let pick = fits[Int(stableHash(concrete) % UInt64(fits.count))]
      return Rule(
        requires: zip(bound, pick.symbols).map { d, v in d .== .constant(v) },
        outputs: pick.outputs!.map { $0.map(Dim.constant) })
    }
  }
}

// MARK: - Operators the catalogue lacks

extension LearnedSpecs {
  /// ONNX operators whose output shapes depend on input values, not only on shapes: their rules
  /// hold for the traces' values only, so the generator does not use them.
  public static let dataDependentShapes: Set<String> = ["NonZero", "Unique", "NonMaxSuppression", "Compress"]

  /// The prefix of learned ONNX operators' ids: `onnx.<OpType>.<k>` for partial operator `k`.
  public static let onnxPrefix = "onnx."

  /// One spec per usable partial operator of an ONNX operator our catalogue lacks (rules learned
  /// from onnxruntime): fixed ranks and dtypes, integer attributes and shape-like inputs as
  /// attributes within the values seen in valid calls, the inferred rule, and two string
  /// attributes the ONNX exporter reads — `onnx_op` (the op type) and `onnx_layout` (the input
  /// list: `x` a data input, `-` omitted, `=name:dtype` / `=name:dtype:scalar` a shape-like input
  /// from attribute `in_name`, `#name:dtype:v,v` a constant input; `@name:v,v` a fixed ints
  /// attribute). They have no reference kernel: models using them run on external targets only
  /// (`dlsmith fuzz --oracle ort-noopt`).
  public static func onnxSpecs(_ file: RulesFile) -> [OperatorSpec] {
    guard !dataDependentShapes.contains(file.op) else { return [] }
    var out: [OperatorSpec] = []
    for (k, p) in file.partials.enumerated() where usable(p) {
      if let spec = onnxSpec(file.op, p, id: "\(onnxPrefix)\(file.op).\(k)") { out.append(spec) }
    }
    return out
  }

  static func onnxSpec(_ op: String, _ p: LearnedPartial, id: String) -> OperatorSpec? {
    guard let dtypes = p.outputDTypes, dtypes.count == p.template.outputs,
      dtypes.allSatisfy({ DType.generated.contains($0) }), p.outputs.count == dtypes.count
    else { return nil }
    let symbols = p.template.symbols
    let ranges = p.validRanges ?? symbols.map { _ in [1, 8] }
    guard ranges.count == symbols.count else { return nil }
    var next = 0
    func range(_ n: Int) -> ClosedRange<Int> {
      let lo = (next..<(next + n)).map { ranges[$0][0] }.min() ?? 0
      let hi = (next..<(next + n)).map { ranges[$0][1] }.max() ?? 0
      next += n
      return lo...Swift.max(lo, hi)
    }
    var inputs: [InputSpec] = []
    var attributes: [AttributeSpec] = []
    var layout: [String] = []
    for o in p.template.operands {
      switch o {
      case .absent: layout.append("-")
      case .tensor(let name, let dtype, let rank):
        guard DType.generated.contains(dtype) else { return nil }
        inputs.append(InputSpec(name, ranks: .exactly(rank), TypeConstraint(nil, [dtype])))
        layout.append("x")
        next += rank
      case .value(let name, let dtype, let length):
        let r = range(length < 0 ? 1 : length)
        attributes.append(AttributeSpec("in_\(name)", length < 0 ? .int(r) : .ints(.fixed(length), r)))
        layout.append("=\(name):\(dtype.rawValue)" + (length < 0 ? ":scalar" : ""))
      case .constant(let name, let dtype, let values):
        layout.append("#\(name):\(dtype.rawValue):" + values.map(String.init).joined(separator: ","))
      }
    }
    for name in p.template.attributeNames {
      switch p.template.attributes[name]! {
      case .int: attributes.append(AttributeSpec(name, .int(range(1))))
      case .ints(let l): attributes.append(AttributeSpec(name, .ints(.fixed(l), range(l))))
      case .fixed(.int(let v)): attributes.append(AttributeSpec(name, .int(v...v)))
      case .fixed(.ints(let vs)): layout.append("@\(name):" + vs.map(String.init).joined(separator: ","))
      case .fixed(.string(let s)): attributes.append(AttributeSpec(name, .choice([s])))
      case .fixed(.float(let f)), .float(let f): attributes.append(AttributeSpec(name, .float(f...f)))
      }
    }
    attributes.append(AttributeSpec("onnx_op", .choice([op])))
    attributes.append(AttributeSpec("onnx_layout", .choice([layout.joined(separator: ";")])))
    let template = p.template
    let rule = p
    // Integer data inputs hold what the traces fed them (python/dlsmith_trace.py): 0 for index
    // inputs (valid whatever the indexed dim), 1 for the others (a divisor, a shift, a count).
    let indexNames: Set<String> = ["indices", "I", "batch_indices", "target", "labels"]
    let integerInputs: [ValueDomain?] = inputs.map { input in
      guard !input.dtypes.allowed.allSatisfy(\.isFloat) else { return nil }
      return indexNames.contains(input.name) ? .within(0, 0) : .within(1, 1)
    }
    return OperatorSpec(
      id: id, family: .onnx,
      doc: "ONNX \(op) as onnxruntime runs it (\(p.key)); shape rule inferred from \(p.valid) valid "
        + "and \(p.invalid) invalid calls. No reference kernel.",
      inputs: inputs, outputTypes: dtypes.map(OutputType.fixed), attributes: attributes,
      rule: { ctx in
        template.bindings(operands: ctx.inputs, attributes: ctx.attributes).flatMap(rule.instantiated)
      },
      domain: { _ in integerInputs },
      reference: { _, _ in [] })
  }
}
