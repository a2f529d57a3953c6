/// A closed interval of real values: the value range a generated tensor is known to lie in.
///
/// The generator propagates intervals through operators (`OperatorSpec.range`) so that an operator
/// with a restricted domain (log, sqrt, reciprocal, ...) only consumes values inside its domain and
/// no operator is placed where its result would overflow its dtype. Intervals are sound bounds,
/// not tight ones.
public struct Interval: Hashable, Sendable, Codable, CustomStringConvertible {
  public var lo: Double
  public var hi: Double

  public init(_ lo: Double, _ hi: Double) {
    self.lo = lo
    self.hi = hi
  }

  public static let everything = Interval(-.infinity, .infinity)
  public static let unit = Interval(-1, 1)
  public static let boolean = Interval(0, 1)

  public var isFinite: Bool { lo.isFinite && hi.isFinite }
  public var magnitude: Double { Swift.max(abs(lo), abs(hi)) }
  public var containsZero: Bool { lo <= 0 && hi >= 0 }

  public func contains(_ x: Double) -> Bool { x >= lo && x <= hi }
  public func contains(_ other: Interval) -> Bool { other.lo >= lo && other.hi <= hi }

  /// Smallest interval containing both.
  public func hull(_ o: Interval) -> Interval { Interval(Swift.min(lo, o.lo), Swift.max(hi, o.hi)) }
  public func hull(_ x: Double) -> Interval { Interval(Swift.min(lo, x), Swift.max(hi, x)) }

  public func intersection(_ o: Interval) -> Interval? {
    let l = Swift.max(lo, o.lo)
    let h = Swift.min(hi, o.hi)
    return l <= h ? Interval(l, h) : nil
  }

  public static func + (a: Interval, b: Interval) -> Interval { Interval(a.lo + b.lo, a.hi + b.hi) }
  public static func - (a: Interval, b: Interval) -> Interval { Interval(a.lo - b.hi, a.hi - b.lo) }
  public static func * (a: Interval, b: Interval) -> Interval {
    let c = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi].map { $0.isNaN ? 0 : $0 }
    return Interval(c.min()!, c.max()!)
  }
  /// Sum of `n` values from `a`.
  public func scaled(by n: Double) -> Interval {
    n >= 0 ? Interval(lo * n, hi * n) : Interval(hi * n, lo * n)
  }

  /// Image of a monotone nondecreasing function.
  public func mapIncreasing(_ f: (Double) -> Double) -> Interval { Interval(f(lo), f(hi)) }

  public var description: String { "[\(lo), \(hi)]" }
}
