import Tensors

/// Where an operator input's values must lie for the result to be finite and well defined.
public struct ValueDomain: Sendable, Hashable, CustomStringConvertible {
  /// Values must lie in this interval.
  public var allowed: Interval
  /// Values must also keep at least this distance from zero (divisors, reciprocals).
  public var gapAroundZero: Double

  public init(_ allowed: Interval, gapAroundZero: Double = 0) {
    self.allowed = allowed
    self.gapAroundZero = gapAroundZero
  }

  public static func within(_ lo: Double, _ hi: Double) -> ValueDomain { .init(Interval(lo, hi)) }
  public static let positive = ValueDomain.within(1e-3, .infinity)
  public static let nonNegative = ValueDomain.within(0, .infinity)
  public static let awayFromZero = ValueDomain(.everything, gapAroundZero: 0.1)

  public func contains(_ iv: Interval) -> Bool {
    guard allowed.contains(iv) else { return false }
    return gapAroundZero == 0 || iv.lo >= gapAroundZero || iv.hi <= -gapAroundZero
  }

  /// A range for a fresh input that satisfies this domain, near `preferred`.
  public func freshRange(preferred: Interval, negativeSide: Bool) -> Interval? {
    var base = preferred
    if gapAroundZero > 0 {
      let m = Swift.max(preferred.magnitude, 2 * gapAroundZero)
      base = negativeSide ? Interval(-m, -gapAroundZero) : Interval(gapAroundZero, m)
    }
    if let r = base.intersection(allowed), r.hi > r.lo || r.lo == r.hi { return contains(r) ? r : nil }
    // Preferred range lies outside the domain: use a unit-sized piece of the domain.
    let lo = allowed.lo.isFinite ? allowed.lo : Swift.min(allowed.hi, 1) - 1
    let hi = allowed.hi.isFinite ? Swift.min(allowed.hi, lo + 2) : lo + 2
    let r = Interval(lo, hi)
    return contains(r) ? r : nil
  }

  public var description: String {
    gapAroundZero > 0 ? "\(allowed) with |x| >= \(gapAroundZero)" : "\(allowed)"
  }
}

extension Interval {
  /// `x^n` over this interval for `n` in 0...3, exactly: odd powers are monotone, even ones are 0
  /// where the interval crosses zero.
  public func integerPower(_ n: Int) -> Interval {
    func p(_ x: Double) -> Double { (0..<n).reduce(1.0) { r, _ in r * x } }
    if n == 0 { return Interval(1, 1) }
    if n % 2 == 1 { return Interval(p(lo), p(hi)) }
    let low = lo <= 0 && hi >= 0 ? 0 : Swift.min(abs(lo), abs(hi))
    return Interval(p(low), p(Swift.max(abs(lo), abs(hi))))
  }

  /// The image of `f` over this interval, estimated by sampling both ends and 255 interior points,
  /// then widened by 1% of its width. Exact at the ends for monotone `f`; sound in practice for the
  /// smooth or piecewise-monotone scalar functions of the catalogue. Infinite intervals map to
  /// `.everything`.
  public func image(_ f: (Double) -> Double) -> Interval {
    guard isFinite else { return .everything }
    var lo = Double.infinity
    var hi = -Double.infinity
    let n = 256
    for i in 0...n {
      let x = i == n ? self.hi : self.lo + (self.hi - self.lo) * Double(i) / Double(n)
      let y = f(x)
      if y.isNaN { return .everything }
      lo = Swift.min(lo, y)
      hi = Swift.max(hi, y)
    }
    let pad = (hi - lo) * 0.01
    return Interval(lo - pad, hi + pad)
  }

  /// The image of a binary `f` over a box, by sampling a 17×17 grid (corners included).
  public func image(_ other: Interval, _ f: (Double, Double) -> Double) -> Interval {
    guard isFinite, other.isFinite else { return .everything }
    var lo = Double.infinity
    var hi = -Double.infinity
    let n = 16
    for i in 0...n {
      let x = i == n ? self.hi : self.lo + (self.hi - self.lo) * Double(i) / Double(n)
      for j in 0...n {
        let y = j == n ? other.hi : other.lo + (other.hi - other.lo) * Double(j) / Double(n)
        let v = f(x, y)
        if v.isNaN { return .everything }
        lo = Swift.min(lo, v)
        hi = Swift.max(hi, v)
      }
    }
    let pad = (hi - lo) * 0.01
    return Interval(lo - pad, hi + pad)
  }
}
