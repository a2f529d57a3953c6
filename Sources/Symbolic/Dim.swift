/// An integer expression over named symbols: the language of shape rules.
///
/// `Dim` is a pure value. The same expression is evaluated concretely (`evaluated(in:)`), partially
/// evaluated (`substituting(_:)`), printed and parsed (`description`, `Dim(parsing:)`), and lowered to
/// Z3 by the `SMT` module, which is the only place that knows about the solver.
///
/// Semantics (shared by every consumer):
/// - `/` is **floor** division and `%` the matching floor modulo (`a == (a / b) * b + a % b`,
///   `0 <= a % b < b` for `b > 0`). A zero divisor makes the expression undefined (`nil`).
/// - Arithmetic that overflows `Int` is undefined (`nil`), never a trap.
/// - Construction folds constants and the identities `x + 0`, `x * 1`, `x * 0`, `x / 1`, so partially
///   evaluated rules stay small.
public indirect enum Dim: Hashable, Sendable {
  case constant(Int)
  case symbol(String)
  case add(Dim, Dim)
  case sub(Dim, Dim)
  case mul(Dim, Dim)
  case floorDiv(Dim, Dim)
  case mod(Dim, Dim)
  case min(Dim, Dim)
  case max(Dim, Dim)

  /// The value if the expression is a constant.
  @inlinable public var constantValue: Int? {
    if case .constant(let v) = self { return v }
    return nil
  }
}

extension Dim: ExpressibleByIntegerLiteral {
  @inlinable public init(integerLiteral value: Int) { self = .constant(value) }
}

// MARK: - Scalar semantics

/// Floor division; `nil` when `b == 0` or on overflow.
@inlinable public func floorDivide(_ a: Int, _ b: Int) -> Int? {
  if b == 0 || (a == Int.min && b == -1) { return nil }
  let q = a / b
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q
}

/// Floor modulo (sign of the divisor); `nil` when `b == 0`.
@inlinable public func floorModulo(_ a: Int, _ b: Int) -> Int? {
  if b == 0 { return nil }
  if b == -1 { return 0 }
  let r = a % b
  return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r
}

// MARK: - Smart constructors (constant folding)

extension Dim {
  public static func + (l: Dim, r: Dim) -> Dim {
    switch (l, r) {
    case (.constant(let a), .constant(let b)):
      let (v, o) = a.addingReportingOverflow(b)
      return o ? .add(l, r) : .constant(v)
    case (.constant(0), _): return r
    case (_, .constant(0)): return l
    default: return .add(l, r)
    }
  }

  public static func - (l: Dim, r: Dim) -> Dim {
    switch (l, r) {
    case (.constant(let a), .constant(let b)):
      let (v, o) = a.subtractingReportingOverflow(b)
      return o ? .sub(l, r) : .constant(v)
    case (_, .constant(0)): return l
    default: return l == r ? .constant(0) : .sub(l, r)
    }
  }

  public static func * (l: Dim, r: Dim) -> Dim {
    switch (l, r) {
    case (.constant(let a), .constant(let b)):
      let (v, o) = a.multipliedReportingOverflow(by: b)
      return o ? .mul(l, r) : .constant(v)
    case (.constant(0), _), (_, .constant(0)): return .constant(0)
    case (.constant(1), _): return r
    case (_, .constant(1)): return l
    default: return .mul(l, r)
    }
  }

  /// Floor division.
  public static func / (l: Dim, r: Dim) -> Dim {
    switch (l, r) {
    case (.constant(let a), .constant(let b)):
      if let v = floorDivide(a, b) { return .constant(v) }
      return .floorDiv(l, r)
    case (_, .constant(1)): return l
    default: return .floorDiv(l, r)
    }
  }

  /// Floor modulo.
  public static func % (l: Dim, r: Dim) -> Dim {
    switch (l, r) {
    case (.constant(let a), .constant(let b)):
      if let v = floorModulo(a, b) { return .constant(v) }
      return .mod(l, r)
    case (_, .constant(1)): return .constant(0)
    default: return .mod(l, r)
    }
  }

  public static func minimum(_ l: Dim, _ r: Dim) -> Dim {
    if case .constant(let a) = l, case .constant(let b) = r { return .constant(Swift.min(a, b)) }
    return l == r ? l : .min(l, r)
  }

  public static func maximum(_ l: Dim, _ r: Dim) -> Dim {
    if case .constant(let a) = l, case .constant(let b) = r { return .constant(Swift.max(a, b)) }
    return l == r ? l : .max(l, r)
  }

  public static prefix func - (x: Dim) -> Dim { .constant(0) - x }

  /// The product of `dims` (1 for none).
  public static func product<S: Sequence>(_ dims: S) -> Dim where S.Element == Dim {
    dims.reduce(Dim.constant(1), *)
  }
}

// MARK: - Evaluation

extension Dim {
  /// Evaluates with every symbol bound by `lookup`; `nil` if a symbol is unbound or the value is
  /// undefined (zero divisor, overflow).
  @inlinable public func evaluated(_ lookup: (String) -> Int?) -> Int? {
    switch self {
    case .constant(let v): return v
    case .symbol(let s): return lookup(s)
    case .add(let a, let b):
      guard let x = a.evaluated(lookup), let y = b.evaluated(lookup) else { return nil }
      let (v, o) = x.addingReportingOverflow(y)
      return o ? nil : v
    case .sub(let a, let b):
      guard let x = a.evaluated(lookup), let y = b.evaluated(lookup) else { return nil }
      let (v, o) = x.subtractingReportingOverflow(y)
      return o ? nil : v
    case .mul(let a, let b):
      guard let x = a.evaluated(lookup), let y = b.evaluated(lookup) else { return nil }
      let (v, o) = x.multipliedReportingOverflow(by: y)
      return o ? nil : v
    case .floorDiv(let a, let b):
      guard let x = a.evaluated(lookup), let y = b.evaluated(lookup) else { return nil }
      return floorDivide(x, y)
    case .mod(let a, let b):
      guard let x = a.evaluated(lookup), let y = b.evaluated(lookup) else { return nil }
      return floorModulo(x, y)
    case .min(let a, let b):
      guard let x = a.evaluated(lookup), let y = b.evaluated(lookup) else { return nil }
      return Swift.min(x, y)
    case .max(let a, let b):
      guard let x = a.evaluated(lookup), let y = b.evaluated(lookup) else { return nil }
      return Swift.max(x, y)
    }
  }

  /// Evaluates with the symbols bound in `bindings`.
  public func evaluated(in bindings: [String: Int]) -> Int? { evaluated { bindings[$0] } }

  /// Partially evaluates: replaces bound symbols and folds constants.
  public func substituting(_ lookup: (String) -> Int?) -> Dim { replacing { lookup($0).map(Dim.constant) } }

  public func substituting(_ bindings: [String: Int]) -> Dim { substituting { bindings[$0] } }

  /// Replaces symbols by expressions (inferred rules written over their own symbol names are
  /// instantiated over an operator instance's dims this way) and folds constants.
  public func replacing(_ lookup: (String) -> Dim?) -> Dim {
    switch self {
    case .constant: return self
    case .symbol(let s): return lookup(s) ?? self
    case .add(let a, let b): return a.replacing(lookup) + b.replacing(lookup)
    case .sub(let a, let b): return a.replacing(lookup) - b.replacing(lookup)
    case .mul(let a, let b): return a.replacing(lookup) * b.replacing(lookup)
    case .floorDiv(let a, let b): return a.replacing(lookup) / b.replacing(lookup)
    case .mod(let a, let b): return a.replacing(lookup) % b.replacing(lookup)
    case .min(let a, let b): return .minimum(a.replacing(lookup), b.replacing(lookup))
    case .max(let a, let b): return .maximum(a.replacing(lookup), b.replacing(lookup))
    }
  }

  /// Renames symbols (used to give each operator instance fresh names).
  public func renamed(_ rename: (String) -> String) -> Dim {
    switch self {
    case .constant: return self
    case .symbol(let s): return .symbol(rename(s))
    case .add(let a, let b): return .add(a.renamed(rename), b.renamed(rename))
    case .sub(let a, let b): return .sub(a.renamed(rename), b.renamed(rename))
    case .mul(let a, let b): return .mul(a.renamed(rename), b.renamed(rename))
    case .floorDiv(let a, let b): return .floorDiv(a.renamed(rename), b.renamed(rename))
    case .mod(let a, let b): return .mod(a.renamed(rename), b.renamed(rename))
    case .min(let a, let b): return .min(a.renamed(rename), b.renamed(rename))
    case .max(let a, let b): return .max(a.renamed(rename), b.renamed(rename))
    }
  }

  /// Appends the symbols in order of first appearance, skipping those already in `seen`.
  public func collectSymbols(into list: inout [String], seen: inout Set<String>) {
    switch self {
    case .constant: return
    case .symbol(let s): if seen.insert(s).inserted { list.append(s) }
    case .add(let a, let b), .sub(let a, let b), .mul(let a, let b), .floorDiv(let a, let b),
      .mod(let a, let b), .min(let a, let b), .max(let a, let b):
      a.collectSymbols(into: &list, seen: &seen)
      b.collectSymbols(into: &list, seen: &seen)
    }
  }

  /// Symbols in order of first appearance (deterministic).
  public var symbols: [String] {
    var list: [String] = []
    var seen: Set<String> = []
    collectSymbols(into: &list, seen: &seen)
    return list
  }
}
