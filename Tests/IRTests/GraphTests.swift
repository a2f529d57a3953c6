import Foundation
import IR
import Operators
import Tensors
import TestSupport
import Testing

@Suite struct GraphTests {
  /// %0 input [1,2,5,5], %1 weights [3,2,3,3], %2 = conv2d stride 2 pad 1 -> [1,3,3,3], %3 = relu.
  static func sample() -> Graph {
    Graph(
      inputs: [GraphInput(id: 0, type: TensorType(.f32, [1, 2, 5, 5]), range: .unit)],
      constants: [
        Constant(id: 1, type: TensorType(.f32, [3, 2, 3, 3]), range: Interval(-0.5, 0.5), seed: 9)
      ],
      nodes: [
        Node(
          op: "conv2d", inputs: [0, 1], outputs: [2],
          attributes: Attributes([
            "strides": .ints([2, 2]), "pads": .ints([1, 1, 1, 1]), "dilations": .ints([1, 1]),
            "group": .int(1),
          ]),
          types: [TensorType(.f32, [1, 3, 3, 3])]),
        Node(op: "relu", inputs: [2], outputs: [3], types: [TensorType(.f32, [1, 3, 3, 3])]),
      ],
      outputs: [3])
  }
}

extension GraphTests {
  @Test func canonicalText() throws {
    let g = Self.sample()
    try g.verify()
    #expect(
      g.text == """
        %0 = input : [1, 2, 5, 5] f32 in [-1.0, 1.0]
        %1 = const seed 9 in [-0.5, 0.5] : [3, 2, 3, 3] f32
        %2 = conv2d(%0, %1) {dilations: [1, 1], group: 1, pads: [1, 1, 1, 1], strides: [2, 2]} : [1, 3, 3, 3] f32
        %3 = relu(%2) : [1, 3, 3, 3] f32
        return %3

        """)
  }

  @Test func fileRoundTripIsByteStable() throws {
    let g = Self.sample()
    let bytes = g.encoded()
    let back = try Graph(decoding: bytes)
    #expect(back == g)
    #expect(back.encoded() == bytes)
    let text = String(decoding: bytes, as: UTF8.self)
    #expect(text.contains("\"format\" : \"dlsmith.graph\""))
    #expect(text.contains("\"version\" : 1"))
  }

  @Test func floatAttributesSurviveTheRoundTrip() throws {
    var g = Graph(inputs: [GraphInput(id: 0, type: TensorType(.f32, [3]), range: .unit)])
    g.nodes = [
      Node(
        op: "leaky_relu", inputs: [0], outputs: [1], attributes: Attributes(["alpha": .float(0.1)]),
        types: [TensorType(.f32, [3])])
    ]
    g.outputs = [1]
    try g.verify()
    let back = try Graph(decoding: g.encoded())
    #expect(back.nodes[0].attributes["alpha"] == .float(0.1))
  }

  @Test func verifyRejectsInconsistentGraphs() {
    func expectError(
      _ kind: IRError.Kind, _ edit: (inout Graph) -> Void, sourceLocation: SourceLocation = #_sourceLocation
    ) {
      var g = Self.sample()
      edit(&g)
      do {
        try g.verify()
        Issue.record("expected \(kind)", sourceLocation: sourceLocation)
      } catch {
        #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
      }
    }
    expectError(.undefinedValue) { $0.nodes[1].inputs = [7] }
    expectError(.undefinedValue) { $0.nodes.swapAt(0, 1) }  // use before definition (a cycle in order)
    expectError(.unknownOperator) { $0.nodes[1].op = "frobnicate" }
    expectError(.arity) { $0.nodes[0].inputs = [0] }
    expectError(.shapeMismatch) { $0.nodes[1].types = [TensorType(.f32, [1, 3, 3, 4])] }
    expectError(.shapeMismatch) { $0.nodes[0].types = [TensorType(.f32, [1, 3, 2, 2])] }
    expectError(.shapeRule) { $0.constants[0].type = TensorType(.f32, [3, 4, 3, 3]) }  // channel mismatch
    expectError(.dtype) { $0.constants[0].type = TensorType(.f64, [3, 2, 3, 3]) }
    expectError(.attribute) { $0.nodes[0].attributes["strides"] = .ints([0, 2]) }
    expectError(.attribute) { $0.nodes[0].attributes["bogus"] = .int(1) }
    expectError(.duplicateValue) { $0.constants[0].id = 0 }
    expectError(.outputs) { $0.outputs = [] }
    expectError(.limits) { $0.inputs[0].type = TensorType(.f32, [1, 2, 5, 0]) }
    expectError(.limits) { $0.inputs[0].type = TensorType(.f32, [1 << 20, 1 << 20, 5, 5]) }
    expectError(.constantData) { $0.constants[0].data = [1, 2] }
  }

  @Test func constantsAndInputsAreDeterministic() {
    let g = Self.sample()
    #expect(g.constants[0].tensor == g.constants[0].tensor)
    #expect(g.sampleInputs(seed: 3) == g.sampleInputs(seed: 3))
    #expect(g.sampleInputs(seed: 3) != g.sampleInputs(seed: 4))
    let c = g.constants[0].tensor
    #expect(c.storage.allSatisfy { $0 >= -0.5 && $0 <= 0.5 && Double(Float($0)) == $0 })
  }
}

@Suite(.serialized) struct MalformedFileTests {
  func write(_ text: String) -> String {
    let url = temporaryDirectory().appendingPathComponent("m.dlsmith.json")
    try? Data(text.utf8).write(to: url)
    return url.path
  }

  func expectFailure(_ text: String, mentions: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let path = write(text)
    do {
      _ = try Graph(contentsOf: path)
      Issue.record("expected an error for \(text.prefix(40))", sourceLocation: sourceLocation)
    } catch {
      #expect(
        error.message.hasPrefix(path), "names the file: \(error.message)", sourceLocation: sourceLocation)
      #expect(error.message.contains(mentions), "\(error.message)", sourceLocation: sourceLocation)
    }
  }

  @Test func malformedTruncatedWrongVersionInconsistent() {
    let good = String(decoding: GraphTests.sample().encoded(), as: UTF8.self)
    expectFailure("", mentions: "not a JSON object")
    expectFailure(String(good.prefix(good.count / 2)), mentions: "not a JSON object")
    expectFailure("[1, 2]", mentions: "not a JSON object")
    expectFailure(
      good.replacingOccurrences(of: "\"version\" : 1", with: "\"version\" : 99"),
      mentions: "version 99 is not supported")
    expectFailure(good.replacingOccurrences(of: "dlsmith.graph", with: "onnx"), mentions: "format is 'onnx'")
    expectFailure(
      good.replacingOccurrences(of: "\"relu\"", with: "\"nonsense_op\""),
      mentions: "unknown operator 'nonsense_op'")
    expectFailure(good.replacingOccurrences(of: "\"f32\"", with: "\"f33\""), mentions: "corrupt data")
    expectFailure(
      good.replacingOccurrences(of: "\"outputs\" : [\n    3\n  ]", with: "\"outputs\" : [\n    42\n  ]"),
      mentions: "output %42 is not defined")
    expectFailure(
      good.replacingOccurrences(of: "\"seed\" : 9", with: "\"seedx\" : 9"), mentions: "missing key 'seed'")
    expectFailure(
      good.replacingOccurrences(of: "5,\n          5\n", with: "5,\n          500000000000\n"),
      mentions: "exceeds")
    // A cycle: relu consumes its own output.
    expectFailure(
      good.replacingOccurrences(
        of: "\"inputs\" : [\n        2\n      ]", with: "\"inputs\" : [\n        3\n      ]"),
      mentions: "not defined before use")
  }

  @Test func missingFile() {
    do {
      _ = try Graph(contentsOf: "/nonexistent/model.dlsmith.json")
      Issue.record("expected an error")
    } catch {
      #expect(error.message.contains("/nonexistent/model.dlsmith.json"))
    }
  }
}
