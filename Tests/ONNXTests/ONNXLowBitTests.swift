import Backends
import Foundation
import Generation
import IR
import ONNX
import Operators
import Tensors
import TestSupport
import Testing

/// Low-bit models through ONNX: export and import are inverses, and onnx.reference (an independent
/// implementation of QuantizeLinear, QLinearConv, QLinearMatMul, DequantizeLinear, Clip, MaxPool)
/// computes exactly what our reference computes for models using only standard ONNX operators.
@Suite struct ONNXLowBitTests {
  static func models(_ kind: ModelKind, count: Int, operators: [String]? = nil) -> [Graph] {
    var o = GeneratorOptions()
    o.kind = kind
    o.nodes = 8
    o.operators = operators.map { ids in kind.operators.filter { ids.contains($0.id) } } ?? kind.operators
    o.requantVariants = [.onnx]
    if kind == .spiking || kind == .mixed { o.maxRank = 5 }
    o.solverTimeoutMilliseconds = 5000  // the same models on a loaded machine
    var g = Generator(options: o)
    return (1...count).map { g.generate(seed: UInt64($0)) }
  }

  @Test(arguments: [ModelKind.int8, .binary, .spiking, .mixed])
  func importInvertsExport(_ kind: ModelKind) throws {
    for (i, g) in Self.models(kind, count: 25).enumerated() {
      let model = try ONNXExport.model(g)
      let back = try ONNXImport.graph(Onnx_ModelProto(serializedBytes: model.serializedData()))
      try back.verify()
      let inputs = g.sampleInputs(seed: 5)
      let want = try ReferenceBackend().run(g, inputs: inputs)
      let got = try ReferenceBackend().run(back, inputs: inputs)
      #expect(got == want, "\(kind) model \(i + 1): the re-imported graph computes different outputs")
    }
  }

  @Test func exportRefusesVariantsONNXCannotExpress() throws {
    var o = GeneratorOptions()
    o.kind = .int8
    o.operators = ModelKind.int8.operators.filter { $0.id == "conv2d" }
    o.requantVariants = [.gemmlowp]
    var gen = Generator(options: o)
    let g = gen.generate(seed: 1)
    #expect(throws: ONNXError.self) { try ONNXExport.model(g) }
  }

  @Test func onnxReferenceAgreesExactlyOnStandardQuantizedModels() throws {
    guard pythonCanImport("onnx, onnx.reference, numpy") else {
      print("SKIPPED: python3 with onnx and numpy is not available")
      return
    }
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    // max_pool2d is left out: onnx.reference 1.23.2 pads int8 MaxPool windows with NaN and fails
    // ("cannot convert float NaN to integer"); ONNX Runtime runs it.
    let standard = ["conv2d", "matmul", "relu", "clip", "reshape", "transpose", "flatten", "concat"]
    // Fully quantized models only: a float op between dequantize and quantize is computed in float32
    // by onnx.reference, and its rounding can move a quantize_linear across a tie (the oracle's
    // `unstable`, not a disagreement of the quantized kernels).
    let graphs = Self.models(.int8, count: 80, operators: standard).filter { m in
      let inputs = Set(m.inputs.map(\.id))
      return m.nodes.allSatisfy { $0.op != "quantize_linear" || inputs.contains($0.inputs[0]) }
    }
    print("onnx.reference comparison over \(graphs.count) fully quantized models")
    #expect(graphs.count >= 20)
    var expected: [[Tensor]] = []
    for (i, g) in graphs.enumerated() {
      try ONNXExport.bytes(g).write(to: dir.appendingPathComponent("m\(i).onnx"))
      let inputs = g.sampleInputs(seed: 9)
      try NPZ.encode(inputs.enumerated().map { ("v\(g.inputs[$0].id)", $1) })
        .write(to: dir.appendingPathComponent("m\(i)_in.npz"))
      expected.append(try ReferenceBackend().run(g, inputs: inputs))
    }
    let script = """
      import sys, os, numpy as np, onnx
      from onnx.reference import ReferenceEvaluator
      d, n = sys.argv[1], int(sys.argv[2])
      for i in range(n):
          m = onnx.load(os.path.join(d, f"m{i}.onnx"))
          onnx.checker.check_model(m, full_check=True)
          feeds = dict(np.load(os.path.join(d, f"m{i}_in.npz")))
          outs = ReferenceEvaluator(m).run(None, feeds)
          np.savez(os.path.join(d, f"m{i}_out.npz"), **{f"o{k}": o for k, o in enumerate(outs)})
      print("DONE", n)
      """
    let scriptURL = dir.appendingPathComponent("run.py")
    try script.write(to: scriptURL, atomically: true, encoding: .utf8)
    let run = try #require(Python.run([scriptURL.path, dir.path, "\(graphs.count)"]), "python3 cannot start")
    try #require(run.status == 0, "python3 failed: \(run.stdout)\(run.stderr)")
    var quantizedOutputs = 0
    for (i, want) in expected.enumerated() {
      let got = try NPZ.decode(Data(contentsOf: dir.appendingPathComponent("m\(i)_out.npz")))
      #expect(got.count == want.count)
      for (k, (name, t)) in got.enumerated() where k < want.count {
        let w = want[k]
        if w.dtype.isQuantized { quantizedOutputs += 1 }
        // Integer outputs exactly; float outputs (dequantized or float glue computed by onnx.reference
        // in float32) within the f32 tolerance.
        let same =
          w.dtype.isQuantized
          ? t.storage == w.storage
          : zip(t.storage, w.storage).allSatisfy { isClose($0, $1, rtol: 1e-5, atol: 1e-6) }
        #expect(same && t.shape == w.shape, "model \(i) output \(name): onnx.reference disagrees")
      }
    }
    #expect(quantizedOutputs >= 20)
  }
}
