import SMT
import Symbolic
import Testing

@Suite struct SMTTests {}

extension SMTTests {
  @Test func solvesAConvolutionShapeBackwards() throws {
    let solver = SMTSolver(seed: 1)
    let (h, p, k, s, d) = (
      Dim.symbol("h"), Dim.symbol("p"), Dim.symbol("k"), Dim.symbol("s"), Dim.symbol("d")
    )
    let eff = d * (k - 1) + 1
    let out = (h + 2 * p - eff) / s + 1
    let outcome = try solver.solve(
      [out .== 14, h + 2 * p .>= eff, s .>= 2, p .< k],
      variables: [
        Variable("h", 1...256), Variable("p", 0...4), Variable("k", 1...7), Variable("s", 1...4),
        Variable("d", 1...3),
      ])
    guard case .sat(let m) = outcome else {
      Issue.record("expected sat, got \(outcome)")
      return
    }
    #expect(out.evaluated(in: m) == 14)
    #expect(m["s"]! >= 2)
  }

  @Test func unsatIsReported() throws {
    let solver = SMTSolver()
    let x = Dim.symbol("x")
    #expect(try solver.solve([x * 2 .== 7], variables: [Variable("x", 0...10)]) == .unsat)
  }

  @Test func floorSemanticsMatchSwiftOnNegativeNumbers() throws {
    let solver = SMTSolver()
    let (a, b) = (Dim.symbol("a"), Dim.symbol("b"))
    for (x, y) in [(-7, 2), (7, -2), (-7, -2), (7, 2), (-6, 3)] {
      let outcome = try solver.solve(
        [a .== .constant(x), b .== .constant(y), Dim.symbol("q") .== a / b, Dim.symbol("r") .== a % b],
        variables: [
          Variable("a", -10...10), Variable("b", -10...10), Variable("q", -10...10), Variable("r", -10...10),
        ])
      guard case .sat(let m) = outcome else {
        Issue.record("expected sat for \(x), \(y)")
        continue
      }
      #expect(m["q"] == floorDivide(x, y))
      #expect(m["r"] == floorModulo(x, y))
    }
  }

  @Test func divisionByZeroMakesNothingTrue() throws {
    let solver = SMTSolver()
    let (a, b) = (Dim.symbol("a"), Dim.symbol("b"))
    #expect(
      try solver.solve([a / b .== 0, b .== 0], variables: [Variable("a", 0...3), Variable("b", -2...2)])
        == .unsat)
  }

  @Test func preferencesAreDroppedWhenUnsat() throws {
    let solver = SMTSolver()
    let x = Dim.symbol("x")
    let outcome = try solver.solve([x .>= 5], variables: [Variable("x", 0...10)], preferences: [x .<= 2])
    guard case .sat(let m) = outcome else {
      Issue.record("expected sat")
      return
    }
    #expect(m["x"]! >= 5)
    let preferred = try solver.solve([x .>= 5], variables: [Variable("x", 0...10)], preferences: [x .== 9])
    #expect(preferred == .sat(["x": 9]))
  }

  @Test func loweringGoldenText() {
    let solver = SMTSolver()
    let (l, p, k, s) = (Dim.symbol("l"), Dim.symbol("p"), Dim.symbol("k"), Dim.symbol("s"))
    let text = solver.smtlib(Dim.symbol("o") .== (l + 2 * p - k) / 2 + 1)
    #expect(text == "(= o (+ (div (- (+ l (* 2 p)) k) 2) 1))")
    let general = solver.smtlib(Dim.symbol("o") .== l / s)
    #expect(general.contains("ite (> s 0) (div l s)"))
  }

  @Test func apiMisuseThrowsInsteadOfExiting() {
    let solver = SMTSolver()
    #expect(throws: SMTError.self) { try solver.misuseForTesting() }
    // The solver remains usable afterwards.
    #expect((try? solver.solve([Dim.symbol("x") .== 1], variables: [Variable("x", 0...1)])) == .sat(["x": 1]))
  }

  @Test func nonlinearTimeoutIsUnknownNotAHang() throws {
    let solver = SMTSolver(timeoutMilliseconds: 50)
    let (x, y, z) = (Dim.symbol("x"), Dim.symbol("y"), Dim.symbol("z"))
    let outcome = try solver.solve(
      [x * x * x + y * y * y .== z * z * z],
      variables: [
        Variable("x", 1...1_000_000_000), Variable("y", 1...1_000_000_000), Variable("z", 1...1_000_000_000),
      ])
    // Fermat: never sat; Z3 either proves it or gives up within the budget.
    #expect(outcome != .sat([:]))
    if case .sat = outcome { Issue.record("x^3 + y^3 = z^3 cannot be sat") }
  }

  /// The resource budget is deterministic: the same hard problem gives up at the same count of
  /// Z3 work units in every run, whatever the machine load (the wall-time backstop is far away).
  @Test func resourceLimitGivesUpDeterministically() throws {
    let (x, y, z) = (Dim.symbol("x"), Dim.symbol("y"), Dim.symbol("z"))
    let hard: [Constraint] = [x * x * x + y * y * y .== z * z * z]
    let domain = [
      Variable("x", 1...1_000_000_000), Variable("y", 1...1_000_000_000), Variable("z", 1...1_000_000_000),
    ]
    var used: [Int] = []
    for _ in 0..<2 {
      let solver = SMTSolver(timeoutMilliseconds: 60_000, resourceLimit: 5_000, seed: 3)
      let outcome = try solver.solve(hard, variables: domain)
      guard case .unknown = outcome else {
        Issue.record("expected the resource limit to stop Z3, got \(outcome)")
        return
      }
      used.append(solver.resourceUsed)
    }
    #expect(used[0] == used[1])
    #expect(used[0] >= 5_000 && used[0] < 50_000)
  }
}
