import SMT
import Symbolic
import Tensors

/// Solves the small problems left when an operator is inserted next to concrete values: a few
/// fresh integers (new input dims, integer attributes) under the rule's constraints.
///
/// This is the fast path of generation (see Docs/Generation.md): constraint propagation plus
/// seeded, binned random sampling, no solver call. Each try
/// 1. substitutes the values fixed so far and folds; a false constraint ends the try;
/// 2. narrows domains from bounds on one unknown (`x <= 7`, `3 * x * y <= 4096`);
/// 3. assigns unknowns fixed by an equality (`x == 5`, `4 * x == 12`, `x + 2 == 9`);
/// 4. otherwise commits to one random disjunct of an undecided `||`, or samples the next unknown
///    (divisors of a product equality when one applies, else a log-binned value in its domain).
/// When every try fails, the caller falls back to Z3.
struct ResidualSolver {
  var tries = 8

  enum Result {
    case solved([String: Int])
    /// Propagation alone (before any random choice) found a contradiction: no solution exists.
    case infeasible
    /// Every try failed; a complete solver may still find a solution.
    case unknown
  }

  func solve(_ constraints: [Constraint], _ variables: [Variable], _ rng: inout SplitMix64) -> Result {
    for _ in 0..<tries {
      var decided = false
      if let s = attempt(constraints, variables, &rng, decided: &decided) { return .solved(s) }
      if !decided { return .infeasible }
    }
    return .unknown
  }

  /// One randomized try; `decided` tells whether it made a random choice before failing.
  private func attempt(
    _ constraints: [Constraint], _ variables: [Variable], _ rng: inout SplitMix64, decided: inout Bool
  ) -> [String: Int]? {
    var env: [String: Int] = [:]
    var lo: [String: Int] = [:]
    var hi: [String: Int] = [:]
    for v in variables {
      lo[v.name] = v.domain.lowerBound
      hi[v.name] = v.domain.upperBound
    }
    var pending = constraints
    var steps = 0
    while steps < 4 * (variables.count + constraints.count) + 16 {
      steps += 1
      // 1. Substitute and fold.
      var next: [Constraint] = []
      next.reserveCapacity(pending.count)
      for c in pending {
        switch c.substituting({ env[$0] }) {
        case .constant(true): continue
        case .constant(false): return nil
        case .and(let parts): next.append(contentsOf: parts)
        case let p: next.append(p)
        }
      }
      pending = next
      if pending.isEmpty && env.count == variables.count { return env }

      // 2–3. Propagate bounds and equalities.
      var progress = false
      for c in pending {
        guard case .compare(let op, let l, let r) = c else { continue }
        if let (name, value) = Self.isolate(op, l, r) {
          guard lo[name] != nil, env[name] == nil else { continue }
          guard value >= lo[name]!, value <= hi[name]! else { return nil }
          env[name] = value
          progress = true
          break
        }
        if Self.tighten(op, l, r, lo: &lo, hi: &hi, env: env) { progress = true }
      }
      for v in variables where env[v.name] == nil {
        if lo[v.name]! > hi[v.name]! { return nil }
        if lo[v.name]! == hi[v.name]! {
          env[v.name] = lo[v.name]!
          progress = true
        }
      }
      if progress { continue }

      // 4. Decide a disjunction, or sample an unknown.
      if let i = pending.firstIndex(where: { if case .or = $0 { return true } else { return false } }),
        case .or(let options) = pending[i]
      {
        pending[i] = rng.pick(options)
        decided = true
        continue
      }
      guard let v = variables.first(where: { env[$0.name] == nil }) else {
        return pending.allSatisfy { $0.evaluated { env[$0] } } ? env : nil
      }
      let (l, h) = (lo[v.name]!, hi[v.name]!)
      decided = true
      if let divisors = Self.divisorHint(v.name, pending, l, h), !divisors.isEmpty {
        env[v.name] = rng.pick(divisors)
      } else {
        env[v.name] = Self.binned(l, h, &rng)
      }
    }
    return nil
  }

  /// A log-binned draw: half the time uniform, otherwise uniform within a random power-of-two bin,
  /// so small and large values are both common.
  static func binned(_ lo: Int, _ hi: Int, _ rng: inout SplitMix64) -> Int {
    if lo >= hi { return lo }
    // The smallest value (no padding, stride 1, a dim of 1) satisfies many tight constraints.
    if rng.chance(0.15) { return lo }
    if rng.chance(0.5) || lo < 1 || hi > 1 << 40 { return rng.int(in: lo...hi) }
    let top = Int.bitWidth - hi.leadingZeroBitCount
    let bottom = Int.bitWidth - lo.leadingZeroBitCount
    let e = rng.int(in: (bottom - 1)...(top - 1))
    let a = Swift.max(lo, 1 << e)
    let b = Swift.min(hi, (1 << (e + 1)) - 1)
    return a <= b ? rng.int(in: a...b) : rng.int(in: lo...hi)
  }

  /// `x op value` with a lone unknown `x` fixed by equality: solves `a*x + b == c` shapes.
  static func isolate(_ op: Comparison, _ l: Dim, _ r: Dim) -> (String, Int)? {
    guard op == .eq else { return nil }
    if let c = r.constantValue { return solveFor(l, c) }
    if let c = l.constantValue { return solveFor(r, c) }
    return nil
  }

  /// Inverts `e == target` through +, -, * when `e` has exactly one symbol occurrence.
  static func solveFor(_ e: Dim, _ target: Int) -> (String, Int)? {
    switch e {
    case .symbol(let s): return (s, target)
    case .add(let a, let b):
      if let k = b.constantValue { return solveFor(a, target - k) }
      if let k = a.constantValue { return solveFor(b, target - k) }
    case .sub(let a, let b):
      if let k = b.constantValue { return solveFor(a, target + k) }
      if let k = a.constantValue { return solveFor(b, k - target) }
    case .mul(let a, let b):
      if let k = b.constantValue, k != 0 { return target % k == 0 ? solveFor(a, target / k) : nil }
      if let k = a.constantValue, k != 0 { return target % k == 0 ? solveFor(b, target / k) : nil }
    default: break
    }
    return nil
  }

  /// A pure product of constants and distinct unknown symbols.
  static func product(_ e: Dim) -> (Int, [String])? {
    switch e {
    case .constant(let c): return (c, [])
    case .symbol(let s): return (1, [s])
    case .mul(let a, let b):
      guard let (x, xs) = product(a), let (y, ys) = product(b) else { return nil }
      let (p, o) = x.multipliedReportingOverflow(by: y)
      return o ? nil : (p, xs + ys)
    default: return nil
    }
  }

  /// Narrows unknowns' domains from a comparison with a constant side: pushes the interval the
  /// expression must lie in through `+ k`, `- k`, `* k` and `/ k` (constant `k`) down to a lone
  /// unknown, and bounds each factor of a pure product of unknowns from above.
  static func tighten(
    _ op: Comparison, _ l: Dim, _ r: Dim, lo: inout [String: Int], hi: inout [String: Int], env: [String: Int]
  ) -> Bool {
    let e: Dim
    let c: Int
    var op = op
    if let k = r.constantValue {
      (e, c) = (l, k)
    } else if let k = l.constantValue {
      (e, c) = (r, k)
      switch op {
      case .lt: op = .gt
      case .le: op = .ge
      case .gt: op = .lt
      case .ge: op = .le
      default: break
      }
    } else {
      return false
    }
    let big = 1 << 50
    guard abs(c) < big else { return false }
    var a = -big
    var b = big
    switch op {
    case .eq: (a, b) = (c, c)
    case .le: b = c
    case .lt: b = c - 1
    case .ge: a = c
    case .gt: a = c + 1
    case .ne: return false
    }
    if let (k, syms) = product(e), syms.count > 1 {
      return boundProduct(k, syms, upper: b, lo: &lo, hi: &hi, env: env)
    }
    return bound(e, a, b, lo: &lo, hi: &hi, env: env)
  }

  /// Restricts `e` to `a...b` (either side may be ±2^50, meaning unbounded).
  static func bound(
    _ e: Dim, _ a: Int, _ b: Int, lo: inout [String: Int], hi: inout [String: Int], env: [String: Int]
  ) -> Bool {
    let big = 1 << 50
    func clip(_ x: Int) -> Int { Swift.max(-big, Swift.min(big, x)) }
    if let (terms, k) = linear(e), terms.count > 1,
      terms.allSatisfy({ lo[$0.1] != nil && env[$0.1] == nil && abs(lo[$0.1]!) < big && abs(hi[$0.1]!) < big }
      )
    {
      return boundLinear(terms, a - k, b - k, lo: &lo, hi: &hi)
    }
    switch e {
    case .symbol(let s):
      guard let l0 = lo[s], let h0 = hi[s], env[s] == nil else { return false }
      let (l1, h1) = (Swift.max(l0, a), Swift.min(h0, b))
      lo[s] = l1
      hi[s] = h1
      return l1 != l0 || h1 != h0
    case .add(let x, let y):
      if let k = y.constantValue { return bound(x, clip(a - k), clip(b - k), lo: &lo, hi: &hi, env: env) }
      if let k = x.constantValue { return bound(y, clip(a - k), clip(b - k), lo: &lo, hi: &hi, env: env) }
    case .sub(let x, let y):
      if let k = y.constantValue { return bound(x, clip(a + k), clip(b + k), lo: &lo, hi: &hi, env: env) }
      if let k = x.constantValue { return bound(y, clip(k - b), clip(k - a), lo: &lo, hi: &hi, env: env) }
    case .mul(let x, let y):
      let (k, inner): (Int?, Dim) = y.constantValue != nil ? (y.constantValue, x) : (x.constantValue, y)
      guard let k, k != 0, abs(k) < big else { return false }
      // k*v in [a, b]  <=>  v in [ceil(a/k), floor(b/k)] for k > 0 (swapped for k < 0).
      let (p, q) = k > 0 ? (a, b) : (-b, -a)
      let kk = abs(k)
      return bound(inner, -floorDivide(-p, kk)!, floorDivide(q, kk)!, lo: &lo, hi: &hi, env: env)
    case .floorDiv(let x, let y):
      guard let k = y.constantValue, k > 0, k < big else { return false }
      // floor(v / k) in [a, b]  <=>  v in [a*k, b*k + k - 1].
      return bound(
        x, clip(a.multipliedReportingOverflow(by: k).overflow ? -big : a * k),
        clip(b.multipliedReportingOverflow(by: k).overflow ? big : b * k + k - 1), lo: &lo, hi: &hi, env: env)
    case .max(let x, let y):
      // max(k, v) in [a, b]: v <= b, and v >= a when k < a.
      let (k, v): (Int?, Dim) = x.constantValue != nil ? (x.constantValue, y) : (y.constantValue, x)
      guard let k else { return false }
      if k > b { return false }
      return bound(v, k < a ? a : -big, b, lo: &lo, hi: &hi, env: env)
    case .min(let x, let y):
      let (k, v): (Int?, Dim) = x.constantValue != nil ? (x.constantValue, y) : (y.constantValue, x)
      guard let k else { return false }
      if k < a { return false }
      return bound(v, a, k > b ? b : big, lo: &lo, hi: &hi, env: env)
    default: break
    }
    return false
  }

  /// `e` as `sum(c_i * x_i) + k` with distinct symbols and small coefficients, if it is linear.
  static func linear(_ e: Dim) -> ([(Int, String)], Int)? {
    var terms: [(Int, String)] = []
    var constant = 0
    func walk(_ d: Dim, _ sign: Int) -> Bool {
      switch d {
      case .constant(let v):
        constant += sign * v
        return abs(v) < 1 << 40
      case .symbol(let s):
        terms.append((sign, s))
        return true
      case .add(let x, let y): return walk(x, sign) && walk(y, sign)
      case .sub(let x, let y): return walk(x, sign) && walk(y, -sign)
      case .mul(let x, let y):
        if let k = y.constantValue, abs(k) < 1 << 20 { return walk(x, sign * k) }
        if let k = x.constantValue, abs(k) < 1 << 20 { return walk(y, sign * k) }
        return false
      default: return false
      }
    }
    guard walk(e, 1) else { return nil }
    var merged: [(Int, String)] = []
    for (c, s) in terms {
      if let i = merged.firstIndex(where: { $0.1 == s }) { merged[i].0 += c } else { merged.append((c, s)) }
    }
    return (merged.filter { $0.0 != 0 }, constant)
  }

  /// Bounds propagation for `sum(c_i * x_i)` in `a...b`: each term lies in the target interval
  /// minus the others' extreme contributions.
  static func boundLinear(
    _ terms: [(Int, String)], _ a: Int, _ b: Int, lo: inout [String: Int], hi: inout [String: Int]
  ) -> Bool {
    let big = 1 << 50
    func range(_ t: (Int, String)) -> (Int, Int) {
      let (c, s) = t
      let (x, y) = (c * lo[s]!, c * hi[s]!)
      return (Swift.min(x, y), Swift.max(x, y))
    }
    var changed = false
    let total = terms.map(range).reduce((0, 0)) { ($0.0 + $1.0, $0.1 + $1.1) }
    for t in terms {
      let (tmin, tmax) = range(t)
      let restMin = total.0 - tmin
      let restMax = total.1 - tmax
      // c * x in [a - restMax, b - restMin]
      let p = a <= -big ? -big : a - restMax
      let q = b >= big ? big : b - restMin
      let (c, s) = t
      let (u, v) = c > 0 ? (p, q) : (-q, -p)
      let k = abs(c)
      let newLo = Swift.max(lo[s]!, u <= -big ? lo[s]! : -floorDivide(-u, k)!)
      let newHi = Swift.min(hi[s]!, v >= big ? hi[s]! : floorDivide(v, k)!)
      if newLo != lo[s]! || newHi != hi[s]! {
        lo[s] = newLo
        hi[s] = newHi
        changed = true
      }
    }
    return changed
  }

  /// Each factor of `k * x * y * ... <= upper` is at most upper / (k * the others' lower bounds).
  static func boundProduct(
    _ k: Int, _ syms: [String], upper: Int, lo: inout [String: Int], hi: inout [String: Int],
    env: [String: Int]
  ) -> Bool {
    guard k > 0, Set(syms).count == syms.count,
      syms.allSatisfy({ lo[$0] != nil && env[$0] == nil && lo[$0]! >= 1 })
    else { return false }
    var changed = false
    for s in syms {
      var others = k
      for t in syms where t != s {
        let (p, o) = others.multipliedReportingOverflow(by: lo[t]!)
        others = o ? Int.max : p
      }
      let limit = floorDivide(upper, others)!
      if limit < hi[s]! {
        hi[s] = limit
        changed = true
      }
    }
    return changed
  }

  /// Divisors of the constant side of an equality `... * name * ... == c`, within `lo...hi`.
  static func divisorHint(_ name: String, _ pending: [Constraint], _ lo: Int, _ hi: Int) -> [Int]? {
    for c in pending {
      guard case .compare(.eq, let l, let r) = c else { continue }
      let (e, target): (Dim, Int)
      if let t = r.constantValue {
        (e, target) = (l, t)
      } else if let t = l.constantValue {
        (e, target) = (r, t)
      } else {
        continue
      }
      guard let (k, syms) = product(e), syms.contains(name), k > 0, target > 0, target % k == 0 else {
        continue
      }
      let n = target / k
      var ds: [Int] = []
      var d = 1
      while d * d <= n {
        if n % d == 0 {
          ds.append(d)
          if d != n / d { ds.append(n / d) }
        }
        d += 1
      }
      return ds.sorted().filter { $0 >= lo && $0 <= hi }
    }
    return nil
  }
}
