import Foundation
import Fuzzing
import Generation
import IR
import TestSupport
import Testing

/// Which grafted patterns a target rewrote (`PatternFiring`), and the onnxruntime library checked
/// against the installed onnxruntime (`PatternCheck`).
@Suite(.serialized) struct PatternFiringTests {
  static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Patterns").path
  static let hasORT = pythonCanImport("numpy, onnx, onnxruntime")
  static let hasCompilers = pythonCanImport("numpy, onnx, openvino, tvm")

  /// OpenVINO and TVM patterns that do not fire from a lone graft today. A pattern outside these
  /// lists that stops firing fails the test.
  static let notFiring: [String: Set<String>] = [
    "openvino": [
      // OpenVINO bug: MultiplyConvolutionFusion throws on the broadcasting Multiply the graft makes
      // (Docs/findings/openvino/mul_conv_fusion_broadcast.py).
      "openvino.mul_conv",
      // QDQ and FakeQuantize patterns need zero points and scales the grafter does not give yet.
      "openvino.qdq_to_fake_quantize", "openvino.relu_fake_quantize",
      // Pinned shapes that need the graft point's exact sizes (the format cannot derive them).
      "openvino.nop_reshape", "openvino.reshape_reshape", "openvino.reduce_reshape",
      "openvino.move_eltwise_up_reshape", "openvino.broadcast_elementwise", "openvino.nop_slice",
      "openvino.group_conv_mul", "openvino.normalize_l2",
      // The CPU plugin fuses the sum differently on the shapes drawn.
      "openvino.conv_sum_relu",
    ],
    "tvm": [
      // Explicit Relax passes that no default pipeline runs (tvm-opt runs the default one).
      "tvm.adjust_matmul_order", "tvm.combine_parallel_matmul", "tvm.expand_matmul_of_sum",
      "tvm.fold_batchnorm_to_conv2d", "tvm.fuse_transpose_matmul", "tvm.reorder_take_after_matmul",
      "tvm.remove_redundant_reshape",
      // Not grafted (shapes or dtypes the pattern pins that the lone graft does not meet) or fused
      // otherwise on the shapes drawn.
      "tvm.cast_roundtrip", "tvm.import_reshape_const", "tvm.reshape_add", "tvm.softmax_scale",
      "tvm.reduce_epilogue",
    ],
  ]

  @Test(
    .enabled(if: hasCompilers, "python3 with numpy, onnx, openvino and tvm is not available"),
    arguments: [("openvino", 40), ("tvm", 30)])
  func theCompilerLibrariesFireOnTheirTargets(_ target: String, _ atLeast: Int) throws {
    let library = try PatternLibrary.read("\(Self.directory)/\(target).json")
    let rows = PatternCheck().run(library) { BackendTarget.pythonTarget($0, script: pythonWorkerScriptPath) }
    let fired = Set(rows.filter { $0.outcome == .fired }.map(\.pattern))
    #expect(fired.count >= atLeast, "\(fired.count) \(target) patterns fire")
    for r in rows where !fired.contains(r.pattern) && !(Self.notFiring[target] ?? []).contains(r.pattern) {
      Issue.record("\(r.pattern) on \(r.backend): \(r.outcome)")
    }
  }

  @Test func anInstanceFiresWhenEveryRewrittenNodeWasRewritten() throws {
    let lib = try PatternLibrary.parse(
      Data(
        ##"{"target": "t", "patterns": [{"name": "t.p", "origin": "o", "nodes": [{"op": "relu", "inputs": ["x"]}, {"op": "neg", "inputs": ["#0"]}], "rewritten": [0, 1]}]}"##
          .utf8))
    var generator = Generator(options: GeneratorOptions())
    let g = try #require(
      (UInt64(1)...20).lazy.compactMap { generator.graftOnly(lib.patterns[0], seed: $0) }.first)
    let outs = g.nodes.filter { $0.pattern != nil }.map { "v\($0.outputs[0])" }
    let table = ["t.p": lib.patterns[0]]
    #expect(PatternFiring.outcomes(g, rewritten: outs, patterns: table).map(\.fired) == [true])
    #expect(PatternFiring.outcomes(g, rewritten: [outs[0]], patterns: table).map(\.fired) == [false])
    #expect(PatternFiring.outcomes(g, rewritten: [], patterns: [:]).isEmpty)
  }

  /// Mining: the rewritten group conv2d -> relu of two models becomes one candidate (seen twice), with
  /// x, a const and the edge; a group already in the library, or seen once, is left out.
  @Test func minedGroupsBecomePatternsWhenSeenTwice() throws {
    func model(_ seed: UInt64) -> Graph {
      var b = GraphBuilder()
      let x = b.input([1, 3, 8, 8])
      let w = b.constant([4, 3, 3, 3], seed: seed)
      let c = b(
        "conv2d", x, w,
        attributes: [
          "strides": .ints([1, 1]), "pads": .ints([0, 0, 0, 0]), "dilations": .ints([1, 1]), "group": .int(1),
        ])
      let r = b("relu", c)
      let s = b("sigmoid", r)
      return b.build(outputs: [s])
    }
    var miner = PatternMiner()
    for seed in UInt64(1)...2 {
      let g = model(seed)
      miner.add(g, rewritten: g.nodes.prefix(2).map { "v\($0.outputs[0])" })
    }
    let single = model(3)
    miner.add(single, rewritten: ["v\(single.nodes[2].outputs[0])"])
    let lib = try PatternLibrary.parse(miner.library(target: "t", existing: [], note: "test"))
    #expect(lib.patterns.map { $0.nodes.map(\.op) } == [["conv2d", "relu"]])
    #expect(lib.patterns.first?.nodes.map(\.inputs) == [[.graftPoint, .constant], [.node(0, output: 0)]])
    #expect(lib.patterns.first?.weight == 2 && lib.patterns.first?.rewritten == [0, 1])
    let known = try PatternLibrary.parse(miner.library(target: "t", existing: lib.patterns, note: "test"))
    #expect(known.patterns.isEmpty)
  }

  /// Every pattern of DLSmith's own fast backend fires on it (`dlsmith worker --backend fast`, whose
  /// compile stage reports the nodes its passes rewrote), and most near misses do not.
  @Test func theFastLibraryFiresOnTheFastBackend() throws {
    let library = try PatternLibrary.read("\(Self.directory)/fast.json")
    let rows = PatternCheck().run(library, nearMisses: true) { name in
      BackendTarget(name: name, command: [dlsmithExecutable().path, "worker", "--backend", name])
    }
    let exact = rows.filter { $0.variant == nil }
    #expect(exact.count >= 20)
    for r in exact where r.outcome != .fired { Issue.record("\(r.pattern): \(r.outcome)") }
    let misses = rows.filter { $0.variant != nil }
    #expect(misses.filter { $0.outcome == .fired }.count * 4 < misses.count, "near misses still rewritten")
  }

  /// The onnxruntime patterns that do not fire from a lone graft today, with why. The test fails
  /// when one of them starts firing (move it out) or another stops (a regression of the grafter,
  /// the exporter or the detector, or a changed onnxruntime).
  static let ortNotFiring: Set<String> = [
    // quantize_linear/dequantize_linear patterns: the grafter cannot yet give QDQ pairs the
    // scales and zero points the patterns need.
    "ort.clip_quantize", "ort.double_qdq", "ort.nhwc_qlinear_conv", "ort.qdq_add", "ort.qdq_avg_pool2d",
    "ort.qdq_concat", "ort.qdq_conv", "ort.qdq_gemm", "ort.qdq_global_avg_pool", "ort.qdq_leaky_relu",
    "ort.qdq_matmul", "ort.qdq_max_pool2d_drop", "ort.qdq_mul", "ort.qdq_propagation_transpose",
    "ort.qdq_reshape_drop", "ort.qdq_sigmoid", "ort.qdq_softmax", "ort.qdq_transpose_drop",
    "ort.relu_quantize",
    // 1/x on a value that crosses zero: the generator refuses it (the result is unbounded).
    "ort.div_mul",
    // A fresh operand's dims must match x's, which the pattern does not pin yet.
    "ort.gemm_transpose_b_const", "ort.matmul_transpose_b", "ort.transpose_cast", "ort.matmul_reshape_bn",
    "ort.gather_slice_to_split", "ort.skip_layer_norm", "ort.pad_avgpool",
    // Layout patterns whose shapes the NCHWc transformer wants (channels multiple of 8 or 16).
    "ort.conv_add_relu", "ort.nchwc_conv_sum_relu", "ort.nchwc_global_avgpool",
  ]

  @Test(.enabled(if: hasORT, "python3 with numpy, onnx and onnxruntime is not available"))
  func theOnnxruntimeLibraryFiresOnOnnxruntime() throws {
    let library = try PatternLibrary.read("\(Self.directory)/ort.json")
    let rows = PatternCheck().run(library) { BackendTarget.pythonTarget($0, script: pythonWorkerScriptPath) }
    let fired = Set(rows.filter { $0.outcome == .fired }.map(\.pattern))
    let notFired = Set(rows.map(\.pattern)).subtracting(fired)
    #expect(fired.count >= 40, "\(fired.count) patterns fire")
    #expect(
      notFired.subtracting(Self.ortNotFiring).isEmpty,
      "stopped firing: \(notFired.subtracting(Self.ortNotFiring).sorted())")
    #expect(
      Self.ortNotFiring.subtracting(notFired).isEmpty,
      "now fire: \(Self.ortNotFiring.subtracting(notFired).sorted())")
    for r in rows where !fired.contains(r.pattern) && !Self.ortNotFiring.contains(r.pattern) {
      Issue.record("\(r.pattern) on \(r.backend): \(r.outcome)")
    }
  }
}
