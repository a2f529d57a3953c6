import Foundation
import Inference
import Operators
import Tensors

/// One `dlsmith infer-rules` run: trace (or read the records of) each operator of a target, learn
/// a rule per partial operator, write `Rules/<target>/<op>.json`.
public struct RuleInference {
  public var trace: TraceOptions
  public var learner: Learner
  /// `Rules`: rules go to `<root>/<target>/`, records to `<root>/records/<target>/`.
  public var root: String
  /// Learn from the records already on disk instead of calling the target.
  public var fromRecords: Bool

  public init(trace: TraceOptions, learner: Learner, root: String, fromRecords: Bool) {
    self.trace = trace
    self.learner = learner
    self.root = root
    self.fromRecords = fromRecords
  }

  public func rulesDirectory(_ target: String) -> String { "\(root)/\(target)" }
  public func recordsDirectory(_ target: String) -> String { "\(root)/records/\(target)" }

  /// Traces and learns every operator in `ops`, writing one rules file each.
  public func run(
    _ ops: [String], on target: some TraceTarget, log: (String) -> Void
  ) throws -> [RulesFile] {
    try FileManager.default.createDirectory(
      atPath: rulesDirectory(target.name), withIntermediateDirectories: true)
    var files: [RulesFile] = []
    for op in ops {
      let started = ContinuousClock.now
      let traced: [TracedPartial]
      var empty: [String] = []
      if fromRecords {
        traced = try RecordFiles.read(op: op, directory: recordsDirectory(target.name))
      } else {
        let t = Tracer(options: trace).trace(op, on: target)
        traced = t.partials
        empty = t.withoutValidCalls
        try RecordFiles.write(traced, op: op, directory: recordsDirectory(target.name))
      }
      let traceSeconds = (ContinuousClock.now - started) / .seconds(1)
      var learned: [LearnedPartial] = []
      let deadline = ContinuousClock.now + .milliseconds(Int(learner.synthesizer.budgetSeconds * 1000))
      for (i, t) in traced.enumerated() {
        let left = Swift.max(0.05, (deadline - ContinuousClock.now) / .seconds(1)) / Double(traced.count - i)
        // A sibling over the same symbols (the same operator with other dtypes) seeds the search.
        let hint = learned.last { $0.support == $0.valid && $0.symbols == t.template.symbols.map(\.name) }
        if let l = learner.learn(t, budgetSeconds: left, hint: hint) {
          learned.append(l)
        } else {
          empty.append(t.template.key)
        }
      }
      learned = learner.consolidate(learned, traced: traced)
      let seconds = (ContinuousClock.now - started) / .seconds(1)
      let file = RulesFile(
        op: op, target: target.name, withoutValidCalls: empty, partials: learned, seconds: seconds)
      try file.encoded().write(
        to: URL(fileURLWithPath: "\(rulesDirectory(target.name))/\(CallTemplate.usable(op)).json"))
      files.append(file)
      let complete = learned.filter(\.complete).count
      let records = traced.reduce(0) { $0 + $1.records.records.count }
      log(
        "\(op): \(learned.count) partial operators with valid calls (\(complete) complete), "
          + "\(empty.count) without, \(records) records, \(String(format: "%.2f", seconds)) s "
          + "(tracing \(String(format: "%.2f", traceSeconds)) s)")
    }
    return files
  }
}

/// The `infer-rules --report` summary of one target's rules files.
public struct RulesReport: Sendable {
  public var target: String
  public var operators = 0
  /// Operators with at least one complete rule.
  public var operatorsWithRules = 0
  public var partials = 0
  public var partialsWithoutValidCalls = 0
  public var complete = 0
  public var heldOut = HeldOut()
  /// Held-out counts of the complete rules alone.
  public var heldOutComplete = HeldOut()
  /// Complete rules with no held-out false-valid call: those the generator uses.
  public var usable = 0
  public var secondsPerOperator: [Double] = []

  public init(target: String, files: [RulesFile]) {
    self.target = target
    operators = files.count
    for f in files {
      partials += f.partials.count
      partialsWithoutValidCalls += f.withoutValidCalls.count
      if f.partials.contains(where: \.complete) { operatorsWithRules += 1 }
      for p in f.partials {
        if p.complete {
          complete += 1
          heldOutComplete = heldOutComplete + p.heldOut
        }
        if LearnedSpecs.usable(p) { usable += 1 }
        heldOut = heldOut + p.heldOut
      }
      secondsPerOperator.append(f.seconds)
    }
  }

  static func percent(_ a: Int, _ b: Int) -> String {
    b == 0 ? "n/a" : String(format: "%.1f%%", 100 * Double(a) / Double(b))
  }

  /// The text report.
  public var text: String {
    let sorted = secondsPerOperator.sorted()
    let mean = sorted.isEmpty ? 0 : sorted.reduce(0, +) / Double(sorted.count)
    return """
      target \(target): \(operators) operators, \(operatorsWithRules) with a complete rule
        partial operators: \(partials) with valid calls (+\(partialsWithoutValidCalls) without any valid call)
        complete rules: \(complete)/\(partials) (\(RulesReport.percent(complete, partials)))
        held-out false-valid: \(heldOut.falseValid)/\(heldOut.invalid) invalid calls accepted (\(RulesReport.percent(heldOut.falseValid, heldOut.invalid)))
        held-out false-invalid: \(heldOut.falseInvalid)/\(heldOut.valid) valid calls rejected (\(RulesReport.percent(heldOut.falseInvalid, heldOut.valid))), \(heldOut.wrongShape) with wrong shapes
        complete rules on held-out calls: false-valid \(heldOutComplete.falseValid)/\(heldOutComplete.invalid), false-invalid \(heldOutComplete.falseInvalid)/\(heldOutComplete.valid), wrong shapes \(heldOutComplete.wrongShape)
        usable for generation (complete, no held-out false-valid): \(usable)/\(partials)
        seconds per operator: mean \(String(format: "%.2f", mean)), max \(String(format: "%.2f", sorted.last ?? 0))
      """
  }
}

/// Inferred rules against the hand-written ones: both judge the same random calls.
public struct Equivalence: Sendable {
  /// Calls judged, calls where the verdicts differ, and a few examples.
  public var instances = 0
  public var acceptedByInferredOnly = 0
  public var acceptedByHandWrittenOnly = 0
  public var differentShapes = 0
  public var examples: [String] = []

  public var disagreements: Int { acceptedByInferredOnly + acceptedByHandWrittenOnly + differentShapes }

  /// Checks every complete partial of `file` on `instances` calls each: random symbol vectors
  /// (the tracer's sampler) and one-symbol mutations of them, judged by the operator's type
  /// checker (the hand-written rule) and by the inferred rule.
  public static func check(
    _ file: RulesFile, target: SpecTarget, instances: Int = 10_000, seed: UInt64 = 7
  ) -> Equivalence {
    var e = Equivalence()
    for p in file.partials where p.complete {
      var rng = SplitMix64(seed: seed ^ stableHash(p.key))
      let roles = p.template.symbols.map(\.role)
      let rule = p.rule
      var valid: [[Int]] = []
      for i in 0..<instances {
        var v: [Int]
        if !valid.isEmpty && !roles.isEmpty && i % 2 == 1 {
          v = rng.pick(valid)
          let k = rng.int(in: 0...(v.count - 1))
          v[k] += rng.pick([-3, -2, -1, 1, 2, 3])
        } else {
          v = Tracer.sample(roles, reuse: rng.pick([0.3, 0.6, 0.9]), &rng)
        }
        e.instances += 1
        let inferred = rule.apply(v)
        let hand: [[Int]]?
        if case .valid(let shapes, _) = target.check(p.template.call(v)) { hand = shapes } else { hand = nil }
        if hand != nil && valid.count < 256 { valid.append(v) }
        guard inferred != hand else { continue }
        switch (inferred, hand) {
        case (.some, nil): e.acceptedByInferredOnly += 1
        case (nil, .some): e.acceptedByHandWrittenOnly += 1
        default: e.differentShapes += 1
        }
        if e.examples.count < 3 {
          e.examples.append(
            "\(p.key) at [\(v.map(String.init).joined(separator: ","))]: inferred \(inferred.map { "\($0)" } ?? "invalid"), hand-written \(hand.map { "\($0)" } ?? "invalid")"
          )
        }
      }
    }
    return e
  }
}
