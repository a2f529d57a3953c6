import Foundation
import Fuzzing
import IR
import ONNX
import Operators
import Tensors
import Testing

/// Crash-state normalization against real messages of onnxruntime, OpenVINO, TVM and
/// onnx.reference (`Fixtures/error-messages.json`, `python/collect_error_messages.py`): the variants
/// of one cause (other numbers, dims, shapes, node and value names, paths) give one signature, and
/// different causes of one backend give different ones.
@Suite struct SignatureGoldenTests {
  struct Message: Decodable {
    var backend: String
    var stage: String
    var cause: String
    var op: String
    var message: String
  }

  static let messages: [Message] = {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .appendingPathComponent("Fixtures/error-messages.json")
    guard let data = try? Data(contentsOf: url), let m = try? JSONDecoder().decode([Message].self, from: data)
    else { return [] }
    return m
  }()

  /// Causes that no text normalization can tell apart: TVM rejects a negative constant cast to uint
  /// with the same words for both (see the fixture's README); OpenVINO's messages for an input of
  /// the wrong dims and of the wrong rank differ only in the shape.
  static let indistinguishable: Set<[String]> = [
    ["convtranspose-output-dim-nonpositive", "uint-from-negative-constant"],
    ["input-dims-mismatch", "input-rank-mismatch"],
  ]

  func state(_ m: Message) -> String {
    Judge.errorSignature(m.message, stage: m.stage, target: m.backend, op: nil).state
  }

  @Test func fixtureIsThere() {
    #expect(Self.messages.count >= 200)
    #expect(Set(Self.messages.map(\.backend)) == ["ort", "ort-noopt", "openvino", "tvm", "onnx-ref"])
  }

  @Test func variantsOfOneCauseShareOneSignature() {
    let groups = Dictionary(grouping: Self.messages) { "\($0.backend)|\($0.cause)" }
    var split: [String] = []
    for (key, ms) in groups.sorted(by: { $0.key < $1.key }) {
      let states = Set(ms.map(state))
      if states.count != 1 { split.append("\(key): \(states.sorted())") }
    }
    #expect(
      split.isEmpty, "\(split.count) causes split into several signatures:\n\(split.joined(separator: "\n"))")
  }

  @Test func differentCausesOfOneBackendDoNotMerge() {
    let byBackend = Dictionary(grouping: Self.messages, by: \.backend)
    var merged: [String] = []
    for (backend, ms) in byBackend.sorted(by: { $0.key < $1.key }) {
      var causesByState: [String: Set<String>] = [:]
      for m in ms { causesByState[state(m), default: []].insert(m.cause) }
      for (s, causes) in causesByState where causes.count > 1 {
        let pair = causes.sorted()
        if Self.indistinguishable.contains(pair) { continue }
        merged.append("\(backend): \(pair) -> \(s)")
      }
    }
    #expect(merged.isEmpty, "causes merged into one signature:\n\(merged.joined(separator: "\n"))")
  }

  @Test func blamedOperatorIsTakenFromTheMessage() {
    // Where the message names the failing ONNX operator, the signature carries it.
    var wrong: [String] = []
    var named = 0
    for m in Self.messages where !m.op.isEmpty {
      guard
        let op = Signature.blamedOperator(m.message)
          ?? Signature.mentionedOperator(m.message, among: ONNXExport.operatorTypes)
      else { continue }
      named += 1
      if op != m.op { wrong.append("\(m.backend) \(m.cause): \(op) (expected \(m.op))") }
    }
    #expect(wrong.isEmpty, "\(wrong.joined(separator: "\n"))")
    #expect(named >= 60, "operators named in \(named) messages")
  }

  @Test func hand() {
    let a = Signature.normalize(
      "InvalidArgument: [ONNXRuntimeError] : 2 : INVALID_ARGUMENT : Non-zero status code returned while running ConvTranspose node. Name:'n3_ConvTranspose' Status Message: Computed output dimension is <= 0. Input shape: {1,1} dim 0"
    )
    let b = Signature.normalize(
      "InvalidArgument: [ONNXRuntimeError] : 2 : INVALID_ARGUMENT : Non-zero status code returned while running ConvTranspose node. Name:'n17_ConvTranspose' Status Message: Computed output dimension is <= 0. Input shape: {2,1,4} dim 1"
    )
    #expect(a == b)
    #expect(
      Signature.blamedOperator("Non-zero status code returned while running ConvTranspose node. Name:'x'")
        == "ConvTranspose")
    let fuseReluClip =
      "Fail: [ONNXRuntimeError] : 1 : FAIL : Exception during initialization: /onnxruntime_src/onnxruntime/core/optimizer/relu_clip_fusion.cc:83 virtual onnxruntime::common::Status onnxruntime::FuseReluClip::Apply(onnxruntime::Graph&, onnxruntime::Node&, onnxruntime::RewriteRule::RewriteRuleEffect&, const onnxruntime::logging::Logger&) const Unexpected data type for Clip 'min' input of 11"
    #expect(
      Judge.errorSignature(fuseReluClip, stage: "compile", target: "ort", op: nil).state.hasPrefix("op=Clip ")
    )
  }

  /// A mismatch culprit is signed as the target knows it: an ONNX target's Conv is one operator
  /// whatever our rank-specific ids, and a kernel's dtype is the one it computes in (OpenVINO's
  /// f64, f16 and bf16 run as f32: one wrong f32 convolution, one bucket). A wrong shape has no
  /// dtype.
  @Test func culpritsAreSignedAsTheTargetComputesThem() {
    let onnx = Triage(
      target: BackendTarget(name: "ov", command: ["/bin/true"], sendsONNX: true), judge: Judge(),
      logPath: "/dev/null")
    let own = Triage(
      target: BackendTarget(name: "fast", command: ["/bin/true"]), judge: Judge(), logPath: "/dev/null")
    #expect(onnx.operatorName("conv1d") == "Conv" && onnx.operatorName("conv2d") == "Conv")
    #expect(own.operatorName("conv1d") == "conv1d")
    let asF32: [DType: DType] = [.f64: .f32, .f16: .f32, .bf16: .f32]
    func state(_ dtype: String, _ kind: Discrepancy.Kind) -> String {
      let d = Discrepancy(
        kind: kind, output: 3, expectedType: "[1, 2] \(dtype)", actualType: "[1, 2] \(dtype)")
      return Judge.culpritSignature(op: "Conv", d, target: "ov", kind: .mismatch, computedAs: asF32).state
    }
    #expect(state("f64", .values) == "op=Conv dtype=f32 class=values")
    #expect(state("bf16", .values) == state("f32", .values))
    #expect(state("i32", .values) == "op=Conv dtype=i32 class=values")
    #expect(state("f16", .shape) == "op=Conv class=shape")
  }

  /// A wrong shape at a node that only reshapes (its elements in row-major order are its input's)
  /// is signed as a Reshape: OpenVINO writes a Transpose that moves unit dims as a Reshape and
  /// deletes it after a reduction (cause A), which a literal Reshape in its place does not show.
  /// A transpose that reorders dims larger than 1 keeps its name, and so do wrong values.
  @Test func aWrongShapeAtANodeThatOnlyReshapesIsTheReshapes() {
    let ov = Triage(
      target: BackendTarget(name: "ov", command: ["/bin/true"], sendsONNX: true), judge: Judge(),
      logPath: "/dev/null")
    func state(_ perm: [Int], _ kind: Discrepancy.Kind = .shape, shape: [Int] = [1, 2, 1, 1]) -> String {
      var b = GraphBuilder()
      let x = b.input(shape, .bf16)
      let r = b("reduce_mean", x, attributes: ["axes": .ints([0]), "keepdims": .int(0)])
      let t = b("transpose", r, attributes: ["perm": .ints(perm)])
      let d = Discrepancy(kind: kind, output: t, expectedType: "", actualType: "")
      return Judge.compositeSignature(
        b.build(outputs: [t]), d, target: "ov", kind: .mismatch, consumer: false, operators: Catalogue.spec,
        name: ov.operatorName
      ).state
    }
    #expect(state([1, 0, 2]) == "op=Reshape after=reduction class=shape")
    #expect(state([1, 0, 2], shape: [1, 2, 3, 1]) == "op=Transpose after=reduction class=shape")
    #expect(state([1, 0, 2], .values) == "op=Transpose after=any class=values")
    #expect(state([0, 2, 1]) == "op=Reshape after=reduction class=shape")
  }

  /// A replayed instance is judged, not triaged: it still fails the way its bucket says when the
  /// class matches and, where the bucket names a dtype, the instance's dtype is it or computes as
  /// it. A composite bucket names no dtype.
  @Test func aReplayedInstanceReproducesItsBucket() {
    func sig(_ state: String) -> Signature {
      Signature(kind: .mismatch, stage: "execute", backend: "ov", state: state)
    }
    let replayed = sig("ops=abs,concat,tanh dtype=bf16 class=values")
    #expect(sig("op=Concat after=unary class=values").isReproduced(by: replayed, computedAs: [:]))
    #expect(!sig("op=Concat after=unary class=shape").isReproduced(by: replayed, computedAs: [:]))
    let culprit = sig("op=Conv dtype=f32 class=values")
    #expect(culprit.isReproduced(by: replayed, computedAs: [.bf16: .f32]))
    #expect(!culprit.isReproduced(by: replayed, computedAs: [:]))
    #expect(sig("op=CumSum dtype=bf16 class=values").isReproduced(by: replayed, computedAs: [.bf16: .f32]))
    // A node that fails behind any computed input: one bucket for a wrong shape and wrong values.
    #expect(sig("op=Conv after=*").isReproduced(by: sig("ops=abs,conv1d class=shape"), computedAs: [:]))
    #expect(sig("op=Conv after=*").isReproduced(by: replayed, computedAs: [:]))
    var other = replayed
    other.backend = "ort"
    #expect(!culprit.isReproduced(by: other, computedAs: [.bf16: .f32]))
  }
}
