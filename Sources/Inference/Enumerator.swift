import Symbolic

/// A point in time past which a stage stops and reports what it has.
struct Deadline {
  let end: ContinuousClock.Instant

  init(seconds: Double) { end = .now + .milliseconds(Int(seconds * 1_000)) }
  init(end: ContinuousClock.Instant) { self.end = end }

  var expired: Bool { ContinuousClock.now >= end }

  /// Seconds left (0 when expired).
  var remaining: Double {
    let d = end - .now
    let s = Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    return Swift.max(0, s)
  }

  /// A deadline `fraction` of the way from now to this one.
  func share(_ fraction: Double) -> Deadline { Deadline(seconds: remaining * fraction) }
}

/// The value marking an undefined result (zero divisor, overflow) in a value vector.
let undefinedValue = Int.min

/// Bottom-up enumeration of `Dim` expressions with observational-equivalence pruning.
///
/// Every expression is kept as its vector of values on a fixed list of rows (symbol vectors). Two
/// expressions with the same vector are indistinguishable on the data, so only the first (smallest,
/// then earliest in terminal order) is kept. The first `definedRows` rows are the ones an
/// expression must be defined on (the valid records): a division or modulo whose divisor is ≤ 0 on
/// any of them is skipped, and so is an expression that overflows on one of them. The remaining
/// rows (invalid records, for predicates) may hold `undefinedValue`.
///
/// Rarity pruning (after NeuRI): no operator on two constants; constants only as `x + c`, `x - c`,
/// `c - x`, `x * c` and `x / c` (c in 2...3), `min`/`max` with a constant; no `% c`; at most one
/// `min`/`max` per expression. Associativity/commutativity pruning: `+`, `*`, `min`, `max` take
/// their operands in a canonical order, and `+`/`-` never take a `+`/`-` as the right operand, nor
/// `*` a `*`.
final class Bank {
  enum Op: UInt8 {
    case symbol, constant, add, sub, mul, div, mod, min, max

    var isCommutative: Bool { self == .add || self == .mul || self == .min || self == .max }
  }

  /// The binary operators, in enumeration order.
  static let allOperators: [Op] = [.add, .sub, .mul, .div, .mod, .min, .max]

  let rowCount: Int
  let definedRows: Int
  private(set) var op: [Op] = []
  private(set) var lhs: [Int32] = []
  private(set) var rhs: [Int32] = []
  private(set) var size: [UInt8] = []
  private(set) var minMaxCount: [UInt8] = []
  /// Symbol index (for `.symbol`) or value (for `.constant`).
  private(set) var leaf: [Int] = []
  private(set) var values: [Int] = []
  private(set) var bySize: [[Int32]] = Array(repeating: [], count: 2)
  private var index: [Int: [Int32]] = [:]
  private var scratch: [Int]
  /// Candidates evaluated so far (kept or not).
  private(set) var evaluated = 0

  var count: Int { op.count }

  /// - Parameters:
  ///   - rows: symbol vectors, the first `definedRows` of which must keep every expression defined.
  ///   - symbols: indices of the symbols to use as terminals, in preference order.
  ///   - constants: constant terminals.
  init(rows: [[Int]], definedRows: Int, symbols: [Int], constants: [Int]) {
    rowCount = rows.count
    self.definedRows = definedRows
    scratch = Array(repeating: 0, count: rows.count)
    for s in symbols {
      for r in 0..<rows.count { scratch[r] = rows[r][s] }
      _ = insert(.symbol, -1, -1, size: 1, minMax: 0, leaf: s)
    }
    for c in constants {
      for r in 0..<rows.count { scratch[r] = c }
      _ = insert(.constant, -1, -1, size: 1, minMax: 0, leaf: c)
    }
  }

  /// The value of expression `id` on row `r`.
  @inline(__always) func value(_ id: Int32, _ r: Int) -> Int { values[Int(id) * rowCount + r] }

  /// The values of expression `id`.
  func vector(_ id: Int32) -> ArraySlice<Int> {
    values[(Int(id) * rowCount)..<(Int(id) * rowCount + rowCount)]
  }

  private static func hash<C: Collection<Int>>(_ v: C) -> Int {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for x in v { h = (h ^ UInt64(bitPattern: Int64(x))) &* 0x0000_0100_0000_01B3 }
    return Int(bitPattern: UInt(h))
  }

  /// The expression whose values on the rows are exactly `v`, if enumerated.
  func lookup(_ v: [Int]) -> Int32? {
    guard v.count == rowCount, let ids = index[Self.hash(v)] else { return nil }
    return ids.first { vector($0).elementsEqual(v) }
  }

  /// Inserts the vector in `scratch` unless an equivalent one exists; returns the new id.
  private func insert(_ o: Op, _ a: Int32, _ b: Int32, size s: Int, minMax: Int, leaf l: Int) -> Int32? {
    let h = Self.hash(scratch)
    if let ids = index[h] {
      for id in ids where vector(id).elementsEqual(scratch) { return nil }
    }
    let id = Int32(op.count)
    op.append(o)
    lhs.append(a)
    rhs.append(b)
    size.append(UInt8(s))
    minMaxCount.append(UInt8(minMax))
    leaf.append(l)
    values.append(contentsOf: scratch)
    index[h, default: []].append(id)
    while bySize.count <= s { bySize.append([]) }
    bySize[s].append(id)
    return id
  }

  /// Whether `(a op b)` passes the rarity and canonical-order rules.
  private func allowed(_ o: Op, _ a: Int32, _ b: Int32) -> Bool {
    let (oa, ob) = (op[Int(a)], op[Int(b)])
    let (ca, cb) = (oa == .constant, ob == .constant)
    if ca && cb { return false }
    if a == b && o != .add && o != .mul { return false }
    if Int(minMaxCount[Int(a)]) + Int(minMaxCount[Int(b)]) + ((o == .min || o == .max) ? 1 : 0) > 1 {
      return false
    }
    if ca || cb {
      let c = ca ? leaf[Int(a)] : leaf[Int(b)]
      switch o {
      case .add: if c == 0 { return false }
      case .sub: if c == 0 { return false }
      case .mul: if c < 2 { return false }
      case .div: if ca || c < 2 { return false }
      case .mod: return false
      case .min, .max: break
      case .symbol, .constant: return false
      }
    }
    switch o {
    case .add, .sub: if ob == .add || ob == .sub { return false }
    case .mul: if ob == .mul { return false }
    default: break
    }
    return true
  }

  /// Computes `a op b` into `scratch`; false if undefined on a defined row.
  private func compute(_ o: Op, _ a: Int32, _ b: Int32) -> Bool {
    let n = rowCount
    let def = definedRows
    let (ba, bb) = (Int(a) * n, Int(b) * n)
    return values.withUnsafeBufferPointer { v in
      scratch.withUnsafeMutableBufferPointer { out in
        for r in 0..<n {
          let x = v[ba + r]
          let y = v[bb + r]
          var z = undefinedValue
          if x != undefinedValue && y != undefinedValue {
            switch o {
            case .add:
              let (s, f) = x.addingReportingOverflow(y)
              if !f { z = s }
            case .sub:
              let (s, f) = x.subtractingReportingOverflow(y)
              if !f { z = s }
            case .mul:
              let (s, f) = x.multipliedReportingOverflow(by: y)
              if !f { z = s }
            case .div:
              if r < def && y <= 0 { return false }
              z = floorDivide(x, y) ?? undefinedValue
            case .mod:
              if r < def && y <= 0 { return false }
              z = floorModulo(x, y) ?? undefinedValue
            case .min: z = Swift.min(x, y)
            case .max: z = Swift.max(x, y)
            case .symbol, .constant: return false
            }
          }
          if z == undefinedValue && r < def { return false }
          out[r] = z
        }
        return true
      }
    }
  }

  /// Enumerates expressions up to `maxSize` nodes (sizes are odd: every operator is binary).
  ///
  /// Stops early at the deadline or when `maxEntries` expressions are kept or `maxEvaluations`
  /// candidates were evaluated; returns false if it stopped early.
  @discardableResult
  func grow(
    maxSize: Int, operators: [Op] = Bank.allOperators, deadline: Deadline,
    maxEntries: Int = 200_000, maxEvaluations: Int = 2_000_000,
    stopWhen: ((Int32) -> Bool)? = nil
  ) -> Bool {
    var n = 3
    while n <= maxSize {
      while bySize.count <= n { bySize.append([]) }
      if !bySize[n].isEmpty {  // already grown to this size
        n += 2
        continue
      }
      for o in operators {
        var sa = 1
        while sa <= n - 2 {
          let sb = n - 1 - sa
          defer { sa += 2 }
          if o.isCommutative && sa > sb { continue }
          let left = bySize[sa]
          let right = bySize[sb]
          for a in left {
            for b in right {
              if o.isCommutative && sa == sb && b < a { continue }
              if !allowed(o, a, b) { continue }
              evaluated += 1
              if evaluated & 1023 == 0 && deadline.expired { return false }
              if evaluated > maxEvaluations || count >= maxEntries { return false }
              guard compute(o, a, b) else { continue }
              let mm = Int(minMaxCount[Int(a)]) + Int(minMaxCount[Int(b)]) + (o == .min || o == .max ? 1 : 0)
              if let id = insert(o, a, b, size: n, minMax: mm, leaf: 0), let stopWhen, stopWhen(id) {
                return true
              }
            }
          }
        }
      }
      n += 2
    }
    return true
  }

  /// The expression `id` as a `Dim` over `names`.
  func dim(_ id: Int32, names: [String]) -> Dim {
    let i = Int(id)
    switch op[i] {
    case .symbol: return .symbol(names[leaf[i]])
    case .constant: return .constant(leaf[i])
    default: break
    }
    var a = dim(lhs[i], names: names)
    var b = dim(rhs[i], names: names)
    switch op[i] {
    case .add:
      if a.constantValue != nil { swap(&a, &b) }
      return a + b
    case .sub: return a - b
    case .mul:
      if b.constantValue != nil { swap(&a, &b) }
      return a * b
    case .div: return a / b
    case .mod: return a % b
    case .min: return .minimum(a, b)
    case .max: return .maximum(a, b)
    case .symbol, .constant: return a
    }
  }

  /// Node count of expression `id`.
  func nodes(_ id: Int32) -> Int { Int(size[Int(id)]) }
}

/// Node count of a `Dim`.
func nodeCount(_ d: Dim) -> Int {
  switch d {
  case .constant, .symbol: return 1
  case .add(let a, let b), .sub(let a, let b), .mul(let a, let b), .floorDiv(let a, let b),
    .mod(let a, let b), .min(let a, let b), .max(let a, let b):
    return 1 + nodeCount(a) + nodeCount(b)
  }
}

/// Every subexpression of `d` (including `d`), outermost first.
func subexpressions(_ d: Dim) -> [Dim] {
  switch d {
  case .constant, .symbol: return [d]
  case .add(let a, let b), .sub(let a, let b), .mul(let a, let b), .floorDiv(let a, let b),
    .mod(let a, let b), .min(let a, let b), .max(let a, let b):
    return [d] + subexpressions(a) + subexpressions(b)
  }
}

/// Evaluates `Dim`s on symbol vectors by position.
struct Evaluator {
  let index: [String: Int]

  init(names: [String]) {
    var m: [String: Int] = [:]
    for (i, n) in names.enumerated() where m[n] == nil { m[n] = i }
    index = m
  }

  func value(_ d: Dim, _ row: [Int]) -> Int? {
    d.evaluated { name in index[name].map { row[$0] } }
  }

  func holds(_ c: Constraint, _ row: [Int]) -> Bool {
    c.evaluated { name in index[name].map { row[$0] } }
  }
}
