import Backends
import Fuzzing
import Generation
import IR
import Operators
import Tensors
import TestSupport
import Testing

/// A backend built only for minimizer tests: evaluates the graph with the reference kernels, fails
/// ("crashes") whenever the graph contains `crashOp`, and adds 1.0 to every result of `shiftedOp`
/// (the error then flows on through the downstream nodes).
struct BuggyBackend: Backend {
  var crashOp: String?
  var shiftedOp: String?
  var name: String { "buggy" }
  func supports(_ op: OperatorSpec.ID, _ dtype: DType) -> Bool { true }

  func run(_ graph: Graph, inputs: [Tensor]) throws(BackendError) -> [Tensor] {
    if let crashOp, graph.nodes.contains(where: { $0.op == crashOp }) {
      throw BackendError(.compile, "\(crashOp) lowering crashed")
    }
    var values: [ValueID: Tensor] = [:]
    for (decl, t) in zip(graph.inputs, inputs) { values[decl.id] = t }
    for c in graph.constants { values[c.id] = c.tensor }
    for node in graph.nodes {
      guard let spec = Catalogue.spec(node.op) else { throw BackendError(.compile, "unknown \(node.op)") }
      var results = spec.evaluate(node.inputs.map { values[$0]! }, attributes: node.attributes)
      if node.op == shiftedOp {
        results = results.map { t in
          Tensor(dtype: t.dtype, shape: t.shape, storage: t.storage.map { t.dtype.rounded($0 + 1) })
        }
      }
      for (v, t) in zip(node.outputs, results) { values[v] = t }
    }
    return graph.outputs.map { values[$0]! }
  }
}

@Suite struct MinimizerTests {
  /// Twelve nodes, two outputs; one `floor` and one `sigmoid` on independent paths joined at the end.
  static func model() -> Graph {
    var b = GraphBuilder()
    let x = b.input([2, 3, 4])
    let c = b.constant([4], seed: 7)
    let a = b("add", x, c)  // 0
    let r = b("relu", a)  // 1
    let m = b("mul", r, x)  // 2
    let t = b("tanh", m)  // 3
    // Shifted by 0.5, floor's input stays away from its integer steps (no discontinuity guard).
    let f = b("floor", b("add", t, b.constant([], data: [0.5])))  // 4, 5
    let s = b("sigmoid", x)  // 6
    let e = b("exp", s)  // 7
    let u = b("sub", e, f)  // 8
    let p = b("transpose", u, attributes: ["perm": .ints([0, 2, 1])])  // 9
    let n = b("neg", p)  // 10
    let q = b("max", t, c)  // 11
    return b.build(outputs: [n, q])
  }

  static func verdict(_ backend: some Backend, _ g: Graph, _ x: [Tensor]) -> Verdict? {
    guard let values = try? ReferenceBackend().run(g, inputs: x, keepAll: true).values else { return nil }
    return Differential().judge(backend, g, inputs: x, reference: values).verdict
  }

  /// The predicate "the same verdict as on the original": for a failure, the same stage and message.
  static func sameFailure(_ backend: some Backend, as original: Verdict) -> (Graph, [Tensor]) -> Bool {
    { g, x in verdict(backend, g, x) == original }
  }

  static func isMismatch(_ backend: some Backend) -> (Graph, [Tensor]) -> Bool {
    { g, x in
      if case .mismatch = verdict(backend, g, x) { return true }
      return false
    }
  }

  static func verifies(_ g: Graph) -> Bool { (try? g.verify()) != nil }

  /// Total elements of inputs, constants and node outputs.
  static func elements(_ g: Graph) -> Int {
    g.inputs.map(\.type.elementCount).reduce(0, +) + g.constants.map(\.type.elementCount).reduce(0, +)
      + g.nodes.flatMap(\.types).map(\.elementCount).reduce(0, +)
  }
}

extension MinimizerTests {
  @Test func crashIsReducedToOneNodeOfTheCrashingOp() {
    let g = Self.model()
    #expect(g.nodes.count == 12)
    #expect(Self.verifies(g))
    let x = g.sampleInputs(seed: 3)
    let backend = BuggyBackend(crashOp: "floor")
    let original = Self.verdict(backend, g, x)!
    #expect(original == .failed(stage: "compile", message: "floor lowering crashed"))
    let keeps = Self.sameFailure(backend, as: original)
    var progressCalls = 0
    var last: (Graph, [Tensor])?
    let result = Minimizer().minimize(g, inputs: x, keeping: keeps) { g, x, steps in
      progressCalls += 1
      last = (g, x)
      #expect(steps >= 1)
    }
    #expect(result.graph.nodes.map(\.op) == ["floor"])
    #expect(Self.verifies(result.graph))
    #expect(keeps(result.graph, result.inputs))
    #expect(result.graph.inputs.count == result.inputs.count)
    #expect(progressCalls == result.accepted)
    #expect(last?.0 == result.graph)
    #expect(last?.1 == result.inputs)
    #expect(result.steps <= 500)
    #expect(Self.elements(result.graph) < Self.elements(g))
  }

  @Test func mismatchKeepsOneSigmoid() {
    let g = Self.model()
    let x = g.sampleInputs(seed: 5)
    let backend = BuggyBackend(shiftedOp: "sigmoid")
    let keeps = Self.isMismatch(backend)
    #expect(keeps(g, x))
    let result = Minimizer().minimize(g, inputs: x, keeping: keeps)
    #expect(result.graph.nodes.map(\.op) == ["sigmoid"])
    #expect(Self.verifies(result.graph))
    #expect(keeps(result.graph, result.inputs))
  }

  /// One model, two bugs: target A crashes on `floor`, target B miscomputes `sigmoid`. A predicate
  /// pinned to one signature keeps that bug's trigger and drops the other's.
  @Test func doesNotSwitchBugs() {
    let g = Self.model()
    let x = g.sampleInputs(seed: 9)
    let crasher = BuggyBackend(crashOp: "floor")
    let shifter = BuggyBackend(shiftedOp: "sigmoid")
    let crash = Self.verdict(crasher, g, x)!
    #expect(crash == .failed(stage: "compile", message: "floor lowering crashed"))
    let mismatch = Self.isMismatch(shifter)
    #expect(mismatch(g, x))

    let crashResult = Minimizer().minimize(g, inputs: x, keeping: Self.sameFailure(crasher, as: crash))
    #expect(crashResult.graph.operators.contains("floor"))
    #expect(!crashResult.graph.operators.contains("sigmoid"))
    #expect(Self.verdict(crasher, crashResult.graph, crashResult.inputs) == crash)

    let mismatchResult = Minimizer().minimize(g, inputs: x, keeping: mismatch)
    #expect(mismatchResult.graph.operators.contains("sigmoid"))
    #expect(!mismatchResult.graph.operators.contains("floor"))
    #expect(mismatch(mismatchResult.graph, mismatchResult.inputs))
  }

  /// A backend with both bugs crashes on the whole model; the crash signature predicate must not
  /// drift to the (also present) mismatch, which a bare `isFinding` predicate would accept.
  @Test func crashSignatureDoesNotDriftToTheMismatch() {
    let g = Self.model()
    let x = g.sampleInputs(seed: 9)
    let both = BuggyBackend(crashOp: "floor", shiftedOp: "sigmoid")
    let crash = Self.verdict(both, g, x)!
    let result = Minimizer().minimize(g, inputs: x, keeping: Self.sameFailure(both, as: crash))
    #expect(result.graph.operators == ["floor"])
    #expect(Self.verdict(both, result.graph, result.inputs) == crash)
  }

  /// A rewrite that needs a second consumer of a value (OpenVINO's AbsSinking rewires a Concat that
  /// an Abs reads, so the Concat's other readers see `|x|`), seen through two chains: the minimizer
  /// retargets each chain's output to the node it depends on, leaving the value and its consumer.
  @Test func retargetsOutputsToTheValueAndItsSecondConsumer() {
    var b = GraphBuilder()
    let x = b.input([2, 3])
    let n = b("neg", x)
    let e = b("exp", b("abs", n))
    let s = b("sigmoid", n)
    let g = b.build(outputs: [s, e])
    // "The bug": a neg read by an abs, whose own value is observed (an output, or read by another
    // node).
    let keeps: (Graph, [Tensor]) -> Bool = { g, _ in
      g.nodes.contains { neg in
        guard neg.op == "neg", let v = neg.outputs.first else { return false }
        let readers = g.nodes.filter { $0.inputs.contains(v) }
        return readers.contains { $0.op == "abs" } && (g.outputs.contains(v) || readers.count > 1)
      }
    }
    let x0 = g.sampleInputs(seed: 1)
    #expect(keeps(g, x0))
    let result = Minimizer().minimize(g, inputs: x0, keeping: keeps)
    #expect(result.graph.operators == ["neg", "abs"])
    #expect(result.graph.outputs == result.graph.nodes.flatMap(\.outputs))
    #expect(keeps(result.graph, result.inputs))
  }

  /// A node between two the bug needs (OpenVINO's per-channel bug after a mean, seen through a
  /// leaky_relu) is bypassed: the two stay connected, the node goes.
  @Test func bypassesANodeBetweenTwoTheBugNeeds() {
    var b = GraphBuilder()
    let x = b.input([2, 3])
    let e = b("exp", b("sigmoid", b("neg", x)))
    let g = b.build(outputs: [e])
    // "The bug": an exp computed from a neg.
    let keeps: (Graph, [Tensor]) -> Bool = { g, _ in
      g.nodes.indices.contains { k in
        g.nodes[k].op == "exp" && g.ancestors(of: g.nodes[k].outputs[0]).contains { g.nodes[$0].op == "neg" }
      }
    }
    let x0 = g.sampleInputs(seed: 2)
    #expect(keeps(g, x0))
    let result = Minimizer().minimize(g, inputs: x0, keeping: keeps)
    #expect(result.graph.operators == ["neg", "exp"])
    #expect(keeps(result.graph, result.inputs))
  }

  @Test func shrinkingReducesElementsAndIsDeterministic() {
    // matmul's contraction dim is shared by the input and the weight: only shrinking both at once
    // keeps it valid.
    var b = GraphBuilder()
    let x = b.input([4, 6])
    let w = b.constant([6, 8], seed: 3)
    let y = b("matmul", x, w)
    let z = b("relu", b("add", y, b.constant([8], seed: 4)))
    let g = b.build(outputs: [z])
    let inputs = g.sampleInputs(seed: 1)
    let backend = BuggyBackend(crashOp: "matmul")
    let keeps = Self.sameFailure(backend, as: Self.verdict(backend, g, inputs)!)
    let first = Minimizer().minimize(g, inputs: inputs, keeping: keeps)
    let second = Minimizer().minimize(g, inputs: inputs, keeping: keeps)
    #expect(first.graph.text == second.graph.text)
    #expect(first.inputs == second.inputs)
    #expect(first.steps == second.steps)
    #expect(Self.verifies(first.graph))
    #expect(first.graph.operators == ["matmul"])
    #expect(Self.elements(first.graph) < Self.elements(g))
    // Every leaf shrinks to a single element.
    #expect(first.graph.nodes[0].types[0].shape == [1, 1])
    #expect(first.inputs.allSatisfy { $0.count == 1 })
  }

  @Test func attributesShrinkAndResetToDefaults() {
    var b = GraphBuilder()
    let x = b.input([1, 2, 9, 9])
    let w = b.constant([4, 2, 3, 3], seed: 2)
    let c = b(
      "conv2d", x, w,
      attributes: [
        "strides": .ints([2, 3]), "pads": .ints([1, 2, 0, 1]), "dilations": .ints([2, 1]), "group": .int(1),
      ])
    let f = b("floor", c)
    let g = b.build(outputs: [f])
    let inputs = g.sampleInputs(seed: 2)
    let backend = BuggyBackend(crashOp: "conv2d")
    let keeps = Self.sameFailure(backend, as: Self.verdict(backend, g, inputs)!)
    let result = Minimizer().minimize(g, inputs: inputs, keeping: keeps)
    #expect(result.graph.operators == ["conv2d"])
    let attrs = result.graph.nodes[0].attributes
    #expect(attrs["strides"] == .ints([1, 1]))
    #expect(attrs["pads"] == .ints([0, 0, 0, 0]))
    #expect(attrs["dilations"] == .ints([1, 1]))
    #expect(Self.verifies(result.graph))
    #expect(Self.elements(result.graph) < Self.elements(g))
  }

  /// Every candidate the predicate sees verifies, matches its inputs, and is new.
  @Test func candidatesVerifyAndAreNeverRepeated() {
    let g = Self.model()
    let x = g.sampleInputs(seed: 3)
    let backend = BuggyBackend(crashOp: "floor")
    let keeps = Self.sameFailure(backend, as: Self.verdict(backend, g, x)!)
    var seen: [String] = []
    var problems: [String] = []
    let result = Minimizer().minimize(g, inputs: x) { c, y in
      if !Self.verifies(c) { problems.append("does not verify:\n\(c.text)") }
      if c.inputs.count != y.count || zip(c.inputs, y).contains(where: { $0.type.shape != $1.shape }) {
        problems.append("inputs do not match:\n\(c.text)")
      }
      let key = c.text + "\(y.map(\.storage))" + "\(c.constants.map(\.data))"
      if seen.contains(key) { problems.append("repeated:\n\(c.text)") }
      seen.append(key)
      return keeps(c, y)
    }
    #expect(problems.isEmpty, "\(problems)")
    #expect(seen.count == result.steps)
  }

  @Test func budgetIsRespected() {
    let g = Self.model()
    let x = g.sampleInputs(seed: 3)
    var calls = 0
    let result = Minimizer(maxSteps: 5).minimize(g, inputs: x) { _, _ in
      calls += 1
      return true
    }
    #expect(calls == 5)
    #expect(result.steps == 5)
  }

  @Test func retypedPropagatesShapesAndRejectsInvalidOnes() {
    var b = GraphBuilder()
    let x = b.input([4, 6])
    let y = b("matmul", x, b.constant([6, 3], seed: 1))
    let z = b("sigmoid", y)
    let g = b.build(outputs: [z])
    var smaller = g
    smaller.inputs[0].type.shape = [2, 6]
    let r = Minimizer().retyped(smaller)
    #expect(r?.nodes.map(\.types[0].shape) == [[2, 3], [2, 3]])
    #expect(r.map(Self.verifies) == true)
    var broken = g
    broken.inputs[0].type.shape = [4, 5]
    #expect(Minimizer().retyped(broken) == nil)
  }

  /// A generated model: crashing on the op of its middle node reduces to that one node.
  @Test func generatedModelReducesToTheCrashingOp() throws {
    var options = GeneratorOptions()
    options.nodes = 12
    var generator = Generator(options: options)
    let g = generator.generate(seed: 4)
    try g.verify()
    let op = g.nodes[g.nodes.count / 2].op
    let x = g.sampleInputs(seed: 0)
    let backend = BuggyBackend(crashOp: op)
    let crash = try #require(Self.verdict(backend, g, x))
    let result = Minimizer().minimize(g, inputs: x, keeping: Self.sameFailure(backend, as: crash))
    #expect(result.graph.operators == [op], "\(result.graph.text)")
    #expect(Self.verifies(result.graph))
    #expect(Self.elements(result.graph) < Self.elements(g))
  }
}
