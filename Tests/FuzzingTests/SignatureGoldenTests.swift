import Foundation
import Fuzzing
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
      guard let op = Signature.blamedOperator(m.message) else { continue }
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
  }
}
