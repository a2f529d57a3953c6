import Symbolic

/// Polynomial equalities that hold on every valid record, found by linear algebra instead of
/// enumeration: `Σ c_k·t_k == 0` over the monomials `t_k` (1, the given symbols, and their pairwise
/// products) with small integer `c_k`.
///
/// The coefficient vectors are the kernel of the (records × monomials) matrix. A basis of the
/// kernel comes from Gauss–Jordan elimination in floating point (columns scaled to 1); each basis
/// vector is turned into integers by scaling its smallest entry to 1…6, kept only if that gives
/// integers within ±6, and then checked exactly on every record. This reaches equalities the
/// enumeration is too shallow for: `x0.1 == w.1 * group` (conv groups), `x0.0 * x0.1 == shape.0 *
/// shape.1` (reshape, NeuRI's `s0 − s1*s2*s3 == 0` shape of predicate).
enum Relations {
  /// Monomials over `symbols`: constant 1, each symbol, each product of two distinct symbols.
  static func monomials(_ symbols: [Int]) -> [[Int]] {
    var out: [[Int]] = [[]]
    for s in symbols { out.append([s]) }
    for (x, i) in symbols.enumerated() {
      for j in symbols[(x + 1)...] { out.append([i, j]) }
    }
    return out
  }

  /// Products of runs of consecutive symbols of one operand or attribute (`x.0*x.1*x.2`,
  /// `shape.0*shape.1`), of at least `minimumLength` symbols: the volume terms of reshape-like
  /// rules (`x.0*x.1*x.2*x.3 == shape.0*shape.1`), too high in degree for `monomials`.
  static func runProducts(_ symbols: [Int], names: [String], minimumLength: Int) -> [[Int]] {
    var groups: [String: [(Int, Int)]] = [:]
    var order: [String] = []
    for s in symbols {
      let n = names[s]
      guard let dot = n.lastIndex(of: "."), let i = Int(n[n.index(after: dot)...]) else { continue }
      let base = String(n[..<dot])
      if groups[base] == nil { order.append(base) }
      groups[base, default: []].append((i, s))
    }
    var out: [[Int]] = []
    for base in order {
      let members = groups[base]!.sorted { $0.0 < $1.0 }
      guard members.count >= minimumLength else { continue }
      for a in 0..<members.count {
        for b in stride(from: a + minimumLength - 1, to: members.count, by: 1) {
          let run = members[a...b]
          guard zip(run, run.dropFirst()).allSatisfy({ $0.0 + 1 == $1.0 }) else { continue }
          out.append(run.map(\.1))
        }
      }
    }
    return out
  }

  /// Expressions `E` (with `E == 0` on every row) over the given symbols: monomials of degree ≤ 2
  /// (`linearOnly`: degree ≤ 1) plus run products.
  static func equalities(rows: [[Int]], symbols: [Int], names: [String], linearOnly: Bool = false) -> [Dim] {
    guard !rows.isEmpty, !symbols.isEmpty else { return [] }
    let terms =
      (linearOnly ? [[]] + symbols.map { [$0] } : monomials(symbols))
      + runProducts(symbols, names: names, minimumLength: linearOnly ? 2 : 3)
    let columns = terms.count
    var exact: [[Int]] = rows.map { row in terms.map { t in t.reduce(1) { $0 &* row[$1] } } }
    exact = Array(Set(exact)).sorted { $0.lexicographicallyPrecedes($1) }
    var matrix: [[Double]] = exact.map { $0.map(Double.init) }
    var scale = Array(repeating: 1.0, count: columns)
    for c in 0..<columns {
      let m = matrix.reduce(0.0) { Swift.max($0, abs($1[c])) }
      if m > 0 {
        scale[c] = m
        for r in matrix.indices { matrix[r][c] /= m }
      }
    }
    // Gauss–Jordan with partial pivoting.
    var pivotColumns: [Int] = []
    var row = 0
    for c in 0..<columns where row < matrix.count {
      var best = row
      for r in row..<matrix.count where abs(matrix[r][c]) > abs(matrix[best][c]) { best = r }
      if abs(matrix[best][c]) < 1e-9 { continue }
      matrix.swapAt(row, best)
      let p = matrix[row][c]
      for k in 0..<columns { matrix[row][k] /= p }
      for r in matrix.indices where r != row && matrix[r][c] != 0 {
        let f = matrix[r][c]
        for k in 0..<columns { matrix[r][k] -= f * matrix[row][k] }
      }
      pivotColumns.append(c)
      row += 1
    }
    let free = (0..<columns).filter { !pivotColumns.contains($0) }
    var out: [Dim] = []
    for f in free {
      // Kernel vector in scaled coordinates, then back to the monomials' own units.
      var v = Array(repeating: 0.0, count: columns)
      v[f] = 1
      for (i, c) in pivotColumns.enumerated() { v[c] = -matrix[i][f] }
      for k in 0..<columns { v[k] /= scale[k] }
      guard let smallest = v.filter({ abs($0) > 1e-12 }).map(abs).min() else { continue }
      var coefficients: [Int]? = nil
      for multiple in 1...6 {
        let w = v.map { $0 / smallest * Double(multiple) }
        if w.allSatisfy({ abs($0 - $0.rounded()) < 1e-6 && abs($0) <= 6.5 }) {
          coefficients = w.map { Int($0.rounded()) }
          break
        }
      }
      guard let c = coefficients, c.contains(where: { $0 != 0 }) else { continue }
      let holds = exact.allSatisfy { r in zip(c, r).reduce(0) { $0 &+ $1.0 &* $1.1 } == 0 }
      guard holds else { continue }
      out.append(expression(c, terms: terms, names: names))
    }
    return out
  }

  /// `Σ c_k·t_k` as a `Dim`, positive terms first.
  static func expression(_ c: [Int], terms: [[Int]], names: [String]) -> Dim {
    var e: Dim = .constant(0)
    var negative: [Dim] = []
    for (k, t) in terms.enumerated() where c[k] != 0 {
      let term = Dim.constant(abs(c[k])) * Dim.product(t.map { Dim.symbol(names[$0]) })
      if c[k] > 0 { e = e + term } else { negative.append(term) }
    }
    for n in negative { e = e - n }
    return e
  }
}
