/// A comparison between two `Dim`s.
public enum Comparison: String, Hashable, Sendable, CaseIterable {
  case eq = "=="
  case ne = "!="
  case lt = "<"
  case le = "<="
  case gt = ">"
  case ge = ">="

  @inlinable public func holds(_ a: Int, _ b: Int) -> Bool {
    switch self {
    case .eq: return a == b
    case .ne: return a != b
    case .lt: return a < b
    case .le: return a <= b
    case .gt: return a > b
    case .ge: return a >= b
    }
  }
}

/// A boolean constraint over `Dim`s: the `requires` part of a shape rule.
///
/// A predicate whose expressions are undefined (zero divisor, overflow, unbound symbol) is false.
/// Comparisons are written with dotted operators (`a .== b`, `a .<= b`) so that `==` keeps meaning
/// structural equality.
public indirect enum Constraint: Hashable, Sendable {
  case constant(Bool)
  case compare(Comparison, Dim, Dim)
  case and([Constraint])
  case or([Constraint])
  case not(Constraint)
}

infix operator .== : ComparisonPrecedence
infix operator .!= : ComparisonPrecedence
infix operator .< : ComparisonPrecedence
infix operator .<= : ComparisonPrecedence
infix operator .> : ComparisonPrecedence
infix operator .>= : ComparisonPrecedence

extension Dim {
  public static func .== (l: Dim, r: Dim) -> Constraint { .comparing(.eq, l, r) }
  public static func .!= (l: Dim, r: Dim) -> Constraint { .comparing(.ne, l, r) }
  public static func .< (l: Dim, r: Dim) -> Constraint { .comparing(.lt, l, r) }
  public static func .<= (l: Dim, r: Dim) -> Constraint { .comparing(.le, l, r) }
  public static func .> (l: Dim, r: Dim) -> Constraint { .comparing(.gt, l, r) }
  public static func .>= (l: Dim, r: Dim) -> Constraint { .comparing(.ge, l, r) }
}

extension Constraint {
  /// A comparison, folded to a constant when both sides are constants.
  public static func comparing(_ c: Comparison, _ l: Dim, _ r: Dim) -> Constraint {
    if case .constant(let a) = l, case .constant(let b) = r { return .constant(c.holds(a, b)) }
    return .compare(c, l, r)
  }

  /// Conjunction with constant folding.
  public static func && (l: Constraint, r: Constraint) -> Constraint { .all([l, r]) }
  /// Disjunction with constant folding.
  public static func || (l: Constraint, r: Constraint) -> Constraint { .any([l, r]) }
  public static prefix func ! (p: Constraint) -> Constraint {
    if case .constant(let b) = p { return .constant(!b) }
    return .not(p)
  }

  public static func all(_ ps: [Constraint]) -> Constraint {
    var kept: [Constraint] = []
    for p in ps {
      switch p {
      case .constant(true): continue
      case .constant(false): return .constant(false)
      case .and(let inner): kept.append(contentsOf: inner)
      default: kept.append(p)
      }
    }
    if kept.isEmpty { return .constant(true) }
    return kept.count == 1 ? kept[0] : .and(kept)
  }

  public static func any(_ ps: [Constraint]) -> Constraint {
    var kept: [Constraint] = []
    for p in ps {
      switch p {
      case .constant(false): continue
      case .constant(true): return .constant(true)
      case .or(let inner): kept.append(contentsOf: inner)
      default: kept.append(p)
      }
    }
    if kept.isEmpty { return .constant(false) }
    return kept.count == 1 ? kept[0] : .or(kept)
  }

  /// Evaluates; `nil` only if a symbol is unbound. Undefined arithmetic makes a comparison false.
  public func evaluated(_ lookup: (String) -> Int?) -> Bool {
    switch self {
    case .constant(let b): return b
    case .compare(let c, let l, let r):
      guard let a = l.evaluated(lookup), let b = r.evaluated(lookup) else { return false }
      return c.holds(a, b)
    case .and(let ps): return ps.allSatisfy { $0.evaluated(lookup) }
    case .or(let ps): return ps.contains { $0.evaluated(lookup) }
    case .not(let p): return !p.evaluated(lookup)
    }
  }

  public func evaluated(in bindings: [String: Int]) -> Bool { evaluated { bindings[$0] } }

  /// Partially evaluates and folds.
  public func substituting(_ lookup: (String) -> Int?) -> Constraint {
    replacing { lookup($0).map(Dim.constant) }
  }

  public func substituting(_ bindings: [String: Int]) -> Constraint { substituting { bindings[$0] } }

  /// Replaces symbols by expressions and folds (see `Dim.replacing`).
  public func replacing(_ lookup: (String) -> Dim?) -> Constraint {
    switch self {
    case .constant: return self
    case .compare(let c, let l, let r):
      let (a, b) = (l.replacing(lookup), r.replacing(lookup))
      if case .constant(let x) = a, case .constant(let y) = b { return .constant(c.holds(x, y)) }
      if a.isUndefinedGround || b.isUndefinedGround { return .constant(false) }
      return .compare(c, a, b)
    case .and(let ps): return .all(ps.map { $0.replacing(lookup) })
    case .or(let ps): return .any(ps.map { $0.replacing(lookup) })
    case .not(let p): return !p.replacing(lookup)
    }
  }

  public func renamed(_ rename: (String) -> String) -> Constraint {
    switch self {
    case .constant: return self
    case .compare(let c, let l, let r): return .compare(c, l.renamed(rename), r.renamed(rename))
    case .and(let ps): return .and(ps.map { $0.renamed(rename) })
    case .or(let ps): return .or(ps.map { $0.renamed(rename) })
    case .not(let p): return .not(p.renamed(rename))
    }
  }

  public func collectSymbols(into list: inout [String], seen: inout Set<String>) {
    switch self {
    case .constant: return
    case .compare(_, let l, let r):
      l.collectSymbols(into: &list, seen: &seen)
      r.collectSymbols(into: &list, seen: &seen)
    case .and(let ps), .or(let ps): for p in ps { p.collectSymbols(into: &list, seen: &seen) }
    case .not(let p): p.collectSymbols(into: &list, seen: &seen)
    }
  }

  public var symbols: [String] {
    var list: [String] = []
    var seen: Set<String> = []
    collectSymbols(into: &list, seen: &seen)
    return list
  }
}

extension Dim {
  /// True for an expression with no symbols that still failed to fold (zero divisor, overflow).
  public var isUndefinedGround: Bool {
    if case .constant = self { return false }
    return symbols.isEmpty
  }
}
