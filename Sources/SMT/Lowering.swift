import CZ3
import Symbolic

/// Lowers `Dim` and `Constraint` to Z3 terms: the only place that maps the symbolic language to
/// the solver.
///
/// `Dim` semantics are floor division and floor modulo with undefined results for a zero divisor.
/// Z3's `div`/`mod` are Euclidean, which equal floor semantics for a positive divisor. A constant
/// positive divisor lowers directly; otherwise the lowering selects on the divisor's sign and
/// records the side condition `divisor != 0` (an undefined expression makes no constraint true).
struct Lowering {
  let context: Z3_context
  let intSort: Z3_sort
  var symbols: [String: Z3_ast] = [:]
  var sideConditions: [Z3_ast] = []

  init(context: Z3_context) {
    self.context = context
    self.intSort = Z3_mk_int_sort(context)
  }

  mutating func symbol(_ name: String) -> Z3_ast {
    if let s = symbols[name] { return s }
    let s = Z3_mk_const(context, Z3_mk_string_symbol(context, name), intSort)!
    symbols[name] = s
    return s
  }

  func integer(_ v: Int) -> Z3_ast { Z3_mk_int64(context, Int64(v), intSort) }

  private func apply(_ f: (Z3_context, UInt32, UnsafePointer<Z3_ast?>) -> Z3_ast?, _ args: [Z3_ast]) -> Z3_ast
  {
    let a: [Z3_ast?] = args
    return a.withUnsafeBufferPointer { f(context, UInt32($0.count), $0.baseAddress!)! }
  }

  private func floorDiv(_ a: Z3_ast, _ b: Z3_ast) -> Z3_ast {
    let zero = integer(0)
    let negA = Z3_mk_unary_minus(context, a)!
    let negB = Z3_mk_unary_minus(context, b)!
    return Z3_mk_ite(
      context, Z3_mk_gt(context, b, zero), Z3_mk_div(context, a, b), Z3_mk_div(context, negA, negB))
  }

  mutating func lower(_ d: Dim) -> Z3_ast {
    switch d {
    case .constant(let v): return integer(v)
    case .symbol(let s): return symbol(s)
    case .add(let a, let b): return apply(Z3_mk_add, [lower(a), lower(b)])
    case .sub(let a, let b): return apply(Z3_mk_sub, [lower(a), lower(b)])
    case .mul(let a, let b): return apply(Z3_mk_mul, [lower(a), lower(b)])
    case .floorDiv(let a, let b):
      let (x, y) = (lower(a), lower(b))
      if let c = b.constantValue, c > 0 { return Z3_mk_div(context, x, y) }
      sideConditions.append(Z3_mk_not(context, Z3_mk_eq(context, y, integer(0))))
      return floorDiv(x, y)
    case .mod(let a, let b):
      let (x, y) = (lower(a), lower(b))
      if let c = b.constantValue, c > 0 { return Z3_mk_mod(context, x, y) }
      sideConditions.append(Z3_mk_not(context, Z3_mk_eq(context, y, integer(0))))
      return apply(Z3_mk_sub, [x, apply(Z3_mk_mul, [y, floorDiv(x, y)])])
    case .min(let a, let b):
      let (x, y) = (lower(a), lower(b))
      return Z3_mk_ite(context, Z3_mk_le(context, x, y), x, y)
    case .max(let a, let b):
      let (x, y) = (lower(a), lower(b))
      return Z3_mk_ite(context, Z3_mk_ge(context, x, y), x, y)
    }
  }

  mutating func lower(_ c: Constraint) -> Z3_ast {
    switch c {
    case .constant(let b): return b ? Z3_mk_true(context) : Z3_mk_false(context)
    case .compare(let op, let l, let r):
      let (x, y) = (lower(l), lower(r))
      switch op {
      case .eq: return Z3_mk_eq(context, x, y)
      case .ne: return Z3_mk_not(context, Z3_mk_eq(context, x, y))
      case .lt: return Z3_mk_lt(context, x, y)
      case .le: return Z3_mk_le(context, x, y)
      case .gt: return Z3_mk_gt(context, x, y)
      case .ge: return Z3_mk_ge(context, x, y)
      }
    case .and(let cs): return apply(Z3_mk_and, cs.map { lower($0) })
    case .or(let cs): return apply(Z3_mk_or, cs.map { lower($0) })
    case .not(let p): return Z3_mk_not(context, lower(p))
    }
  }
}
