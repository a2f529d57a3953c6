import SMT
import Symbolic

/// The template stage for rules that bottom-up enumeration cannot reach (sliding windows):
///
///     o = (Σ c_i·t_i + c0) / D + e
///
/// The terms `t_i` are the related symbols and their pairwise products, the coefficients `c_i` lie
/// in −3...3 and `c0` in −8...8, `D` is 1 or a related symbol that is positive on every valid
/// record, and `e` is 0 or 1. For fixed `(D, e)` the coefficients are an integer linear problem:
/// every record gives `D·(o − e) ≤ N ≤ D·(o − e) + D − 1` (floor division), or `N == o` when
/// `D == 1`. It is solved by Z3 counterexample-guided: solve on a sample of records (three per
/// unknown, so that the system is overdetermined and Z3 answers fast), check the solution on all
/// records, add the ones it gets wrong, repeat.
///
/// Search order, stopping at the first rule that explains every record: `D = 1`; then each
/// divisor with `e = 1`, most negatively rank-correlated with the output first (a larger divisor
/// gives a smaller output); then each with `e = 0` (rarely needed: `e` is absorbed by the divisor's
/// own coefficient when `D` is among the terms). Term sets grow in levels, each level tried with
/// every `(D, e)` before the next: the symbols alone; plus one product; plus two (at most 60
/// pairs); plus all products. Small problems keep Z3 fast (milliseconds each, where one problem
/// with all 15 products of 6 symbols can take seconds). A solution is made sparse greedily: each
/// nonzero coefficient (products first) is pinned to 0 if the rest can still explain every record.
///
/// The conv/pool spatial rule `(h + pb + pe − d·(k − 1) − 1) / s + 1` is the instance
/// `D = s, e = 1` with `N = h + pb + pe − d·k + d − 1`.
struct TemplateSolver {
  let names: [String]
  let rows: [[Int]]
  let trace: Trace
  let solver = SMTSolver(timeoutMilliseconds: 500)
  static let coefficientRange = -3...3
  static let constantRange = -8...8

  struct Term {
    var symbols: [Int]  // one symbol, or a pair (product)
  }

  struct Solution {
    var dim: Dim
    var nodes: Int
  }

  /// A template instance: which terms are free, the divisor, the offset.
  private struct Shape {
    var active: [Int]
    var divisor: Int?
    var offset: Int
  }

  /// The first rule of the template shape matching every row, if any (see the type's search order).
  /// `divisors` are the candidate divisors in the order to try.
  func solve(target: [Int], related: [Int], divisors: [Int], deadline: Deadline) -> Solution? {
    guard !related.isEmpty, !rows.isEmpty else { return nil }
    var terms = related.map { Term(symbols: [$0]) }
    for (x, i) in related.enumerated() {
      for j in related[(x + 1)...] { terms.append(Term(symbols: [Swift.min(i, j), Swift.max(i, j)])) }
    }
    let table = rows.map { row in terms.map { t in t.symbols.reduce(1) { $0 &* row[$1] } } }
    let usable = divisors.filter { d in related.contains(d) && rows.allSatisfy { $0[d] > 0 } }
    var combos: [(Int?, Int)] = [(nil, 0)]
    combos += usable.map { ($0, 1) }
    combos += usable.map { ($0, 0) }
    // Term sets, cheapest first: the symbols; plus one product; plus two; plus all.
    let linear = Array(0..<related.count)
    let products = Array(related.count..<terms.count)
    var levels: [[[Int]]] = [[linear]]
    levels.append(products.map { linear + [$0] })
    var pairs: [[Int]] = []
    for (x, p) in products.enumerated() {
      for q in products[(x + 1)...] where pairs.count < 60 { pairs.append(linear + [p, q]) }
    }
    levels.append(pairs)
    if products.count > 2 { levels.append([linear + products]) }
    for level in levels {
      for (d, e) in combos {
        for active in level {
          if deadline.expired { return nil }
          guard
            var c = fit(
              table: table, target: target, shape: Shape(active: active, divisor: d, offset: e),
              deadline: deadline)
          else { continue }
          // Sparsify: pin nonzero coefficients to 0, products first.
          var shape = Shape(active: active, divisor: d, offset: e)
          for k in active.reversed() where c[k] != 0 && !deadline.expired {
            var trial = shape
            trial.active.removeAll { $0 == k }
            if let t = fit(table: table, target: target, shape: trial, deadline: deadline) {
              shape = trial
              c = t
            }
          }
          let dim = build(terms: terms, coefficients: c, divisor: d, offset: e)
          trace("  template D=\(d.map { names[$0] } ?? "1") e=\(e): \(dim)")
          return Solution(dim: dim, nodes: nodeCount(dim))
        }
      }
    }
    return nil
  }

  /// The value of the template on one row for given coefficients (`nil` if undefined).
  private func evaluate(
    _ c: [Int], _ termRow: [Int], _ row: [Int], divisor: Int?, offset: Int
  ) -> Int? {
    var n = c[termRow.count]
    for k in termRow.indices where c[k] != 0 {
      let (p, o1) = c[k].multipliedReportingOverflow(by: termRow[k])
      let (s, o2) = n.addingReportingOverflow(p)
      if o1 || o2 { return nil }
      n = s
    }
    guard let d = divisor else { return n }
    return floorDivide(n, row[d]).map { $0 + offset }
  }

  /// Coefficients (one per term, then the constant; inactive terms 0) fitting every row, or `nil`.
  private func fit(table: [[Int]], target: [Int], shape: Shape, deadline: Deadline) -> [Int]? {
    let termCount = table[0].count
    let constName = "c_const"
    var variables = shape.active.map { Variable("c\($0)", Self.coefficientRange) }
    variables.append(Variable(constName, Self.constantRange))

    var sample: [Int] = []
    let want = Swift.min(rows.count, Swift.max(16, 3 * variables.count))
    for k in 0..<want { sample.append(k * rows.count / want) }
    var inSample = Set(sample)

    func constraints(for r: Int) -> [Constraint] {
      var n: Dim = .symbol(constName)
      for k in shape.active where table[r][k] != 0 {
        n = n + Dim.constant(table[r][k]) * .symbol("c\(k)")
      }
      guard let d = shape.divisor else { return [n .== .constant(target[r])] }
      let dv = rows[r][d]
      let low = dv * (target[r] - shape.offset)
      return [n .>= .constant(low), n .<= .constant(low + dv - 1)]
    }

    var base: [Constraint] = sample.flatMap(constraints)
    for _ in 0..<20 where !deadline.expired {
      let outcome = try? solver.solve(base, variables: variables)
      guard case .sat(let model)? = outcome else { return nil }
      var c = Array(repeating: 0, count: termCount + 1)
      for k in shape.active { c[k] = model["c\(k)"] ?? 0 }
      c[termCount] = model[constName] ?? 0
      var wrong: [Int] = []
      for r in rows.indices
      where evaluate(c, table[r], rows[r], divisor: shape.divisor, offset: shape.offset) != target[r] {
        wrong.append(r)
        if wrong.count >= 8 { break }
      }
      if wrong.isEmpty { return c }
      for r in wrong where inSample.insert(r).inserted {
        sample.append(r)
        base.append(contentsOf: constraints(for: r))
      }
    }
    return nil
  }

  /// The rule as a readable `Dim`: positive terms, then negative ones, then the constant.
  private func build(terms: [Term], coefficients c: [Int], divisor: Int?, offset: Int) -> Dim {
    func term(_ t: Term) -> Dim {
      Dim.product(t.symbols.map { Dim.symbol(names[$0]) })
    }
    var positive: [Dim] = []
    var negative: [Dim] = []
    // Symbols before products, each in symbol order.
    let order = terms.indices.sorted {
      terms[$0].symbols.count != terms[$1].symbols.count
        ? terms[$0].symbols.count < terms[$1].symbols.count
        : terms[$0].symbols.lexicographicallyPrecedes(terms[$1].symbols)
    }
    for k in order where c[k] != 0 {
      let t = terms[k]
      let magnitude = Dim.constant(abs(c[k])) * term(t)
      if c[k] > 0 { positive.append(magnitude) } else { negative.append(magnitude) }
    }
    let constant = c[terms.count]
    var n: Dim
    if let first = positive.first {
      n = positive.dropFirst().reduce(first, +)
    } else {
      n = .constant(0)
    }
    for x in negative { n = n - x }
    if constant > 0 { n = n + .constant(constant) } else if constant < 0 { n = n - .constant(-constant) }
    guard let d = divisor else { return n }
    return n / .symbol(names[d]) + .constant(offset)
  }
}
