import Inference
import Operators
import Symbolic

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
        let p = table[key], let bound = p.template.bindings(operands: ctx.inputs, attributes: ctx.attributes),
        bound.count == p.symbols.count
      else { return nil }
      let names = Dictionary(zip(p.symbols, bound), uniquingKeysWith: { a, _ in a })
      return Rule(
        requires: p.requires.map { $0.replacing { names[$0] } },
        outputs: p.outputs.map { $0.map { $0.replacing { names[$0] } } })
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
      let pick = fits[Int(Tracer.stableHash(concrete) % UInt64(fits.count))]
      return Rule(
        requires: zip(bound, pick.symbols).map { d, v in d .== .constant(v) },
        outputs: pick.outputs!.map { $0.map(Dim.constant) })
    }
  }
}
