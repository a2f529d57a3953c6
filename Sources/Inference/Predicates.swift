import SMT
import Symbolic

/// A fixed-size set of row indices.
struct Bitset: Equatable {
  var words: [UInt64]

  init(count: Int) { words = Array(repeating: 0, count: (count + 63) / 64) }

  init(count: Int, all: Bool) {
    self.init(count: count)
    guard all else { return }
    for i in 0..<count { insert(i) }
  }

  mutating func insert(_ i: Int) { words[i >> 6] |= 1 << UInt64(i & 63) }
  func contains(_ i: Int) -> Bool { words[i >> 6] & (1 << UInt64(i & 63)) != 0 }
  var count: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }
  var isEmpty: Bool { words.allSatisfy { $0 == 0 } }

  func intersectionCount(_ o: Bitset) -> Int {
    var n = 0
    for k in words.indices { n += (words[k] & o.words[k]).nonzeroBitCount }
    return n
  }

  mutating func subtract(_ o: Bitset) {
    for k in words.indices { words[k] &= ~o.words[k] }
  }

  func union(_ o: Bitset) -> Bitset {
    var r = self
    for k in words.indices { r.words[k] |= o.words[k] }
    return r
  }
}

/// Input predicates (`requires`) from valid and invalid records.
///
/// Candidates are `E == 0`, `E > 0`, `E >= 0` (and the mirrored `E < 0`, `E <= 0`): the strongest
/// form that holds on every valid record, for expressions `E` from
/// 1. an enumeration over all symbols and the constants 0...3 (3 nodes; 5 for ≤ 6 symbols);
/// 2. the subexpressions of the inferred shape rules (the conv condition
///    `h + pb + pe + d > d * k` is the numerator of the spatial rule);
/// 3. polynomial equalities found by linear algebra (`Relations`, for ≤ 8 symbols here):
///    `shape.0 * shape.1 == x0.0 * x0.1`;
/// 4. `s == v` for a symbol with one value on every valid record.
///
/// A candidate must reject at least one invalid record. A weighted greedy set cover (rejected
/// invalid records per node) picks a small set; each pick is checked on every valid record.
/// Invalid records still accepted then get up to three targeted rounds: the symbols in which they
/// differ from their nearest valid record ("guilty" symbols) get a deeper enumeration (5 nodes, 7
/// for ≤ 3 symbols; conv's `w.1 == x0.1 / group` comes from here), `Relations` over them, and
/// disjunctions `E1 == 0 || E2 == 0` whose zero sets together cover the valid records
/// (`a == b || min(a, b) == 1`).
///
/// Finally, most expensive first, a predicate is dropped when the others imply it (Z3: others ∧ ¬p
/// unsat over the observed symbol ranges) and it rejects no invalid record the others accept.
/// Nonlinear checks often come back unknown; the predicate is then kept, and after four unknowns
/// in a row the minimization stops.
struct PredicateSynthesizer {
  let names: [String]
  let valid: [[Int]]
  let invalid: [[Int]]
  /// For implication checks, with a short timeout (an unknown keeps the predicate).
  let solver = SMTSolver(timeoutMilliseconds: 250)
  let evaluator: Evaluator
  let trace: Trace

  struct Candidate {
    var constraint: Constraint
    var cost: Int
    var covers: Bitset
  }

  struct Result {
    var requires: [Constraint]
    var rejected: Int
  }

  init(names: [String], valid: [[Int]], invalid: [[Int]], trace: Trace) {
    self.trace = trace
    self.names = names
    self.valid = valid
    self.invalid = invalid
    self.evaluator = Evaluator(names: names)
  }

  /// Evenly spaced indices, at most `limit`.
  static func spread(_ count: Int, limit: Int) -> [Int] {
    guard count > limit else { return Array(0..<count) }
    return (0..<limit).map { $0 * count / limit }
  }

  /// The strongest comparison with 0 that holds on all of `values`.
  static func form<S: Sequence<Int>>(_ values: S) -> Comparison? {
    var (zero, pos, nonneg, neg, nonpos) = (true, true, true, true, true)
    for v in values {
      if v == undefinedValue { return nil }
      if v != 0 { zero = false }
      if v <= 0 { pos = false }
      if v < 0 { nonneg = false }
      if v >= 0 { neg = false }
      if v > 0 { nonpos = false }
    }
    if zero { return .eq }
    if pos { return .gt }
    if nonneg { return .ge }
    if neg { return .lt }
    if nonpos { return .le }
    return nil
  }

  /// `E op 0`, written with the positive terms of a `+`/`-` chain on the left and the negative
  /// ones on the right (`h + pb + pe + d >= d * k + 1`).
  static func constraint(_ e: Dim, _ c: Comparison) -> Constraint {
    var positive: [Dim] = []
    var negative: [Dim] = []
    var constant = 0  // E = Σ positive − Σ negative + constant
    func split(_ d: Dim, _ sign: Bool) {
      switch d {
      case .add(let a, let b):
        split(a, sign)
        split(b, sign)
      case .sub(let a, let b):
        split(a, sign)
        split(b, !sign)
      case .constant(let v): constant += sign ? v : -v
      default: if sign { positive.append(d) } else { negative.append(d) }
      }
    }
    split(e, true)
    let sum = { (xs: [Dim]) -> Dim in xs.isEmpty ? .constant(0) : xs.dropFirst().reduce(xs[0], +) }
    if positive.isEmpty && !negative.isEmpty {
      // −Σ negative + constant op 0  ⇔  Σ negative mirror(op) constant
      return .compare(mirror(c), sum(negative), .constant(constant))
    }
    var right = sum(negative)
    if constant < 0 { right = right + .constant(-constant) }
    if constant > 0 { right = right - .constant(constant) }
    return .compare(c, sum(positive), right)
  }

  /// The comparison with its operands swapped (`a < b` ⇔ `b > a`).
  static func mirror(_ c: Comparison) -> Comparison {
    switch c {
    case .eq: return .eq
    case .ne: return .ne
    case .lt: return .gt
    case .le: return .ge
    case .gt: return .lt
    case .ge: return .le
    }
  }

  /// Candidates from a bank whose first `validCount` rows are valid and the rest invalid.
  private func bankCandidates(_ bank: Bank, validCount: Int, invalidCount: Int) -> [Candidate] {
    var out: [Candidate] = []
    for id in 0..<Int32(bank.count) where bank.op[Int(id)] != .constant {
      let v = bank.vector(id)
      let base = v.startIndex
      guard let c = Self.form(v[base..<(base + validCount)]) else { continue }
      var covers = Bitset(count: invalidCount)
      for k in 0..<invalidCount {
        let x = v[base + validCount + k]
        if x == undefinedValue || !c.holds(x, 0) { covers.insert(k) }
      }
      if covers.isEmpty { continue }
      out.append(
        Candidate(
          constraint: Self.constraint(bank.dim(id, names: names), c), cost: bank.nodes(id), covers: covers))
    }
    return out
  }

  /// Candidates from explicit expressions, evaluated on the given rows.
  private func dimCandidates(_ dims: [Dim], valid vRows: [[Int]], invalid iRows: [[Int]]) -> [Candidate] {
    var out: [Candidate] = []
    var seen = Set<Dim>()
    for e in dims where seen.insert(e).inserted && !e.symbols.isEmpty {
      let values = vRows.map { evaluator.value(e, $0) ?? undefinedValue }
      guard let c = Self.form(values) else { continue }
      var covers = Bitset(count: iRows.count)
      for (k, row) in iRows.enumerated() {
        guard let x = evaluator.value(e, row), c.holds(x, 0) else {
          covers.insert(k)
          continue
        }
      }
      if covers.isEmpty { continue }
      out.append(Candidate(constraint: Self.constraint(e, c), cost: nodeCount(e), covers: covers))
    }
    return out
  }

  /// Disjunctions `E1 == 0 || E2 == 0` from bank expressions that are zero on part of the valid rows.
  private func disjunctions(_ bank: Bank, validCount: Int, invalidCount: Int, deadline: Deadline)
    -> [Candidate]
  {
    struct Partial {
      var id: Int32
      var zeros: Bitset
      var nonzeroInvalid: Bitset
    }
    var partials: [Partial] = []
    for id in 0..<Int32(bank.count) where bank.op[Int(id)] != .constant {
      let v = bank.vector(id)
      let base = v.startIndex
      var zeros = Bitset(count: validCount)
      var ok = true
      for r in 0..<validCount {
        let x = v[base + r]
        if x == undefinedValue {
          ok = false
          break
        }
        if x == 0 { zeros.insert(r) }
      }
      let z = zeros.count
      guard ok, z > 0, z < validCount else { continue }
      var nonzero = Bitset(count: invalidCount)
      for k in 0..<invalidCount {
        let x = v[base + validCount + k]
        if x != 0 { nonzero.insert(k) }
      }
      partials.append(Partial(id: id, zeros: zeros, nonzeroInvalid: nonzero))
    }
    partials.sort { $0.zeros.count > $1.zeros.count }
    if partials.count > 300 { partials.removeLast(partials.count - 300) }
    let full = Bitset(count: validCount, all: true)
    var pairs: [(Int, Int, Bitset)] = []
    var checked = 0
    outer: for x in partials.indices {
      for y in (x + 1)..<partials.count {
        checked += 1
        if checked & 4095 == 0 && deadline.expired { break outer }
        let (p, q) = (partials[x], partials[y])
        var coversValid = true
        for k in full.words.indices where p.zeros.words[k] | q.zeros.words[k] != full.words[k] {
          coversValid = false
          break
        }
        if !coversValid { continue }
        var covers = p.nonzeroInvalid
        for k in covers.words.indices { covers.words[k] &= q.nonzeroInvalid.words[k] }
        if !covers.isEmpty { pairs.append((x, y, covers)) }
      }
    }
    // Keep the pairs that reject the most; build their constraints.
    pairs.sort { $0.2.count > $1.2.count }
    return pairs.prefix(200).map { x, y, covers in
      let (p, q) = (partials[x].id, partials[y].id)
      let c = Constraint.or([
        Self.constraint(bank.dim(p, names: names), .eq), Self.constraint(bank.dim(q, names: names), .eq),
      ])
      return Candidate(constraint: c, cost: bank.nodes(p) + bank.nodes(q) + 1, covers: covers)
    }
  }

  /// Weighted greedy set cover of `uncovered`; every pick is checked against all valid records.
  private func cover(_ candidates: [Candidate], uncovered: inout Bitset, chosen: inout [Constraint]) {
    var dead = Set<Int>()
    while !uncovered.isEmpty {
      var best = -1
      var bestRatio = 0.0
      var bestCost = Int.max
      for (k, c) in candidates.enumerated() where !dead.contains(k) {
        let gain = c.covers.intersectionCount(uncovered)
        if gain == 0 { continue }
        let ratio = Double(gain) / Double(c.cost)
        if ratio > bestRatio || (ratio == bestRatio && c.cost < bestCost) {
          (best, bestRatio, bestCost) = (k, ratio, c.cost)
        }
      }
      if best < 0 { return }
      dead.insert(best)
      let p = candidates[best].constraint
      if !valid.allSatisfy({ evaluator.holds(p, $0) }) { continue }
      chosen.append(p)
      uncovered.subtract(candidates[best].covers)
    }
  }

  /// Invalid records (indices) accepted by every predicate.
  private func accepted(by ps: [Constraint]) -> [Int] {
    invalid.indices.filter { r in ps.allSatisfy { evaluator.holds($0, invalid[r]) } }
  }

  /// The symbols in which accepted invalid rows differ from their nearest valid row.
  private func guiltySymbols(_ rows: [Int], validSample: [Int]) -> [Int] {
    var weight = Array(repeating: 0.0, count: names.count)
    for r in rows.prefix(200) {
      let u = invalid[r]
      var bestDistance = Int.max
      var bestDiff: [Int] = []
      for v in validSample {
        var diff: [Int] = []
        for i in u.indices where u[i] != valid[v][i] {
          diff.append(i)
          if diff.count >= bestDistance { break }
        }
        if diff.count < bestDistance {
          bestDistance = diff.count
          bestDiff = diff
        }
      }
      if bestDistance <= 2 {
        for i in bestDiff { weight[i] += 1 / Double(bestDistance) }
      }
    }
    return weight.indices.filter { weight[$0] > 0 }.sorted { weight[$0] > weight[$1] }.prefix(5).map { $0 }
  }

  func infer(extra: [Dim], hints: [Constraint] = [], deadline: Deadline) -> Result {
    guard !invalid.isEmpty, !valid.isEmpty else { return Result(requires: [], rejected: 0) }
    let m = names.count
    let vSample = Self.spread(valid.count, limit: 256)
    let iSample = Self.spread(invalid.count, limit: 512)
    let vRows = vSample.map { valid[$0] }
    var chosen: [Constraint] = []

    // Stage 1: all symbols, small expressions, shape subexpressions, constant symbols.
    do {
      let iRows = iSample.map { invalid[$0] }
      let bank = Bank(
        rows: vRows + iRows, definedRows: vRows.count, symbols: Array(0..<m), constants: [0, 1, 2, 3])
      bank.grow(maxSize: m <= 6 ? 5 : 3, deadline: deadline.share(0.3), maxEvaluations: 300_000)
      var candidates = bankCandidates(bank, validCount: vRows.count, invalidCount: iRows.count)
      var dims = extra
      // Degree-2 monomials when the distinct valid rows outnumber them (else the null space is
      // mostly accidents of too few rows): 17 symbols need 154 columns.
      let distinct = Set(vRows).count
      let quadratic = m <= 8 || distinct >= 1 + m + m * (m - 1) / 2
      dims += Relations.equalities(rows: vRows, symbols: Array(0..<m), names: names, linearOnly: !quadratic)
      for i in 0..<m {
        let v = valid[0][i]
        if valid.allSatisfy({ $0[i] == v }) { dims.append(.symbol(names[i]) - .constant(v)) }
      }
      candidates += dimCandidates(dims, valid: vRows, invalid: iRows)
      // A sibling's predicates that hold here.
      for h in hints where valid.allSatisfy({ evaluator.holds(h, $0) }) {
        var covers = Bitset(count: iRows.count)
        for (k, row) in iRows.enumerated() where !evaluator.holds(h, row) { covers.insert(k) }
        if !covers.isEmpty { candidates.append(Candidate(constraint: h, cost: nodeCount(h), covers: covers)) }
      }
      var uncovered = Bitset(count: iRows.count, all: true)
      cover(candidates, uncovered: &uncovered, chosen: &chosen)
      trace(
        "predicates stage 1: \(candidates.count) candidates (\(bank.count) enumerated), chose \(chosen.count)"
      )
    }

    // Stage 2: targeted rounds for the invalid records still accepted.
    var left = accepted(by: chosen)
    var round = 0
    while !left.isEmpty && round < 3 && !deadline.expired {
      round += 1
      let guilty = guiltySymbols(left, validSample: vSample)
      if guilty.isEmpty { break }
      let uSample = Self.spread(left.count, limit: 512).map { left[$0] }
      let uRows = uSample.map { invalid[$0] }
      let bank = Bank(
        rows: vRows + uRows, definedRows: vRows.count, symbols: guilty, constants: [0, 1, 2, 3])
      let roundDeadline = deadline.share(0.5)
      bank.grow(
        maxSize: guilty.count <= 3 ? 7 : 5, deadline: roundDeadline.share(0.6), maxEvaluations: 400_000)
      var candidates = bankCandidates(bank, validCount: vRows.count, invalidCount: uRows.count)
      let relations = Relations.equalities(rows: vRows, symbols: guilty, names: names)
      candidates += dimCandidates(extra + relations, valid: vRows, invalid: uRows)
      var uncovered = Bitset(count: uRows.count, all: true)
      let before = chosen.count
      cover(candidates, uncovered: &uncovered, chosen: &chosen)
      if !uncovered.isEmpty {
        let ors = disjunctions(
          bank, validCount: vRows.count, invalidCount: uRows.count, deadline: roundDeadline)
        cover(ors, uncovered: &uncovered, chosen: &chosen)
      }
      let next = accepted(by: chosen)
      trace(
        "predicates round \(round): guilty \(guilty.map { names[$0] }), \(candidates.count) candidates, "
          + "\(chosen.count - before) chosen, \(next.count) invalid still accepted")
      if chosen.count == before || next.count >= left.count { break }
      left = next
    }

    // Last resort for invalid records still accepted: upper bounds `s <= max over the valid calls`
    // (a size limit such as spiking attention's T <= 8). Only here, so that they never displace a
    // structural predicate (an upper bound also rejects valid calls beyond the traced range).
    left = accepted(by: chosen)
    if !left.isEmpty {
      let uRows = left.map { invalid[$0] }
      var candidates: [Candidate] = []
      for i in 0..<m {
        let top = valid.map { $0[i] }.max() ?? 0
        var covers = Bitset(count: uRows.count)
        for (k, row) in uRows.enumerated() where row[i] > top { covers.insert(k) }
        if covers.isEmpty { continue }
        candidates.append(
          Candidate(constraint: Dim.symbol(names[i]) .<= .constant(top), cost: 8, covers: covers))
      }
      var uncovered = Bitset(count: uRows.count, all: true)
      cover(candidates, uncovered: &uncovered, chosen: &chosen)
    }

    // Symmetric counterparts: a chosen predicate shifted one position over (`x.2 >= dilations.0`
    // → `x.3 >= dilations.1`, see `Synthesizer.analogues`) is added when it holds on every valid
    // record. Spatial operators repeat their conditions per dimension, and the records may happen
    // to witness a violation of only one of them.
    for p in chosen {
      for a in Synthesizer.analogues(p, names: names)
      where !chosen.contains(a) && valid.allSatisfy({ evaluator.holds(a, $0) }) {
        chosen.append(a)
      }
    }

    // Stage 3: drop predicates the others imply.
    trace("predicates: \(left.count) invalid accepted before minimization of \(chosen.count)")
    chosen = minimized(chosen, deadline: deadline)
    trace("predicates: \(chosen.count) after minimization")
    return Result(requires: chosen, rejected: invalid.count - accepted(by: chosen).count)
  }

  /// Drops, most expensive first, each predicate that Z3 proves implied by the others over the
  /// observed symbol ranges and that rejects no invalid record the others accept.
  private func minimized(_ ps: [Constraint], deadline: Deadline) -> [Constraint] {
    var variables: [Variable] = []
    for i in names.indices {
      let column = (valid + invalid).map { $0[i] }
      variables.append(Variable(names[i], (column.min() ?? 0)...(column.max() ?? 0)))
    }
    var kept = ps
    let order = ps.indices.sorted { nodeCount(ps[$0]) > nodeCount(ps[$1]) }
    var unknowns = 0
    for k in order {
      // Nonlinear implications often time out; after a few in a row, stop trying.
      if deadline.expired || unknowns >= 4 { break }
      let p = ps[k]
      let others = kept.filter { $0 != p }
      guard others.count < kept.count, !others.isEmpty else { continue }
      let outcome = try? solver.solve(others + [!p], variables: variables)
      if case .unknown? = outcome { unknowns += 1 } else { unknowns = 0 }
      guard case .unsat? = outcome else { continue }
      let safe = invalid.allSatisfy { row in
        evaluator.holds(p, row) || !others.allSatisfy { evaluator.holds($0, row) }
      }
      if safe { kept = others }
    }
    return kept
  }
}

/// Node count of a constraint (sum over its expressions).
func nodeCount(_ c: Constraint) -> Int {
  switch c {
  case .constant: return 1
  case .compare(_, let l, let r): return 1 + nodeCount(l) + nodeCount(r)
  case .and(let ps), .or(let ps): return ps.reduce(1) { $0 + nodeCount($1) }
  case .not(let p): return 1 + nodeCount(p)
  }
}
