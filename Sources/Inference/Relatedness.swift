/// Related-symbol analysis: which symbols an output dimension depends on.
///
/// The heuristic, per output dimension, ranks each symbol by three signals, in this priority:
/// 1. **Witnesses** (sound): pairs of valid records that agree on every symbol but this one and
///    differ in the output dimension. Augmentation (`RecordSet.augmented`) produces exactly such
///    one-symbol-apart pairs, so on augmented traces this separates the symbols an output depends
///    on from the rest. A symbol with a witness is *related*.
/// 2. **Rank correlation**: |Spearman ρ| between the symbol and the output over the valid records,
///    for traces without one-apart pairs (e.g. only random calls).
/// 3. **Position**: a bonus when the symbol's name ends in the output dimension's index
///    (`x0.2` for output dimension 2), the elementwise / same-rank convention of most operators.
///
/// Symbols with one value over all valid records are left out: on the data they are constants.
struct Relatedness {
  struct Score {
    var symbol: Int
    var witnesses: Int
    var correlation: Double
    /// Spearman ρ with its sign (negative: the output falls as the symbol grows).
    var signed: Double
    var positional: Bool

    var combined: Double { correlation + (positional ? 0.25 : 0) }
  }

  /// Per symbol: groups (row indices, ≥ 2) of valid rows that agree on every other symbol.
  let groups: [[[Int]]]
  /// Per symbol: average ranks over the valid rows.
  let ranks: [[Double]]
  /// Symbols that vary over the valid rows.
  let varying: [Int]

  init(rows: [[Int]], symbolCount: Int) {
    var groups: [[[Int]]] = []
    var ranks: [[Double]] = []
    var varying: [Int] = []
    for i in 0..<symbolCount {
      var buckets: [[Int]: [Int]] = [:]
      for (r, row) in rows.enumerated() {
        var key = row
        key[i] = Int.min
        buckets[key, default: []].append(r)
      }
      groups.append(buckets.values.filter { $0.count > 1 }.map { $0.sorted() }.sorted { $0[0] < $1[0] })
      let column = rows.map { $0[i] }
      ranks.append(Self.averageRanks(column))
      if let first = column.first, column.contains(where: { $0 != first }) { varying.append(i) }
    }
    self.groups = groups
    self.ranks = ranks
    self.varying = varying
  }

  static func averageRanks(_ xs: [Int]) -> [Double] {
    let order = xs.indices.sorted { xs[$0] < xs[$1] }
    var out = Array(repeating: 0.0, count: xs.count)
    var i = 0
    while i < order.count {
      var j = i
      while j + 1 < order.count, xs[order[j + 1]] == xs[order[i]] { j += 1 }
      let r = Double(i + j) / 2
      for k in i...j { out[order[k]] = r }
      i = j + 1
    }
    return out
  }

  static func pearson(_ a: [Double], _ b: [Double]) -> Double {
    let n = Double(a.count)
    guard n > 1 else { return 0 }
    let ma = a.reduce(0, +) / n
    let mb = b.reduce(0, +) / n
    var (sab, saa, sbb) = (0.0, 0.0, 0.0)
    for k in a.indices {
      let (x, y) = (a[k] - ma, b[k] - mb)
      sab += x * y
      saa += x * x
      sbb += y * y
    }
    guard saa > 0, sbb > 0 else { return 0 }
    return sab / (saa * sbb).squareRoot()
  }

  /// The trailing `.k` index of a symbol name, if any.
  static func position(of name: String) -> Int? {
    guard let dot = name.lastIndex(of: ".") else { return nil }
    return Int(name[name.index(after: dot)...])
  }

  /// Scores of the varying symbols for one output dimension, most related first.
  func scores(target: [Int], names: [String], dimension: Int) -> [Score] {
    let targetRanks = Self.averageRanks(target)
    var out: [Score] = []
    for i in varying {
      var witnesses = 0
      for g in groups[i] {
        let base = target[g[0]]
        for r in g.dropFirst() where target[r] != base { witnesses += 1 }
      }
      var rho = Self.pearson(ranks[i], targetRanks)
      if rho.isNaN { rho = 0 }
      out.append(
        Score(
          symbol: i, witnesses: witnesses, correlation: abs(rho), signed: rho,
          positional: Self.position(of: names[i]) == dimension))
    }
    out.sort { a, b in
      if (a.witnesses > 0) != (b.witnesses > 0) { return a.witnesses > 0 }
      if a.combined != b.combined { return a.combined > b.combined }
      return a.symbol < b.symbol
    }
    return out
  }
}
