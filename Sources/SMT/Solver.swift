import CZ3
import Symbolic

/// Errors from Z3 itself (API misuse, out of memory); never a normal solver outcome.
public struct SMTError: Error, CustomStringConvertible, Sendable {
  public let code: Int
  public let message: String
  public var description: String { "z3 error \(code): \(message)" }
}

/// The result of a satisfiability check. `unknown` (timeout, resource limit) is a normal outcome
/// that callers treat as a rejection.
public enum Outcome: Sendable, Equatable {
  case sat([String: Int])
  case unsat
  case unknown(String)
}

/// An integer unknown with its domain.
public struct Variable: Sendable, Hashable {
  public let name: String
  public let domain: ClosedRange<Int>
  public init(_ name: String, _ domain: ClosedRange<Int>) {
    self.name = name
    self.domain = domain
  }
}

/// One Z3 context and one incremental solver, owned by one generator.
///
/// Not `Sendable`: Z3 contexts are not thread-safe, so Swift 6 keeps each on one task. The context
/// is non-reference-counted; every query runs between `push` and `pop`, which frees the terms it
/// made. Z3's default error handler (which calls `exit`) is disabled: API errors become `SMTError`.
/// Each check has a budget; `unknown` is reported, never waited out.
///
/// Two budgets: `resourceLimit` counts Z3's own deterministic work units ("rlimit"), so whether a
/// check answers does not depend on machine load and the same seed gives the same answer in any
/// process; `timeoutMilliseconds` is wall time, a backstop set well above what the resource limit
/// allows on a loaded machine.
public final class SMTSolver {
  let context: Z3_context
  let solver: Z3_solver
  public private(set) var checks = 0

  /// - Parameters:
  ///   - timeoutMilliseconds: per-check wall-time backstop; past it the outcome is `unknown`.
  ///   - resourceLimit: per-check budget in Z3 resource units (0: none); past it, `unknown`.
  ///   - seed: Z3's random seed, so that solving replays from the generator's seed.
  public init(timeoutMilliseconds: Int = 100, resourceLimit: UInt32 = 0, seed: UInt32 = 0) {
    let config = Z3_mk_config()!  // NULL only when out of memory
    defer { Z3_del_config(config) }
    Z3_set_param_value(config, "model", "true")
    context = Z3_mk_context(config)!
    Z3_set_error_handler(context, nil)
    solver = Z3_mk_simple_solver(context)!
    Z3_solver_inc_ref(context, solver)
    let params = Z3_mk_params(context)!
    Z3_params_inc_ref(context, params)
    Z3_params_set_uint(context, params, Z3_mk_string_symbol(context, "timeout"), UInt32(timeoutMilliseconds))
    if resourceLimit > 0 {
      Z3_params_set_uint(context, params, Z3_mk_string_symbol(context, "rlimit"), resourceLimit)
    }
    Z3_params_set_uint(context, params, Z3_mk_string_symbol(context, "random_seed"), seed)
    Z3_solver_set_params(context, solver, params)
    Z3_params_dec_ref(context, params)
  }

  deinit {
    Z3_solver_dec_ref(context, solver)
    Z3_del_context(context)
  }

  func checkError() throws(SMTError) {
    let code = Z3_get_error_code(context)
    if code != Z3_OK {
      let message = String(cString: Z3_get_error_msg(context, code))
      throw SMTError(code: Int(code.rawValue), message: message)
    }
  }

  /// Finds values for `variables` (each within its domain) satisfying every constraint.
  ///
  /// `preferences` are tried first as assumptions (e.g. "this dim in bin [8, 16]"); if they make the
  /// problem unsat they are dropped and the check repeats without them. Symbols that are not listed
  /// in `variables` get the domain `Int.min...Int.max` (unbounded).
  public func solve(
    _ constraints: [Constraint], variables: [Variable], preferences: [Constraint] = []
  ) throws(SMTError) -> Outcome {
    Z3_solver_push(context, solver)
    defer { Z3_solver_pop(context, solver, 1) }
    var lowering = Lowering(context: context)
    for v in variables {
      let x = lowering.symbol(v.name)
      Z3_solver_assert(context, solver, Z3_mk_ge(context, x, lowering.integer(v.domain.lowerBound)))
      Z3_solver_assert(context, solver, Z3_mk_le(context, x, lowering.integer(v.domain.upperBound)))
    }
    for c in constraints { Z3_solver_assert(context, solver, lowering.lower(c)) }
    for side in lowering.sideConditions { Z3_solver_assert(context, solver, side) }
    try checkError()

    let sideConditionsBefore = lowering.sideConditions.count
    var assumptionTerms: [Z3_ast?] = []
    for (i, p) in preferences.enumerated() {
      let flag = Z3_mk_const(context, Z3_mk_string_symbol(context, "pref!\(i)"), Z3_mk_bool_sort(context))
      Z3_solver_assert(context, solver, Z3_mk_implies(context, flag, lowering.lower(p)))
      assumptionTerms.append(flag)
    }
    for side in lowering.sideConditions[sideConditionsBefore...] { Z3_solver_assert(context, solver, side) }
    try checkError()

    var result = check(assumptionTerms)
    if result == Z3_L_FALSE && !assumptionTerms.isEmpty { result = check([]) }
    try checkError()
    if result == Z3_L_FALSE { return .unsat }
    if result != Z3_L_TRUE {
      return .unknown(String(cString: Z3_solver_get_reason_unknown(context, solver)))
    }
    let model = Z3_solver_get_model(context, solver)!
    Z3_model_inc_ref(context, model)
    defer { Z3_model_dec_ref(context, model) }
    var values: [String: Int] = [:]
    for v in variables {
      var out: Z3_ast? = nil
      var value: Int64 = 0
      guard Z3_model_eval(context, model, lowering.symbol(v.name), true, &out), let out,
        Z3_get_numeral_int64(context, out, &value)
      else {
        try checkError()
        return .unknown("model has no integer value for \(v.name)")
      }
      values[v.name] = Int(value)
    }
    return .sat(values)
  }

  /// Z3's cumulative resource count for this context ("rlimit count"), for calibrating budgets.
  public var resourceUsed: Int {
    let stats = Z3_solver_get_statistics(context, solver)!
    Z3_stats_inc_ref(context, stats)
    defer { Z3_stats_dec_ref(context, stats) }
    for i in 0..<Z3_stats_size(context, stats)
    where String(cString: Z3_stats_get_key(context, stats, i)) == "rlimit count" {
      return Z3_stats_is_uint(context, stats, i)
        ? Int(Z3_stats_get_uint_value(context, stats, i)) : Int(Z3_stats_get_double_value(context, stats, i))
    }
    return 0
  }

  private func check(_ assumptions: [Z3_ast?]) -> Z3_lbool {
    checks += 1
    if assumptions.isEmpty { return Z3_solver_check(context, solver) }
    return assumptions.withUnsafeBufferPointer {
      Z3_solver_check_assumptions(context, solver, UInt32($0.count), $0.baseAddress)
    }
  }

  /// The SMT-LIB text of a constraint as Z3 sees it (golden tests, debugging).
  public func smtlib(_ c: Constraint) -> String {
    Z3_solver_push(context, solver)
    defer { Z3_solver_pop(context, solver, 1) }
    var lowering = Lowering(context: context)
    let ast = lowering.lower(c)
    return String(cString: Z3_ast_to_string(context, ast))
  }

  /// Deliberately misuses the API (adds an Int to a Bool) to prove errors are thrown, not fatal.
  public func misuseForTesting() throws(SMTError) {
    Z3_solver_push(context, solver)
    defer { Z3_solver_pop(context, solver, 1) }
    let i = Z3_mk_int64(context, 1, Z3_mk_int_sort(context))
    let b = Z3_mk_true(context)
    let args: [Z3_ast?] = [i, b]
    _ = Z3_mk_add(context, 2, args)
    try checkError()
  }
}
