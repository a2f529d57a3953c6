import Testing

@testable import Symbolic

@Suite struct SymbolicTests {}

extension SymbolicTests {
  @Test func floorDivisionAndModulo() {
    #expect(floorDivide(7, 2) == 3)
    #expect(floorDivide(-7, 2) == -4)
    #expect(floorDivide(7, -2) == -4)
    #expect(floorDivide(-7, -2) == 3)
    #expect(floorDivide(1, 0) == nil)
    #expect(floorModulo(-7, 2) == 1)
    #expect(floorModulo(7, -2) == -1)
    #expect(floorModulo(-6, 3) == 0)
    for a in -20...20 {
      for b in [-5, -3, -1, 1, 2, 7] {
        #expect(floorDivide(a, b)! * b + floorModulo(a, b)! == a)
      }
    }
  }

  @Test func constantFoldingAndIdentities() {
    let x = Dim.symbol("x")
    #expect(Dim(3) + 4 == 7)
    #expect(x + 0 == x)
    #expect(x * 1 == x)
    #expect(x * 0 == 0)
    #expect(x - x == 0)
    #expect(x / 1 == x)
    #expect((Dim(7) / 0).constantValue == nil)
    #expect(Dim.constant(Int.max) + 1 != .constant(Int.min))
  }

  @Test func evaluationAndSubstitution() {
    let (h, p, k, s) = (Dim.symbol("h"), Dim.symbol("p"), Dim.symbol("k"), Dim.symbol("s"))
    let out = (h + 2 * p - k) / s + 1
    #expect(out.evaluated(in: ["h": 15, "p": 1, "k": 3, "s": 2]) == 8)
    #expect(out.evaluated(in: ["h": 15]) == nil)
    #expect(out.substituting(["h": 15, "p": 1]) == (Dim(17) - k) / s + 1)
    #expect(out.symbols == ["h", "p", "k", "s"])
    #expect((h / s).evaluated(in: ["h": 3, "s": 0]) == nil)
    #expect(Dim.constant(Int.max).evaluated(in: [:]) == Int.max)
    #expect((Dim.symbol("a") * 2).evaluated(in: ["a": Int.max]) == nil)
  }

  @Test func constraintsFoldAndEvaluate() {
    let x = Dim.symbol("x")
    #expect((Dim(2) .< 3) == .constant(true))
    #expect(Constraint.all([.constant(true), x .== 2]) == (x .== 2))
    #expect(Constraint.any([.constant(false), .constant(false)]) == .constant(false))
    let c = (x .>= 1) && ((x % 2 .== 0) || (x .== 7))
    #expect(c.evaluated(in: ["x": 4]))
    #expect(c.evaluated(in: ["x": 7]))
    #expect(!c.evaluated(in: ["x": 5]))
    #expect(((x / 0) .== 1).substituting(["x": 3]) == .constant(false))
    #expect(((x / Dim.symbol("y")) .== 1).evaluated(in: ["x": 3, "y": 0]) == false)
  }

  @Test(arguments: [
    "(h + 2 * p - d * (k - 1) - 1) / s + 1", "min(a, b) * max(c, 2) % 7", "a - (b - c)", "a / (b * c)",
    "x + -3", "-x * 4", "n.d0 * n.d1",
  ])
  func textRoundTrip(_ text: String) throws {
    let d = try Dim(parsing: text)
    #expect(try Dim(parsing: d.description) == d)
  }

  @Test func printingUsesMinimalParentheses() throws {
    let (a, b, c) = (Dim.symbol("a"), Dim.symbol("b"), Dim.symbol("c"))
    #expect((a - (b - c)).description == "a - (b - c)")
    #expect(((a - b) - c).description == "a - b - c")
    #expect((a / (b * c)).description == "a / (b * c)")
    #expect((a * b / c).description == "a * b / c")
    let p = try Constraint(parsing: "a == 1 || b >= 2 && !(c < 3)")
    #expect(try Constraint(parsing: p.description) == p)
    #expect(p.evaluated(in: ["a": 0, "b": 2, "c": 5]))
  }

  @Test func parseErrorsNameThePosition() {
    #expect(throws: SymbolicParseError.self) { try Dim(parsing: "a + ") }
    #expect(throws: SymbolicParseError.self) { try Dim(parsing: "a $ b") }
    #expect(throws: SymbolicParseError.self) { try Constraint(parsing: "a <") }
    do {
      _ = try Dim(parsing: "(a + b")
      Issue.record("expected an error")
    } catch {
      #expect(error.offset == 6)
    }
  }
}
