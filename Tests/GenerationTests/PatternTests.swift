import Foundation
import Generation
import IR
import Operators
import Tensors
import TestSupport
import Testing

/// Optimizer patterns: the libraries, their errors, and grafting (Docs/Patterns.md).
@Suite struct PatternTests {
  static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Patterns").path

  static func library(_ json: String) throws -> PatternLibrary {
    try PatternLibrary.parse(Data(json.utf8))
  }

  /// conv2d(x, w) + b (b a splat 0.5 of shape [C, 1, 1]), then relu, and clip with pinned bounds.
  static let convAddRelu = """
    {"target": "t", "patterns": [{"name": "t.conv_add_relu", "origin": "test", "dtypes": ["f32"],
     "nodes": [{"op": "conv2d", "inputs": ["x", "const"]},
               {"op": "add", "inputs": ["#0", "const:0.5"], "shapes": {"1": ["#0[1]", "1", "1"]}},
               {"op": "relu", "inputs": ["#1"]},
               {"op": "clip", "inputs": ["#2"], "attributes": {"min": 0, "max": 6}}],
     "rewritten": [0, 1, 2],
     "nearMisses": [{"name": "shared_conv", "tap": ["#0"]}, {"name": "clip_min", "attributes": {"3": {"min": -1}}}]}]}
    """

  @Test func theLibrariesLoadAndHoldTheirPatterns() throws {
    let counts = try ["ort", "openvino", "tvm"].map {
      try PatternLibrary.read("\(Self.directory)/\($0).json").patterns.count
    }
    #expect(counts[0] >= 40 && counts[1] >= 20 && counts[2] >= 20, "\(counts)")
    #expect(PatternLibrary.targets(in: Self.directory) == ["fast", "openvino", "ort", "tvm"])
  }

  @Test func aBadLibraryNamesTheFileThePatternAndTheProblem() throws {
    let dir = temporaryDirectory()
    let cases: [(String, String)] = [
      (##"{"op": "nope", "inputs": ["x"]}"##, "unknown operator 'nope'"),
      (##"{"op": "relu", "inputs": ["#3"]}"##, "'#3' refers to a node that is not before it"),
      (##"{"op": "relu", "inputs": ["y"]}"##, "'y' is not an operand"),
      (##"{"op": "clip", "inputs": ["x"], "attributes": {"lo": 1}}"##, "clip has no attribute 'lo'"),
      (##"{"op": "add", "inputs": ["x"]}"##, "1 inputs, the operator takes 2"),
    ]
    for (node, problem) in cases {
      let path = dir.appendingPathComponent("t.json").path
      try Data(
        #"{"target": "t", "patterns": [{"name": "t.p", "origin": "o", "nodes": [\#(node)], "rewritten": [0]}]}"#
          .utf8
      )
      .write(to: URL(fileURLWithPath: path))
      do {
        _ = try PatternLibrary.read(path)
        Issue.record("\(node) was accepted")
      } catch {
        let message = "\(error)"
        #expect(
          message.hasPrefix(path) && message.contains("pattern 0 ('t.p')") && message.contains(problem),
          "\(message)")
      }
    }
  }

  @Test func aGraftedPatternIsItsNodesInOrderWithPinsAndSplats() throws {
    let p = try Self.library(Self.convAddRelu).patterns[0]
    var generator = Generator(options: GeneratorOptions())
    guard let g = (UInt64(1)...40).lazy.compactMap({ generator.graftOnly(p, seed: $0) }).first else {
      Issue.record("no seed grafts conv2d -> add -> relu -> clip")
      return
    }
    try g.verify()
    let tagged = g.nodes.filter { $0.pattern?.name == "t.conv_add_relu" }
    #expect(tagged.map(\.op) == ["conv2d", "add", "relu", "clip"])
    #expect(tagged.map { $0.pattern!.node } == [0, 1, 2, 3])
    // Each node reads the one before it; the add's bias is a splat constant of shape [C, 1, 1].
    for k in 1..<4 { #expect(tagged[k].inputs[0] == tagged[k - 1].outputs[0]) }
    let bias = try #require(g.constants.first { $0.id == tagged[1].inputs[1] })
    #expect(
      bias.type.shape == [tagged[0].types[0].shape[1], 1, 1] && bias.data?.allSatisfy { $0 == 0.5 } == true)
    #expect(tagged[3].attributes["min"] == .float(0) && tagged[3].attributes["max"] == .float(6))
    // x is computed (a `neg` of the input), and the clip's output has a consumer.
    #expect(g.nodes.first?.op == "neg" && g.nodes.contains { $0.inputs.contains(tagged[3].outputs[0]) })
    // The same seed grafts the same bytes.
    var again = Generator(options: GeneratorOptions())
    let seed = (UInt64(1)...40).first { again.graftOnly(p, seed: $0) != nil }!
    var third = Generator(options: GeneratorOptions())
    #expect(third.graftOnly(p, seed: seed)?.encoded() == g.encoded())
  }

  @Test func nearMissesTapAValueOrChangeAnAttribute() throws {
    let p = try Self.library(Self.convAddRelu).patterns[0]
    var generator = Generator(options: GeneratorOptions())
    let tapped = try #require(
      (UInt64(1)...40).lazy.compactMap { generator.graftOnly(p, nearMiss: p.nearMisses[0], seed: $0) }.first)
    let conv = try #require(tapped.nodes.first { $0.op == "conv2d" })
    #expect(conv.pattern?.variant == "shared_conv")
    #expect(tapped.nodes.filter { $0.inputs.contains(conv.outputs[0]) }.count == 2)
    let lowered = try #require(
      (UInt64(1)...40).lazy.compactMap { generator.graftOnly(p, nearMiss: p.nearMisses[1], seed: $0) }.first)
    #expect(lowered.nodes.first { $0.op == "clip" }?.attributes["min"] == .float(-1))
  }

  @Test func generatedModelsGraftPatternsAtTheRateAsked() throws {
    var options = GeneratorOptions()
    options.patterns = try PatternLibrary.read("\(Self.directory)/ort.json").patterns.filter { p in
      p.nodes.allSatisfy { n in Catalogue.all.contains { $0.id == n.op } }
    }
    var generator = Generator(options: options)
    var withPattern = 0
    for seed in UInt64(1)...100 {
      let g = generator.generate(seed: seed)
      try g.verify()
      if g.nodes.contains(where: { $0.pattern != nil }) { withPattern += 1 }
    }
    // patternRate 0.3 per growth step over 10 nodes: about 60 of these 100 models get one (none without patterns).
    #expect(withPattern >= 50, "\(withPattern) of 100 models have a grafted pattern")
    #expect(generator.stats.grafted >= 50)
    // Without patterns, the generator draws exactly what it drew before patterns existed: seed 7 at 3
    // nodes as the build before them (`d42237c`) printed it (`dlsmith generate --seed 7 --nodes 3 --print`).
    var plain = GeneratorOptions()
    plain.nodes = 3
    var before = Generator(options: plain)
    #expect(
      before.generate(seed: 7).text == """
        %0 = input : [21, 64, 1] f32 in [-1.0, 1.0]
        %1 = erf(%0) : [21, 64, 1] f32
        %2 = reduce_max(%1) {axes: [0], keepdims: 0} : [64, 1] f32
        %3 = round(%1) : [21, 64, 1] f32
        return %2, %3

        """)
  }
}
