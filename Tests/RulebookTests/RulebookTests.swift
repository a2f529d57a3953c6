import Foundation
import Generation
import IR
import Inference
import Operators
import Symbolic
import Tensors
import Testing

@testable import Rulebook

/// Budgets here are generous (the work takes well under a second on an idle machine): tests must
/// not depend on how loaded the CI machine is.
private let generous = 60.0

@Suite struct CallTemplateTests {
  let conv = CallTemplate(
    op: "conv2d",
    operands: [.tensor(name: "x", dtype: .f32, rank: 4), .tensor(name: "w", dtype: .f32, rank: 4)],
    attributes: [
      "strides": .ints(length: 2), "group": .int, "mode": .fixed(.string("a")), "alpha": .float(0.5),
    ], outputs: 1)

  @Test func keyIsCanonicalAndLeavesFloatsOut() {
    #expect(conv.key == #"x:f32[4] w:f32[4] | group=int mode="a" strides=ints[2] -> 1"#)
    var other = conv
    other.attributes["alpha"] = .float(0.25)
    #expect(other.key == conv.key)
  }

  @Test func symbolsFollowOperandsThenAttributesByName() {
    #expect(
      conv.symbols.map(\.name) == [
        "x.0", "x.1", "x.2", "x.3", "w.0", "w.1", "w.2", "w.3", "group", "strides.0", "strides.1",
      ])
  }

  @Test func callFillsTheHolesInSymbolOrder() {
    let call = conv.call([1, 3, 8, 8, 4, 3, 3, 3, 1, 2, 1])
    #expect(call.operands == [.tensor(.f32, [1, 3, 8, 8]), .tensor(.f32, [4, 3, 3, 3])])
    #expect(call.attributes["strides"] == .ints([2, 1]))
    #expect(call.attributes["group"] == .int(1))
    #expect(call.attributes["mode"] == .string("a"))
    #expect(call.attributes["alpha"] == .float(0.5))
  }

  @Test func bindingsMirrorTheSymbolOrder() {
    let attrs = SymbolicAttributes([
      "strides": .ints([.symbol("@s.0"), .constant(1)]), "group": .int(.constant(1)), "mode": .string("a"),
      "alpha": .float(0.5),
    ])
    let dims: [[Dim]] = [[1, 3, .symbol("h"), 8], [4, 3, 3, 3]]
    let b = conv.bindings(operands: dims, attributes: attrs)
    #expect(b == [1, 3, .symbol("h"), 8, 4, 3, 3, 3, 1, .symbol("@s.0"), 1])
    #expect(conv.bindings(operands: [[1, 3, 8], [4, 3, 3, 3]], attributes: attrs) == nil)
  }

  @Test func unusableNamesAreMadeUsableAndUnique() {
    let t = CallTemplate(
      op: "f",
      operands: [.tensor(name: "min", dtype: .f32, rank: 1), .tensor(name: "1x", dtype: .f32, rank: 1)],
      attributes: ["min.0": .int], outputs: 1)
    let names = t.symbols.map(\.name)
    #expect(Set(names).count == names.count)
    for n in names { #expect((try? Dim(parsing: n)) == .symbol(n), "\(n)") }
  }
}

@Suite struct SpecTargetTests {
  let target = SpecTarget(name: "reference")!

  @Test func validCallsRunTheKernelAndInvalidOnesGiveTheCheckersMessage() {
    let matmul = CallTemplate(
      op: "matmul",
      operands: [.tensor(name: "a", dtype: .f32, rank: 2), .tensor(name: "b", dtype: .f32, rank: 2)],
      attributes: [:], outputs: 1)
    let answers = target.answer([
      matmul.call([2, 3, 3, 5]), matmul.call([2, 3, 4, 5]), matmul.call([2, 0, 0, 5]),
    ])
    #expect(answers[0] == .valid([[2, 5]]))
    guard case .invalid(let message) = answers[1] else {
      Issue.record("a 2x3 by 4x5 matmul must be invalid")
      return
    }
    #expect(!message.isEmpty)
    guard case .invalid(let zero) = answers[2] else {
      Issue.record("zero dims are invalid")
      return
    }
    #expect(zero.contains("non-positive"))
  }

  @Test func templatesOnlyUseTheSignature() {
    var rng = SplitMix64(seed: 3)
    for op in target.operators {
      for _ in 0..<5 {
        guard let t = target.template(op, &rng) else { continue }
        #expect(t.op == op)
        #expect(t.operands.count == Catalogue.spec(op)!.inputs.count)
      }
    }
  }

  @Test func theFastBackendIsATargetToo() {
    let fast = SpecTarget(name: "fast")!
    let add = CallTemplate(
      op: "add",
      operands: [.tensor(name: "a", dtype: .f32, rank: 2), .tensor(name: "b", dtype: .f32, rank: 1)],
      attributes: [:], outputs: 1)
    #expect(fast.answer([add.call([4, 3, 3])]) == [.valid([[4, 3]])])
    #expect(SpecTarget(name: "tvm") == nil)
  }
}

@Suite struct TracerTests {
  @Test func theSameSeedGivesTheSameRecords() {
    let target = SpecTarget(name: "reference")!
    var options = TraceOptions()
    options.randomCalls = 40
    options.augmentLimit = 100
    let a = Tracer(options: options).trace("conv1d", on: target)
    let b = Tracer(options: options).trace("conv1d", on: target)
    #expect(!a.isEmpty)
    #expect(a.map { $0.records.encoded() } == b.map { $0.records.encoded() })
    #expect(a.map(\.template.key) == b.map(\.template.key))
    options.seed = 2
    let c = Tracer(options: options).trace("conv1d", on: target)
    #expect(c.map { $0.records.encoded() } != a.map { $0.records.encoded() })
  }

  @Test func augmentationAddsInvalidCallsNearValidOnes() {
    let target = SpecTarget(name: "reference")!
    var options = TraceOptions()
    options.partialsPerOperator = 1
    let traced = Tracer(options: options).trace("matmul", on: target)[0]
    let valid = traced.records.records.filter(\.isValid).count
    let invalid = traced.records.records.count - valid
    #expect(valid >= options.minimumValid)
    #expect(invalid > 0)
    // Every valid record's shapes agree with the hand-written rule.
    for r in traced.records.records where r.isValid {
      #expect(target.check(traced.template.call(r.symbols)) == .valid(r.outputs!))
    }
  }
}

@Suite struct LearnerTests {
  func learn(_ op: String, partials: Int = 3) -> RulesFile {
    let target = SpecTarget(name: "reference")!
    var options = TraceOptions()
    options.partialsPerOperator = partials
    let traced = Tracer(options: options).trace(op, on: target)
    let learner = Learner(budgetSeconds: generous)
    return RulesFile(
      op: op, target: "reference", withoutValidCalls: [],
      partials: traced.compactMap { learner.learn($0) }, seconds: 0)
  }

  /// Rules learned from traces agree with the hand-written rules on calls they never saw.
  @Test(arguments: ["add", "matmul", "transpose", "max_pool2d", "reshape", "concat", "gemm"])
  func learnedRulesAreEquivalentToTheHandWrittenOnes(op: String) {
    let file = learn(op)
    #expect(!file.partials.isEmpty)
    for p in file.partials {
      #expect(p.complete, "\(op) \(p.key): \(p.outputs) \(p.requires)")
      #expect(p.heldOut.falseValid == 0, "\(op) \(p.key)")
    }
    let e = Equivalence.check(file, target: SpecTarget(name: "reference")!, instances: 2_000)
    #expect(e.instances > 0)
    #expect(e.disagreements == 0, "\(e.examples)")
  }

  @Test func rulesFilesRoundTripAndBadFilesNameThemselves() throws {
    let file = learn("matmul", partials: 1)
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "rulebook-\(UInt64.random(in: 0...UInt64.max))")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    try file.encoded().write(to: dir.appendingPathComponent("matmul.json"))
    let back = try RulesFile.readAll(dir.path)
    #expect(back == [file])
    try Data("{\"op\": 3}".utf8).write(to: dir.appendingPathComponent("bad.json"))
    #expect {
      _ = try RulesFile.readAll(dir.path)
    } throws: { error in
      "\(error)".contains("bad.json")
    }
  }

  @Test func recordFilesRoundTrip() throws {
    let target = SpecTarget(name: "reference")!
    var options = TraceOptions()
    options.partialsPerOperator = 2
    options.randomCalls = 30
    options.augmentLimit = 50
    let traced = Tracer(options: options).trace("add", on: target)
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "records-\(UInt64.random(in: 0...UInt64.max))")
    defer { try? FileManager.default.removeItem(at: dir) }
    try RecordFiles.write(traced, op: "add", directory: dir.path)
    let back = try RecordFiles.read(op: "add", directory: dir.path)
    #expect(back.map(\.template) == traced.map(\.template))
    #expect(back.map(\.records) == traced.map(\.records))
  }
}

@Suite struct LearnedGenerationTests {
  /// Models generated with learned rules (and with recorded calls) verify against the hand-written
  /// rules: the learned specs produce only valid instances.
  @Test(arguments: [GenerationMethod.rules, .records, .hybrid])
  func generatedModelsVerify(method: GenerationMethod) {
    let ops = ["add", "matmul", "transpose", "relu", "reshape", "max_pool2d"]
    let target = SpecTarget(name: "reference")!
    var options = TraceOptions()
    options.partialsPerOperator = 6
    let learner = Learner(budgetSeconds: generous)
    var files: [RulesFile] = []
    var records: [String: [TracedPartial]] = [:]
    for op in ops {
      let traced = Tracer(options: options).trace(op, on: target)
      records[op] = traced
      files.append(
        RulesFile(
          op: op, target: "reference", withoutValidCalls: [],
          partials: traced.compactMap { learner.learn($0) },
          seconds: 0))
    }
    let base = ops.map { Catalogue.spec($0)! }
    var o = GeneratorOptions()
    o.nodes = 6
    o.operators = LearnedSpecs.specs(method, base: base, rules: files, records: records)
    #expect(!o.operators.isEmpty)
    var generator = Generator(options: o)
    var nodes = 0
    for seed in 0..<40 as Range<UInt64> {
      let g = generator.generate(seed: seed)
      #expect(throws: Never.self) { try g.verify() }
      nodes += g.nodes.count
    }
    #expect(nodes > 40)
  }
}
