import SMT
import Symbolic

/// A rule inferred for one partial operator: output shapes as expressions over the symbols, and
/// the predicates a call must satisfy.
public struct InferredRule: Hashable, Sendable, Codable {
  /// The symbol names the expressions use, one per symbol position.
  public var symbolNames: [String]
  /// One expression per output dimension, per output.
  public var outputs: [[Dim]]
  /// Predicates every valid call satisfies (conjunction).
  public var requires: [Constraint]
  /// Valid records on which every output expression gives the recorded dimension.
  public var support: Int
  /// Per output dimension, the valid records its expression explains.
  public var outputSupport: [[Int]]
  /// Valid records used (with the partial operator's output ranks).
  public var validRecords: Int
  /// Invalid records used.
  public var invalidRecords: Int
  /// Invalid records that some predicate rejects.
  public var rejectedInvalid: Int
  /// True when the expressions explain every valid record and the predicates reject every invalid
  /// one (NeuRI's rule validity check); an incomplete rule should fall back to records or
  /// hand-written specs.
  public var complete: Bool
  /// Wall-clock seconds the inference took.
  public var seconds: Double

  /// A rule; `Synthesizer.infer` makes them, tests and rule files may too.
  public init(
    symbolNames: [String], outputs: [[Dim]], requires: [Constraint], support: Int,
    outputSupport: [[Int]], validRecords: Int, invalidRecords: Int, rejectedInvalid: Int,
    complete: Bool, seconds: Double
  ) {
    self.symbolNames = symbolNames
    self.outputs = outputs
    self.requires = requires
    self.support = support
    self.outputSupport = outputSupport
    self.validRecords = validRecords
    self.invalidRecords = invalidRecords
    self.rejectedInvalid = rejectedInvalid
    self.complete = complete
    self.seconds = seconds
  }

  /// The output shapes for a symbol vector, or `nil` if a predicate rejects it or an expression is
  /// undefined on it.
  public func apply(_ symbols: [Int]) -> [[Int]]? {
    let e = Evaluator(names: symbolNames)
    guard requires.allSatisfy({ e.holds($0, symbols) }) else { return nil }
    var out: [[Int]] = []
    for shape in outputs {
      var dims: [Int] = []
      for d in shape {
        guard let v = e.value(d, symbols) else { return nil }
        dims.append(v)
      }
      out.append(dims)
    }
    return out
  }
}

extension InferredRule: CustomStringConvertible {
  /// `outputs: [[a, b]]; requires: p && q; support 120/120, rejected 80/80`.
  public var description: String {
    let shapes = outputs.map { "[" + $0.map(\.description).joined(separator: ", ") + "]" }
    let preds = requires.isEmpty ? "true" : requires.map(\.description).joined(separator: " && ")
    return "outputs: [\(shapes.joined(separator: ", "))]; requires: \(preds); "
      + "support \(support)/\(validRecords), rejected \(rejectedInvalid)/\(invalidRecords)"
      + (complete ? "" : " (incomplete)")
  }
}

/// NeuRI-style rule inference: shape rules and input predicates from valid and invalid records.
///
/// Each output dimension is solved on its own (decomposition):
/// 1. a constant output is a constant;
/// 2. a shared bottom-up enumeration over all varying symbols (small expressions, constants
///    0...3, `+ - * / % min max`, observational-equivalence pruning on the valid records);
/// 3. a deeper enumeration (up to 7 nodes) over the 4 symbols most related to this dimension
///    (`Relatedness`), skipped when more than 4 symbols are proven related (it cannot succeed);
/// 4. the sliding-window template `(Σ c_i·t_i + c0) / D + e`, solved with Z3 (`TemplateSolver`).
///
/// Candidates are ranked by support (valid records explained), then by size, then by how related
/// their symbols are; a stage runs only while no candidate explains every record. Predicates
/// come from `PredicateSynthesizer`. The whole inference stays within `budgetSeconds`: each stage
/// gets a share of the remaining time and reports what it has when its share runs out.
public struct Synthesizer: Sendable {
  /// Wall-clock budget per partial operator.
  public var budgetSeconds: Double
  /// Receives one line per stage (what was found, how long it took); for `--verbose` and tests.
  public var log: (@Sendable (String) -> Void)?

  /// - Parameters:
  ///   - budgetSeconds: wall-clock budget per partial operator (NeuRI used 1,000 s; 10 s is ample).
  ///   - log: optional sink for one progress line per stage.
  public init(budgetSeconds: Double = 10, log: (@Sendable (String) -> Void)? = nil) {
    self.budgetSeconds = budgetSeconds
    self.log = log
  }

  /// Symbol names usable in `Dim` text: the partial operator's, or `s<i>` where one is unusable.
  public static func symbolNames(_ p: PartialOperator, count: Int) -> [String] {
    var used = Set<String>()
    return (0..<count).map { i in
      let name = i < p.symbolNames.count ? p.symbolNames[i] : ""
      if isUsableName(name), used.insert(name).inserted { return name }
      let fallback = "s\(i)"
      used.insert(fallback)
      return fallback
    }
  }

  static func isUsableName(_ n: String) -> Bool {
    guard let first = n.first, first.isLetter || first == "_" || first == "@" else { return false }
    guard !["min", "max", "true", "false"].contains(n) else { return false }
    guard n.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." || $0 == "@" }) else {
      return false
    }
    return (try? Dim(parsing: n)) == .symbol(n)
  }

  /// Infers the rule for one partial operator.
  /// - Parameter hint: a rule of a sibling partial operator over the same symbols (the same
  ///   operator with other dtypes, say): its expressions and predicates are tried first, and kept
  ///   only where the records agree.
  public func infer(_ set: RecordSet, hint: InferredRule? = nil) -> InferredRule {
    let start = ContinuousClock.now
    let deadline = Deadline(seconds: budgetSeconds)
    let m = set.records.first?.symbols.count ?? set.partial.symbolNames.count
    let names = Self.symbolNames(set.partial, count: m)
    let ranks = set.partial.outputRanks
    var validRows: [[Int]] = []
    var outputs: [[Int]] = []
    var invalidRows: [[Int]] = []
    for r in set.records where r.symbols.count == m {
      if let o = r.outputs {
        guard o.map(\.count) == ranks else { continue }
        validRows.append(r.symbols)
        outputs.append(o.flatMap { $0 })
      } else {
        invalidRows.append(r.symbols)
      }
    }
    let evaluator = Evaluator(names: names)
    let trace = Trace(start: start, sink: log)
    trace("\(set.partial.op): \(validRows.count) valid, \(invalidRows.count) invalid, \(m) symbols")

    // Shape rules, one output dimension at a time.
    let dimCount = ranks.reduce(0, +)
    var flat: [Dim] = []
    var flatSupport: [Int] = []
    if validRows.isEmpty {
      flat = Array(repeating: .constant(0), count: dimCount)
      flatSupport = Array(repeating: 0, count: dimCount)
    } else {
      let shapeDeadline = deadline.share(0.6)
      let context = ShapeContext(
        names: names, rows: validRows, sample: PredicateSynthesizer.spread(validRows.count, limit: 256),
        related: Relatedness(rows: validRows, symbolCount: m), evaluator: evaluator, trace: trace)
      let shared = Bank(
        rows: context.sampleRows, definedRows: context.sampleRows.count, symbols: context.related.varying,
        constants: [0, 1, 2, 3])
      shared.grow(
        maxSize: context.related.varying.count <= 6 ? 5 : 3, deadline: shapeDeadline.share(0.15),
        maxEvaluations: 300_000)
      trace("shared enumeration: \(shared.count) kept of \(shared.evaluated)")
      // Broadcast outputs: the maximum of the operands' right-aligned dims at each position.
      func alignedMaximum(rank: Int, position: Int) -> [Dim] {
        var groups: [String: [Int: String]] = [:]
        for n in names {
          guard let dot = n.lastIndex(of: "."), let i = Int(n[n.index(after: dot)...]) else { continue }
          groups[String(n[..<dot]), default: [:]][i] = n
        }
        var dims: [Dim] = []
        for base in groups.keys.sorted() {
          let members = groups[base]!
          let r = members.count
          guard members.keys.sorted() == Array(0..<r), r <= rank else { continue }
          if let n = members[position - (rank - r)] { dims.append(.symbol(n)) }
        }
        guard dims.count >= 2 else { return [] }
        return [dims.dropFirst().reduce(dims[0]) { Dim.maximum($0, $1) }]
      }
      let hintDims = hint.flatMap { h in
        h.symbolNames == names && h.outputs.map(\.count) == ranks ? h.outputs.flatMap { $0 } : nil
      }
      func hinted(_ k: Int) -> [Dim] { hintDims.map { [$0[k]] } ?? [] }
      // Products of consecutive dims of one operand (flatten, reshape): too deep to enumerate.
      let runProducts = Relations.runProducts(Array(0..<m), names: names, minimumLength: 3).map {
        Dim.product($0.map { Dim.symbol(names[$0]) })
      }
      var k = 0
      for rank in ranks {
        for position in 0..<rank {
          let target = outputs.map { $0[k] }
          let dimDeadline = shapeDeadline.share(1 / Double(dimCount - k))
          let best = context.inferDimension(
            target: target, position: position, shared: shared, deadline: dimDeadline,
            analogues: flat.indices.filter { flatSupport[$0] == validRows.count }.flatMap {
              Self.analogues(flat[$0], names: names)
            } + hinted(k),
            structural: runProducts + alignedMaximum(rank: rank, position: position))
          flat.append(best.dim)
          flatSupport.append(best.support)
          trace("o\(k) = \(best.dim) (support \(best.support)/\(validRows.count))")
          k += 1
        }
      }
    }

    // Second pass: a dimension still unexplained tries the shifted rules of every explained one
    // (the analogue of a later dimension, e.g. conv's width rule for its height).
    if !validRows.isEmpty {
      let all = validRows.count
      for k in flat.indices where flatSupport[k] < all {
        let target = outputs.map { $0[k] }
        for j in flat.indices where flatSupport[j] == all {
          for a in Self.analogues(flat[j], names: names) {
            let support = validRows.indices.filter { evaluator.value(a, validRows[$0]) == target[$0] }.count
            if support == all {
              flat[k] = a
              flatSupport[k] = all
              break
            }
          }
          if flatSupport[k] == all { break }
        }
      }
    }

    // Predicates, with the shape rules' subexpressions as extra candidates.
    var extra: [Dim] = []
    for d in flat {
      for s in subexpressions(d) where nodeCount(s) >= 3 && !s.symbols.isEmpty { extra.append(s) }
    }
    let predicates = PredicateSynthesizer(
      names: names, valid: validRows, invalid: invalidRows, trace: trace
    ).infer(extra: extra, hints: hint?.symbolNames == names ? hint!.requires : [], deadline: deadline)

    var shaped: [[Dim]] = []
    var shapedSupport: [[Int]] = []
    var k = 0
    for rank in ranks {
      shaped.append(Array(flat[k..<(k + rank)]))
      shapedSupport.append(Array(flatSupport[k..<(k + rank)]))
      k += rank
    }
    let support = validRows.indices.filter { r in
      flat.indices.allSatisfy { evaluator.value(flat[$0], validRows[r]) == outputs[r][$0] }
    }.count
    let elapsed = ContinuousClock.now - start
    return InferredRule(
      symbolNames: names, outputs: shaped, requires: predicates.requires, support: support,
      outputSupport: shapedSupport, validRecords: validRows.count, invalidRecords: invalidRows.count,
      rejectedInvalid: predicates.rejected,
      complete: !validRows.isEmpty && support == validRows.count && predicates.rejected == invalidRows.count,
      seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
  }
}

extension Synthesizer {
  /// The same expression one position over: every symbol `base.i` renamed `base.(i+δ)` for
  /// δ = ±1…3 (symbols without an index stay). Spatial rules repeat per dimension — conv's height
  /// rule over `x.2, w.2, pads.0, pads.2, strides.0, dilations.0` is its width rule over `x.3, w.3,
  /// pads.1, pads.3, strides.1, dilations.1` — so a rule found for one dimension is tried for the
  /// next before any search.
  static func analogues(_ d: Dim, names: [String]) -> [Dim] {
    shifted(names: names) { d.renamed($0) }
  }

  /// `analogues` of a predicate.
  static func analogues(_ c: Constraint, names: [String]) -> [Constraint] {
    shifted(names: names) { c.renamed($0) }
  }

  static func shifted<T>(names: [String], _ rename: ((String) -> String) -> T) -> [T] {
    let known = Set(names)
    var out: [T] = []
    for delta in [1, -1, 2, -2, 3, -3] {
      var ok = true
      var moved = false
      let renamed = rename { name in
        guard let dot = name.lastIndex(of: "."), let i = Int(name[name.index(after: dot)...]) else {
          return name
        }
        let shifted = "\(name[..<dot]).\(i + delta)"
        guard known.contains(shifted) else {
          ok = false
          return name
        }
        moved = true
        return shifted
      }
      if ok && moved { out.append(renamed) }
    }
    return out
  }
}

/// What the per-dimension search needs: the valid rows, a sample for enumeration, relatedness.
struct ShapeContext {
  let names: [String]
  let rows: [[Int]]
  let sample: [Int]
  let sampleRows: [[Int]]
  let related: Relatedness
  let evaluator: Evaluator
  let trace: Trace

  init(
    names: [String], rows: [[Int]], sample: [Int], related: Relatedness, evaluator: Evaluator,
    trace: Trace
  ) {
    self.trace = trace
    self.names = names
    self.rows = rows
    self.sample = sample
    self.sampleRows = sample.map { rows[$0] }
    self.related = related
    self.evaluator = evaluator
  }

  struct Candidate {
    var dim: Dim
    var support: Int
    var nodes: Int
    var relatedness: Int
  }

  func support(_ d: Dim, _ target: [Int]) -> Int {
    rows.indices.filter { evaluator.value(d, rows[$0]) == target[$0] }.count
  }

  /// The best expression for one output dimension (values `target` on the valid rows).
  func inferDimension(
    target: [Int], position: Int, shared: Bank, deadline: Deadline, analogues: [Dim] = [],
    structural: [Dim] = []
  ) -> Candidate {
    let scores = related.scores(target: target, names: names, dimension: position)
    var rank: [String: Int] = [:]
    for (k, s) in scores.enumerated() { rank[names[s.symbol]] = k }
    var candidates: [Candidate] = []
    let all = rows.count
    func consider(_ d: Dim) -> Bool {
      let c = Candidate(
        dim: d, support: support(d, target), nodes: nodeCount(d),
        relatedness: d.symbols.reduce(0) { $0 + (rank[$1] ?? names.count) })
      candidates.append(c)
      return c.support == all
    }
    func best() -> Candidate {
      candidates.min { a, b in
        if a.support != b.support { return a.support > b.support }
        if a.nodes != b.nodes { return a.nodes < b.nodes }
        if a.relatedness != b.relatedness { return a.relatedness < b.relatedness }
        return a.dim.description < b.dim.description
      }!
    }
    let sampled = sample.map { target[$0] }

    // 1. Constant.
    if let first = target.first, target.allSatisfy({ $0 == first }), consider(.constant(first)) {
      return best()
    }
    // 2. An earlier dimension's rule, shifted (see `Synthesizer.analogues`).
    for a in analogues where consider(a) { return best() }
    // 3. Shared enumeration.
    if let id = shared.lookup(sampled), consider(shared.dim(id, names: names)) { return best() }
    // 3b. Structural candidates too deep to enumerate: run products (flatten), broadcast maxima.
    // After the enumeration, so that `x.0` beats `max(x.0, y.0)` when the records cannot tell.
    for s in structural where consider(s) { return best() }
    // 4. Enumeration over the most related symbols. Witnesses are proof of dependence, so with
    // more witnessed symbols than the enumeration takes, it cannot explain every record: skip it.
    let witnessed = scores.filter { $0.witnesses > 0 }.count
    let top = scores.prefix(4).map(\.symbol)
    let bank = Bank(rows: sampleRows, definedRows: sampleRows.count, symbols: top, constants: [0, 1, 2, 3])
    if witnessed <= top.count {
      let bankDeadline = deadline.share(0.35)
      for size in [3, 5, 7] {
        let finished = bank.grow(maxSize: size, deadline: bankDeadline, maxEvaluations: 1_500_000)
        if let id = bank.lookup(sampled), consider(bank.dim(id, names: names)) { return best() }
        if !finished { break }
      }
    }
    // 5. Sliding-window template over the witnessed symbols.
    var templateSymbols = scores.filter { $0.witnesses > 0 }.prefix(7).map(\.symbol)
    if templateSymbols.isEmpty { templateSymbols = Array(scores.prefix(7).map(\.symbol)) }
    trace(
      "  enumeration over \(top.map { names[$0] }): \(bank.count) kept of \(bank.evaluated); template over "
        + templateSymbols.map { i in "\(names[i])(\(scores.first { $0.symbol == i }!.witnesses))" }
        .joined(separator: " "))
    let template = TemplateSolver(names: names, rows: rows, trace: trace)
    let divisors = scores.filter { templateSymbols.contains($0.symbol) }.sorted { $0.signed < $1.signed }
      .map(\.symbol)
    if let s = template.solve(
      target: target, related: templateSymbols, divisors: divisors, deadline: deadline),
      consider(s.dim)
    {
      return best()
    }
    // 6. Nothing explains every record: the best partial matches of both enumerations.
    for b in [shared, bank] {
      var scored: [(Int32, Int)] = []
      for id in 0..<Int32(b.count) {
        var hits = 0
        for (k, v) in b.vector(id).enumerated() where v == sampled[k] { hits += 1 }
        if hits > 0 { scored.append((id, hits)) }
      }
      scored.sort { $0.1 != $1.1 ? $0.1 > $1.1 : b.nodes($0.0) < b.nodes($1.0) }
      for (id, _) in scored.prefix(3) { _ = consider(b.dim(id, names: names)) }
    }
    if candidates.isEmpty { _ = consider(.constant(target.first ?? 0)) }
    return best()
  }
}

/// Timestamped progress lines to an optional sink.
struct Trace {
  let start: ContinuousClock.Instant
  let sink: (@Sendable (String) -> Void)?

  func callAsFunction(_ message: @autoclosure () -> String) {
    guard let sink else { return }
    let d = ContinuousClock.now - start
    let ms = d.components.seconds * 1_000 + d.components.attoseconds / 1_000_000_000_000_000
    sink("[\(ms) ms] \(message())")
  }
}
