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

  func solve(_ constraints: [Constraint], _ variables: [Variable], _ rng: inout SplitMix64) -> [String: Int]? {
    for _ in 0..<tries {
      if let s = attempt(constraints, variables, &rng) { return s }
    }
    return nil
  }

  private func attempt(_ constraints: [Constraint], _ variables: [Variable], _ rng: inout SplitMix64) -> [String: Int]? {
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
        continue
      }
      guard let v = variables.first(where: { env[$0.name] == nil }) else {
        return pending.allSatisfy { $0.evaluated { env[$0] } } ? env : nil
      }
      let (l, h) = (lo[v.name]!, hi[v.name]!)
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
    if rng.chance(0.5) || lo < 1 || hi > 1 << 40 { return rng.int(in: lo...hi) }
    let top = Int.bitWidth - hi.leadingZeroBitCount
    let bottom = Int.bitWidth - lo.leadingZeroBitCount
    let e = rng.int(in: (bottom - 1)...(top - 1))
    let a = Swift.max(lo, 1 << e), b = Swift.min(hi, (1 << (e + 1)) - 1)
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

  /// Narrows unknowns' domains from `product op constant` (and `symbol op constant`).
  static func tighten(_ op: Comparison, _ l: Dim, _ r: Dim, lo: inout [String: Int], hi: inout [String: Int], env: [String: Int]) -> Bool {
    var op = op
    var (lhs, rhs) = (l, r)
    if lhs.constantValue != nil && rhs.constantValue == nil {
      swap(&lhs, &rhs)
      switch op {
      case .lt: op = .gt
      case .le: op = .ge
      case .gt: op = .lt
      case .ge: op = .le
      default: break
      }
    }
    guard let c = rhs.constantValue, let (k, syms) = product(lhs), k > 0, !syms.isEmpty,
      Set(syms).count == syms.count, syms.allSatisfy({ lo[$0] != nil && env[$0] == nil && lo[$0]! >= 1 })
    else { return false }
    var changed = false
    if syms.count == 1 {
      let s = syms[0]
      var (a, b) = (lo[s]!, hi[s]!)
      switch op {
      case .le: b = Swift.min(b, floorDivide(c, k)!)
      case .lt: b = Swift.min(b, floorDivide(c - 1, k)!)
      case .ge: a = Swift.max(a, -floorDivide(-c, k)!)
      case .gt: a = Swift.max(a, -floorDivide(-(c + 1), k)!)
      case .eq, .ne: return false
      }
      changed = a != lo[s]! || b != hi[s]!
      lo[s] = a
      hi[s] = b
      return changed
    }
    // Upper bounds only: each factor is at most c / (k * product of the others' lower bounds).
    guard op == .le || op == .lt else { return false }
    let limit = op == .le ? c : c - 1
    for s in syms {
      var others = k
      for t in syms where t != s { others = others.multipliedReportingOverflow(by: lo[t]!).overflow ? Int.max : others * lo[t]! }
      let bound = floorDivide(limit, others)!
      if bound < hi[s]! {
        hi[s] = bound
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
      if let t = r.constantValue { (e, target) = (l, t) } else if let t = l.constantValue { (e, target) = (r, t) } else { continue }
      guard let (k, syms) = product(e), syms.contains(name), k > 0, target > 0, target % k == 0 else { continue }
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
