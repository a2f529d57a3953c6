import Foundation
import IR
import Inference
import Operators
import Symbolic
import Tensors

/// Held-out accuracy of a rule: records kept out of inference, then judged by the rule.
public struct HeldOut: Hashable, Sendable, Codable {
  /// Held-out valid and invalid records.
  public var valid = 0
  public var invalid = 0
  /// Invalid calls the rule accepts (the generator would make invalid models).
  public var falseValid = 0
  /// Valid calls the rule rejects (lost diversity).
  public var falseInvalid = 0
  /// Valid calls the rule accepts with other output shapes.
  public var wrongShape = 0

  public init() {}

  public static func + (a: HeldOut, b: HeldOut) -> HeldOut {
    var s = a
    s.valid += b.valid
    s.invalid += b.invalid
    s.falseValid += b.falseValid
    s.falseInvalid += b.falseInvalid
    s.wrongShape += b.wrongShape
    return s
  }
}

/// The inferred rule of one partial operator, as stored in `Rules/<target>/<op>.json`.
///
/// Expressions are text in the `Dim`/`Constraint` syntax (`(X.2 + pads.0 + pads.2 - W.2) / strides.0
/// + 1`), over the template's symbol names.
public struct LearnedPartial: Hashable, Sendable, Codable {
  public var key: String
  public var template: CallTemplate
  public var symbols: [String]
  /// Per output, per dimension.
  public var outputs: [[Dim]]
  /// Conjunction of predicates a call must satisfy.
  public var requires: [Constraint]
  /// Training records: valid, invalid, valid ones every output expression explains, invalid ones
  /// the predicates reject.
  public var valid: Int
  public var invalid: Int
  public var support: Int
  public var rejected: Int
  /// Every training record explained and rejected; only complete rules are used for generation.
  public var complete: Bool
  public var heldOut: HeldOut
  /// Inference seconds (not part of the rule; varies run to run).
  public var seconds: Double
  /// Output dtypes of the valid calls (operators the catalogue lacks need them to be generated).
  public var outputDTypes: [DType]?
  /// Per symbol, the smallest and largest value among the valid training calls: the domain an
  /// operator the catalogue lacks is generated in (the rule was never seen outside it).
  public var validRanges: [[Int]]?

  /// The rule over an instance: each symbol replaced by the instance's dim or attribute (in
  /// `symbols` order, see `CallTemplate.bindings`); `nil` if the counts differ.
  public func instantiated(_ bound: [Dim]) -> Rule? {
    guard bound.count == symbols.count else { return nil }
    let names = Dictionary(zip(symbols, bound), uniquingKeysWith: { a, _ in a })
    return Rule(
      requires: requires.map { $0.replacing { names[$0] } },
      outputs: outputs.map { $0.map { $0.replacing { names[$0] } } })
  }

  /// The rule as an `InferredRule` (for `apply`).
  public var rule: InferredRule {
    InferredRule(
      symbolNames: symbols, outputs: outputs, requires: requires, support: support,
      outputSupport: outputs.map { $0.map { _ in support } }, validRecords: valid, invalidRecords: invalid,
      rejectedInvalid: rejected, complete: complete, seconds: seconds)
  }
}

/// `Rules/<target>/<op>.json`: every partial operator learned for one operator of one target.
public struct RulesFile: Hashable, Sendable, Codable {
  public var op: String
  public var target: String
  /// Partial operators traced that had no valid call at all (nothing to learn from).
  public var withoutValidCalls: [String]
  public var partials: [LearnedPartial]
  /// Seconds spent on this operator: tracing plus inference.
  public var seconds: Double

  public init(
    op: String, target: String, withoutValidCalls: [String], partials: [LearnedPartial], seconds: Double
  ) {
    self.op = op
    self.target = target
    self.withoutValidCalls = withoutValidCalls
    self.partials = partials
    self.seconds = seconds
  }

  /// Pretty, key-sorted JSON ending in a newline.
  public func encoded() -> Data {
    let e = JSONEncoder()
    e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    // Plain values only: encoding cannot fail.
    var d = (try? e.encode(self)) ?? Data()
    d.append(0x0A)
    return d
  }

  /// Reads a rules file; the error names the file and the problem.
  public static func read(_ path: String) throws(RulebookError) -> RulesFile {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw RulebookError("\(path): cannot read the file")
    }
    do {
      return try JSONDecoder().decode(RulesFile.self, from: data)
    } catch {
      throw RulebookError("\(path): not a rules file: \(Graph.describe(error))")
    }
  }

  /// Every rules file of a target directory (`Rules/<target>`), by file name.
  public static func readAll(_ directory: String) throws(RulebookError) -> [RulesFile] {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
      throw RulebookError("\(directory): no such rules directory (run `dlsmith infer-rules` first)")
    }
    var out: [RulesFile] = []
    for n in names.sorted() where n.hasSuffix(".json") { out.append(try read("\(directory)/\(n)")) }
    return out
  }
}

/// A rules or records file problem, naming the file.
public struct RulebookError: Error, CustomStringConvertible, Sendable {
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

/// Learns rules from traced records: a seeded 20% of each partial operator's records is held out,
/// the rest goes to the `Synthesizer`, and the rule is judged on the held-out part. The budget is
/// per operator: its partial operators share it, each taking an equal part of what is left (so
/// easy ones leave time to the hard ones).
public struct Learner: Sendable {
  public var synthesizer: Synthesizer
  public var seed: UInt64
  /// Valid training records a rule needs to count as complete: a rule consistent with one or two
  /// valid calls is a guess, not a rule.
  public var minimumSupport = 8

  public init(budgetSeconds: Double = 8, seed: UInt64 = 1) {
    synthesizer = Synthesizer(budgetSeconds: budgetSeconds)
    self.seed = seed
  }

  /// Whether a record is held out (one in five, by a hash of its symbols; none of an operator
  /// without symbols, which has exactly one call).
  public func isHeldOut(_ r: Record) -> Bool {
    !r.symbols.isEmpty
      && stableHash("\(seed):" + r.symbols.map(String.init).joined(separator: ",")) % 5 == 0
  }

  /// The rule of one traced partial operator, or `nil` when it has no valid call.
  public func learn(_ traced: TracedPartial, budgetSeconds: Double? = nil, hint: LearnedPartial? = nil)
    -> LearnedPartial?
  {
    guard traced.records.records.contains(where: \.isValid) else { return nil }
    var synthesizer = synthesizer
    if let budgetSeconds { synthesizer.budgetSeconds = budgetSeconds }
    let symbols = traced.template.symbols.count
    var training = traced.records
    training.records = traced.records.records.filter { !isHeldOut($0) }
    let held = traced.records.records.filter(isHeldOut)
    let inferred = synthesizer.infer(training, hint: hint?.rule)
    return LearnedPartial(
      key: traced.template.key, template: traced.template, symbols: inferred.symbolNames,
      outputs: inferred.outputs, requires: inferred.requires, valid: inferred.validRecords,
      invalid: inferred.invalidRecords, support: inferred.support, rejected: inferred.rejectedInvalid,
      complete: inferred.complete && inferred.validRecords >= (symbols == 0 ? 1 : minimumSupport),
      heldOut: Learner.judge(inferred, on: held, ranks: training.partial.outputRanks),
      seconds: inferred.seconds, outputDTypes: traced.outputDTypes,
      validRanges: Learner.ranges(training.records.filter(\.isValid).map(\.symbols), count: symbols))
  }

  /// Shares predicates between the partial operators of one operator: a partial operator takes
  /// every predicate of a sibling over the same symbols (the same operator with other dtypes) that
  /// holds on all its own valid training calls, and every equality `a == b` between symbols that
  /// are equal on all its valid training calls when a chosen equality already ties each of them to
  /// something (closing `scale == bias`, `x.1 == mean` into `x.1 == scale`). A condition the traces
  /// of one partial operator happened not to witness is then still required; rules stay consistent
  /// with their training records, and held-out counts are recomputed.
  public func consolidate(_ learned: [LearnedPartial], traced: [TracedPartial]) -> [LearnedPartial] {
    let byKey = Dictionary(traced.map { ($0.template.key, $0) }, uniquingKeysWith: { a, _ in a })
    return learned.map { p in
      guard let t = byKey[p.key] else { return p }
      let training = t.records.records.filter { !isHeldOut($0) }
      let valid = training.filter(\.isValid).map(\.symbols).filter { $0.count == p.symbols.count }
      guard !valid.isEmpty else { return p }
      func holds(_ c: Constraint) -> Bool {
        valid.allSatisfy { row in c.evaluated(in: Dictionary(uniqueKeysWithValues: zip(p.symbols, row))) }
      }
      var requires = p.requires
      for q in learned where q.key != p.key && q.symbols == p.symbols {
        for c in q.requires where !requires.contains(c) && holds(c) { requires.append(c) }
      }
      // Equality closure over symbols already constrained by an equality.
      var tied = Set<String>()
      for c in requires {
        if case .compare(.eq, .symbol(let a), .symbol(let b)) = c { tied.formUnion([a, b]) }
      }
      let names = p.symbols.filter(tied.contains)
      for (i, a) in names.enumerated() {
        for b in names[(i + 1)...] {
          let e: Constraint = Dim.symbol(a) .== .symbol(b)
          if !requires.contains(e) && !requires.contains(Dim.symbol(b) .== .symbol(a)) && holds(e) {
            requires.append(e)
          }
        }
      }
      guard requires.count > p.requires.count else { return p }
      var out = p
      out.requires = requires
      let rule = out.rule
      out.rejected = training.filter { !$0.isValid && rule.apply($0.symbols) == nil }.count
      out.heldOut = Learner.judge(
        rule, on: t.records.records.filter(isHeldOut), ranks: t.records.partial.outputRanks)
      return out
    }
  }

  /// Per symbol, `[min, max]` over the rows.
  static func ranges(_ rows: [[Int]], count: Int) -> [[Int]] {
    (0..<count).map { i in
      let column = rows.compactMap { i < $0.count ? $0[i] : nil }
      return [column.min() ?? 0, column.max() ?? 0]
    }
  }

  /// How a rule fares on records it did not see.
  public static func judge(_ rule: InferredRule, on records: [Record], ranks: [Int]) -> HeldOut {
    var h = HeldOut()
    for r in records {
      let predicted = rule.apply(r.symbols)
      if let outputs = r.outputs {
        guard outputs.map(\.count) == ranks else { continue }
        h.valid += 1
        if let predicted {
          if predicted != outputs { h.wrongShape += 1 }
        } else {
          h.falseInvalid += 1
        }
      } else {
        h.invalid += 1
        if predicted != nil { h.falseValid += 1 }
      }
    }
    return h
  }

}

/// Records on disk: `Rules/records/<target>/<op>/p<k>.jsonl`, one file per partial operator — a
/// `# template: {json}` comment line, then the `RecordSet` JSON-lines text (header, then one line
/// per call, see `RecordSet`).
public enum RecordFiles {
  /// Writes one operator's records, replacing earlier ones.
  public static func write(_ traced: [TracedPartial], op: String, directory: String) throws {
    let dir = "\(directory)/\(CallTemplate.usable(op))"
    try? FileManager.default.removeItem(atPath: dir)
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    for (k, t) in traced.enumerated() {
      let header = String(decoding: try e.encode(t.template), as: UTF8.self)
      let dtypes = String(decoding: try e.encode(t.outputDTypes), as: UTF8.self)
      let text = "# template: \(header)\n# output dtypes: \(dtypes)\n" + t.records.encoded()
      try Data(text.utf8).write(to: URL(fileURLWithPath: "\(dir)/p\(k).jsonl"))
    }
  }

  /// Reads one operator's records back.
  public static func read(op: String, directory: String) throws(RulebookError) -> [TracedPartial] {
    let dir = "\(directory)/\(CallTemplate.usable(op))"
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else {
      throw RulebookError("\(dir): no records for '\(op)'")
    }
    var out: [TracedPartial] = []
    let ordered = names.filter { $0.hasSuffix(".jsonl") }.sorted {
      (Int($0.dropFirst().dropLast(6)) ?? 0) < (Int($1.dropFirst().dropLast(6)) ?? 0)
    }
    for n in ordered {
      let path = "\(dir)/\(n)"
      guard let data = FileManager.default.contents(atPath: path) else {
        throw RulebookError("\(path): cannot read the file")
      }
      let text = String(decoding: data, as: UTF8.self)
      guard let first = text.split(separator: "\n", maxSplits: 1).first, first.hasPrefix("# template: "),
        let template = try? JSONDecoder().decode(
          CallTemplate.self, from: Data(first.dropFirst("# template: ".count).utf8))
      else { throw RulebookError("\(path): line 1: expected '# template: {json}'") }
      let lines = text.split(separator: "\n", maxSplits: 2)
      let dtypes =
        lines.count > 1 && lines[1].hasPrefix("# output dtypes: ")
        ? try? JSONDecoder().decode(
          [DType]?.self, from: Data(lines[1].dropFirst("# output dtypes: ".count).utf8))
        : nil
      do {
        out.append(
          TracedPartial(
            template: template, records: try RecordSet(decoding: text), outputDTypes: dtypes ?? nil))
      } catch {
        throw RulebookError("\(path): \(error)")
      }
    }
    return out
  }
}
