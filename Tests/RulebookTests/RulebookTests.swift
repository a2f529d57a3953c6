import Foundation
import Generation
import IR
import Inference
import ONNX
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
    #expect(answers[0] == .valid([[2, 5]], dtypes: [.f32]))
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
    #expect(fast.answer([add.call([4, 3, 3])]) == [.valid([[4, 3]], dtypes: [.f32])])
    #expect(SpecTarget(name: "tvm") == nil)
  }
}

@Suite struct TracerTests {
  @Test func theSameSeedGivesTheSameRecords() {
    let target = SpecTarget(name: "reference")!
    var options = TraceOptions()
    options.randomCalls = 40
    options.augmentLimit = 100
    let a = Tracer(options: options).trace("conv1d", on: target).partials
    let b = Tracer(options: options).trace("conv1d", on: target).partials
    #expect(!a.isEmpty)
    #expect(a.map { $0.records.encoded() } == b.map { $0.records.encoded() })
    #expect(a.map(\.template.key) == b.map(\.template.key))
    options.seed = 2
    let c = Tracer(options: options).trace("conv1d", on: target).partials
    #expect(c.map { $0.records.encoded() } != a.map { $0.records.encoded() })
  }

  @Test func augmentationAddsInvalidCallsNearValidOnes() {
    let target = SpecTarget(name: "reference")!
    var options = TraceOptions()
    options.partialsPerOperator = 1
    let traced = Tracer(options: options).trace("matmul", on: target).partials[0]
    let valid = traced.records.records.filter(\.isValid).count
    let invalid = traced.records.records.count - valid
    #expect(valid >= options.minimumValid)
    #expect(invalid > 0)
    // Every valid record's shapes agree with the hand-written rule.
    for r in traced.records.records where r.isValid {
      guard case .valid(let shapes, _) = target.check(traced.template.call(r.symbols)) else {
        Issue.record("the checker rejects a call the kernel ran")
        continue
      }
      #expect(shapes == r.outputs!)
    }
  }
}

@Suite struct LearnerTests {
  func learn(_ op: String, partials: Int = 3) -> RulesFile {
    let target = SpecTarget(name: "reference")!
    var options = TraceOptions()
    options.partialsPerOperator = partials
    let traced = Tracer(options: options).trace(op, on: target).partials
    let learner = Learner(budgetSeconds: generous)
    return RulesFile(
      op: op, target: "reference", withoutValidCalls: [],
      partials: traced.compactMap { learner.learn($0) }, seconds: 0)
  }

  /// Rules learned from traces agree with the hand-written rules on calls they never saw.
  @Test(arguments: ["add", "matmul", "transpose", "reshape", "concat", "gemm", "relu"])
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

  /// Pooling's spatial rule `(h + pb + pe - d*(k-1) - 1)/s + 1` is found for both spatial dims;
  /// the predicates may still miss a condition the traces rarely witness, within a bound.
  @Test func poolingSpatialRulesAreFound() {
    let file = learn("max_pool2d")
    #expect(!file.partials.isEmpty)
    for p in file.partials {
      #expect(p.support == p.valid, "\(p.key): \(p.outputs)")
      #expect(p.heldOut.falseValid == 0, "\(p.key)")
      #expect(p.heldOut.wrongShape == 0, "\(p.key)")
    }
    let e = Equivalence.check(file, target: SpecTarget(name: "reference")!, instances: 2_000)
    // The synthesizer's budget is wall-clock: a loaded machine may cut a search short, so the
    // bounds leave room (on an idle machine: no shape differences, ~2% disagreements).
    #expect(Double(e.differentShapes) < 0.01 * Double(e.instances), "\(e.examples)")
    #expect(Double(e.disagreements) < 0.06 * Double(e.instances), "\(e.examples)")
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
    let traced = Tracer(options: options).trace("add", on: target).partials
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "records-\(UInt64.random(in: 0...UInt64.max))")
    defer { try? FileManager.default.removeItem(at: dir) }
    try RecordFiles.write(traced, op: "add", directory: dir.path)
    let back = try RecordFiles.read(op: "add", directory: dir.path)
    #expect(back.map(\.template) == traced.map(\.template))
    #expect(back.map(\.records) == traced.map(\.records))
  }
}

/// Rules and records of a few operators, learned once per test process.
private struct Learned: Sendable {
  /// Operators whose learned rules are equivalent to the hand-written ones (see
  /// `learnedRulesAreEquivalentToTheHandWrittenOnes`); pooling's rules may miss a rarely witnessed
  /// condition, which `poolingSpatialRulesAreFound` bounds.
  static let ops = ["add", "matmul", "transpose", "relu", "reshape", "concat"]
  let files: [RulesFile]
  let records: [String: [TracedPartial]]
  static let shared: Learned = {
    let target = SpecTarget(name: "reference")!
    var options = TraceOptions()
    options.partialsPerOperator = 6
    let learner = Learner(budgetSeconds: generous)
    var files: [RulesFile] = []
    var records: [String: [TracedPartial]] = [:]
    for op in ops {
      let traced = Tracer(options: options).trace(op, on: target).partials
      records[op] = traced
      files.append(
        RulesFile(
          op: op, target: "reference", withoutValidCalls: [],
          partials: traced.compactMap { learner.learn($0) },
          seconds: 0))
    }
    return Learned(files: files, records: records)
  }()
}

@Suite struct LearnedGenerationTests {
  /// Models generated with learned rules (and with recorded calls) verify against the hand-written
  /// rules: the learned specs produce only valid instances.
  @Test(arguments: [GenerationMethod.rules, .records, .hybrid])
  func generatedModelsVerify(method: GenerationMethod) {
    let files = Learned.shared.files
    let records = Learned.shared.records
    let base = Learned.ops.map { Catalogue.spec($0)! }
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

@Suite struct LearnedONNXTests {
  /// A rule learned for an ONNX operator the catalogue lacks becomes a spec the generator uses and
  /// the exporter writes as that operator, shape-like inputs as initializers.
  @Test func learnedONNXOperatorsGenerateAndExport() throws {
    let template = CallTemplate(
      op: "CenterCropPad",
      operands: [
        .tensor(name: "input_data", dtype: .f32, rank: 2), .value(name: "shape", dtype: .i64, length: 2),
      ],
      attributes: ["axes": .fixed(.ints([0, 1]))], outputs: 1)
    let names = template.symbols.map(\.name)
    #expect(names == ["input_data.0", "input_data.1", "shape.0", "shape.1"])
    let p = LearnedPartial(
      key: template.key, template: template, symbols: names,
      outputs: [[.symbol("shape.0"), .symbol("shape.1")]],
      requires: [Dim.symbol("shape.0") .> 0, Dim.symbol("shape.1") .> 0], valid: 40, invalid: 30, support: 40,
      rejected: 30, complete: true, heldOut: HeldOut(), seconds: 0, outputDTypes: [.f32],
      validRanges: [[1, 9], [1, 9], [1, 6], [1, 6]])
    let file = RulesFile(op: "CenterCropPad", target: "ort", withoutValidCalls: [], partials: [p], seconds: 0)
    let specs = LearnedSpecs.onnxSpecs(file)
    #expect(specs.map(\.id) == ["onnx.CenterCropPad.0"])
    var o = GeneratorOptions()
    o.nodes = 3
    o.operators = specs
    var generator = Generator(options: o)
    let lookup: OperatorLookup = { id in specs.first { $0.id == id } ?? Catalogue.spec(id) }
    var exported = 0
    for seed in 0..<10 as Range<UInt64> {
      let g = generator.generate(seed: seed)
      #expect(throws: Never.self) { try g.verify(operators: lookup) }
      guard !g.nodes.isEmpty else { continue }
      let model = try ONNXExport.model(g)
      for (n, proto) in zip(g.nodes, model.graph.node) {
        #expect(proto.opType == "CenterCropPad")
        #expect(proto.input.count == 2)
        #expect(proto.attribute.map(\.name) == ["axes"])
        guard case .ints(let shape)? = n.attributes["in_shape"] else {
          Issue.record("in_shape missing")
          continue
        }
        #expect(n.types[0].shape == shape)
        #expect(model.graph.initializer.contains { $0.name == proto.input[1] })
      }
      exported += 1
    }
    #expect(exported > 0)
  }
}
