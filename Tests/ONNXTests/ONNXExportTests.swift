import Backends
import Foundation
import Generation
import IR
import ONNX
import Operators
import Tensors
import TestSupport
import Testing

/// The models exported by these tests: 300 f32 models (seeds 0..<300, 10 nodes) plus f16, f64,
/// bf16 and mixed-dtype samples.
private let corpus: [(name: String, graph: Graph)] = {
  var out: [(String, Graph)] = []
  var gen = Generator(options: GeneratorOptions())
  for seed in 0..<300 { out.append(("f32_\(seed)", gen.generate(seed: UInt64(seed)))) }
  for (dtype, label, count) in [
    (DType?.some(.f16), "f16", 20), (.f64, "f64", 20), (.bf16, "bf16", 10), (nil, "mixed", 30),
  ] {
    var options = GeneratorOptions()
    options.dtype = dtype
    var g = Generator(options: options)
    for seed in 0..<count { out.append(("\(label)_\(seed)", g.generate(seed: UInt64(1000 + seed)))) }
  }
  return out + handBuilt()
}()

/// Graphs exercising the export paths that generated models rarely hit.
private func handBuilt() -> [(name: String, graph: Graph)] {
  var out: [(String, Graph)] = []
  do {  // resize: 14 -> 2 needs the Gather expansion, 4 -> 8 is a plain Resize
    var b = GraphBuilder()
    let x = b.input([1, 2, 14, 4])
    let y = b("resize", x, attributes: ["sizes": .ints([2, 8])])
    let z = b("resize", x, attributes: ["sizes": .ints([28, 8])])
    out.append(("hand_resize", b.build(outputs: [y, z])))
  }
  do {  // layer_norm whose scale/bias carry a leading 1
    var b = GraphBuilder()
    let x = b.input([3, 4])
    let s = b.constant([1, 4], seed: 2)
    let c = b.constant([1, 4], seed: 3)
    let y = b("layer_norm", x, s, c, attributes: ["axis": .int(-1), "epsilon": .float(1e-5)])
    out.append(("hand_layer_norm", b.build(outputs: [y])))
  }
  do {  // ordered comparisons of bools, where, logical ops
    var b = GraphBuilder()
    let p = b.input([3, 4], .bool, range: .boolean)
    let q = b.input([4], .bool, range: .boolean)
    let lt = b("less", p, q)
    let ge = b("greater_equal", p, q)
    let x = b("logical_xor", lt, ge)
    let i = b.input([3, 4], .i32, range: Interval(-5, 5))
    let k = b.constant([1], .i32, data: [7])
    let w = b("where", x, i, k)
    let n = b("logical_not", lt)
    out.append(("hand_bool", b.build(outputs: [w, n])))
  }
  do {  // bf16 through ops without an ONNX bf16 kernel
    var b = GraphBuilder()
    let x = b.input([1, 2, 6, 6], .bf16)
    let w = b.constant([4, 2, 3, 3], .bf16)
    let c = b(
      "conv2d", x, w,
      attributes: [
        "strides": .ints([1, 1]), "pads": .ints([1, 1, 1, 1]), "dilations": .ints([1, 1]), "group": .int(1),
      ])
    let p = b(
      "max_pool2d", c,
      attributes: [
        "kernel_shape": .ints([2, 2]), "strides": .ints([2, 2]), "pads": .ints([0, 0, 0, 0]),
        "dilations": .ints([1, 1]),
      ])
    let e = b("elu", p, attributes: ["alpha": .float(1)])
    let r = b("round", e)
    let sx = b("sin", x)
    let s = b("softplus", sx)
    out.append(("hand_bf16", b.build(outputs: [r, s])))
  }
  do {  // integer pad with a fractional value (truncated), casts, clip in f16
    var b = GraphBuilder()
    let x = b.input([2, 3], .i32, range: Interval(-9, 9))
    let p = b(
      "pad", x,
      attributes: [
        "pads_begin": .ints([1, 0]), "pads_end": .ints([0, 2]), "mode": .string("constant"),
        "value": .float(-0.7),
      ])
    let f = b.input([5], .f16)
    let c = b("clip", f, attributes: ["min": .float(-0.3), "max": .float(0.31)])
    let g = b.input([5], .f32, range: Interval(-3, 3))
    let i = b("cast", g, attributes: ["to": .string("i64")])
    out.append(("hand_misc", b.build(outputs: [p, c, i])))
  }
  return out
}

/// Relative tolerance per output dtype (ONNX's reference evaluator computes in the dtype, ours in
/// float64 rounded once per op).
private func tolerance(_ d: DType) -> Double {
  switch d {
  case .f16: return 1e-2
  case .bf16: return 5e-2
  default: return 1e-3
  }
}

/// Whether `actual` agrees with `expected` (same count; floats within tolerance, NaN == NaN,
/// infinities equal; integers and bools exactly).
private func agrees(_ actual: [Double], _ expected: Tensor) -> Bool {
  guard actual.count == expected.count else { return false }
  let scale = expected.storage.filter(\.isFinite).map(abs).max() ?? 1
  let rtol = tolerance(expected.dtype)
  for (a, e) in zip(actual, expected.storage) {
    if a.isNaN || e.isNaN {
      if a.isNaN != e.isNaN { return false }
      continue
    }
    if a.isInfinite || e.isInfinite {
      if a != e { return false }
      continue
    }
    if !expected.dtype.isFloat {
      if a != e { return false }
      continue
    }
    if abs(a - e) > rtol * Swift.max(1, scale) + rtol * abs(e) { return false }
  }
  return true
}

/// A little-endian float64 .npy file.
private func npy(_ t: Tensor) -> Data {
  let shape = t.shape.isEmpty ? "()" : "(" + t.shape.map(String.init).joined(separator: ", ") + ",)"
  var header = "{'descr': '<f8', 'fortran_order': False, 'shape': \(shape), }"
  let unpadded = 10 + header.utf8.count + 1
  header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
  var d = Data([0x93]) + Data("NUMPY".utf8) + Data([1, 0])
  let len = UInt16(header.utf8.count)
  d.append(contentsOf: [UInt8(len & 0xFF), UInt8(len >> 8)])
  d.append(Data(header.utf8))
  for x in t.storage { withUnsafeBytes(of: x.bitPattern.littleEndian) { d.append(contentsOf: $0) } }
  return d
}

/// The values of a little-endian float64 .npy file (v1/v2 header).
private func readNPY(_ url: URL) -> [Double]? {
  guard let d = try? Data(contentsOf: url), d.count >= 12 else { return nil }
  let b = [UInt8](d)
  let major = b[6]
  let headerLength = major == 1 ? Int(b[8]) | Int(b[9]) << 8 : Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16
  let start = (major == 1 ? 10 : 12) + headerLength
  let header = String(decoding: b[(major == 1 ? 10 : 12)..<start], as: UTF8.self)
  guard header.contains("'<f8'"), header.contains("'fortran_order': False"), (b.count - start) % 8 == 0 else {
    return nil
  }
  return stride(from: start, to: b.count, by: 8).map { o in
    var u: UInt64 = 0
    for k in 0..<8 { u |= UInt64(b[o + k]) << (8 * UInt64(k)) }
    return Double(bitPattern: u)
  }
}

private func pythonHasONNX() -> Bool { pythonCanImport("onnx, onnx.reference, numpy") }

/// Checks every model with the ONNX checker (full_check) and runs it with onnx.reference on the
/// given inputs, writing each output as float64 .npy. Prints CHECK_FAIL / EVAL_FAIL lines.
private let pythonScript = """
  import json, sys, traceback
  import numpy as np
  import onnx, onnx.helper
  from onnx.reference import ReferenceEvaluator
  manifest = json.load(open(sys.argv[1]))
  checked = 0
  evaluated = 0
  for entry in manifest:
      try:
          model = onnx.load(entry["model"])
          onnx.checker.check_model(model, full_check=True)
          checked += 1
      except Exception as e:
          print("CHECK_FAIL", entry["name"], str(e).replace("\\n", " ")[:400], flush=True)
          continue
      try:
          feeds = {}
          for info, path in zip(model.graph.input, entry["inputs"]):
              dt = onnx.helper.tensor_dtype_to_np_dtype(info.type.tensor_type.elem_type)
              feeds[info.name] = np.load(path).astype(dt)
          try:
              outs = ReferenceEvaluator(model).run(None, feeds)
          except Exception as e:
              # A limitation of onnx.reference (e.g. rank-0 Softsign, 1-D pooling with asymmetric
              # pads, grouped ConvTranspose): run the model with ONNX Runtime instead.
              print("REF_FALLBACK", entry["name"], type(e).__name__, str(e).replace("\\n", " ")[:300], flush=True)
              import onnxruntime
              session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
              outs = session.run(None, feeds)
          for o, path in zip(outs, entry["outputs"]):
              np.save(path, np.ascontiguousarray(np.asarray(o).astype(np.float64)))
          evaluated += 1
      except Exception as e:
          print("EVAL_FAIL", entry["name"], type(e).__name__, str(e).replace("\\n", " ")[:400], flush=True)
  print("CHECKED", checked, "EVALUATED", evaluated, flush=True)
  """

@Suite struct ONNXExportTests {
  /// (a) checker + (b) onnx.reference agreement, in one python3 process.
  @Test func checkerAndReferenceEvaluator() throws {
    guard pythonHasONNX() else {
      print("SKIPPED ONNX checker/reference tests: python3 with onnx and numpy is not available")
      return
    }
    let dir = temporaryDirectory()
    let keep = ProcessInfo.processInfo.environment["DLSMITH_KEEP_ONNX"] != nil
    defer { if !keep { try? FileManager.default.removeItem(at: dir) } }
    if keep { print("keeping exported models in \(dir.path)") }
    var manifest: [[String: Any]] = []
    var expected: [String: (Graph, [Tensor], [URL])] = [:]
    let backend = ReferenceBackend()
    for (name, g) in corpus {
      let model = dir.appendingPathComponent("\(name).onnx")
      try ONNXExport.bytes(g).write(to: model)
      let inputs = g.sampleInputs(seed: 7)
      var inputPaths: [String] = []
      for (k, t) in inputs.enumerated() {
        let url = dir.appendingPathComponent("\(name)_in\(k).npy")
        try npy(t).write(to: url)
        inputPaths.append(url.path)
      }
      let outputs = try backend.run(g, inputs: inputs)
      let outURLs = outputs.indices.map { dir.appendingPathComponent("\(name)_out\($0).npy") }
      expected[name] = (g, outputs, outURLs)
      manifest.append([
        "name": name, "model": model.path, "inputs": inputPaths, "outputs": outURLs.map(\.path),
      ])
    }
    let manifestURL = dir.appendingPathComponent("manifest.json")
    try JSONSerialization.data(withJSONObject: manifest).write(to: manifestURL)
    let scriptURL = dir.appendingPathComponent("check.py")
    try pythonScript.write(to: scriptURL, atomically: true, encoding: .utf8)

    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", scriptURL.path, manifestURL.path]
    let out = Pipe()
    p.standardOutput = out
    p.standardError = out
    try p.run()
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    #expect(p.terminationStatus == 0, "python3 failed: \(text)")

    let lines = text.split(separator: "\n")
    let checkFailures = lines.filter { $0.hasPrefix("CHECK_FAIL") }
    // Models neither onnx.reference nor ONNX Runtime can run (ORT lacks some f64/bf16 kernels).
    let unrunnable = lines.filter { $0.hasPrefix("EVAL_FAIL") && $0.contains("NOT_IMPLEMENTED") }
    let evalFailures = lines.filter { $0.hasPrefix("EVAL_FAIL") && !$0.contains("NOT_IMPLEMENTED") }
    print("onnx.checker: \(corpus.count - checkFailures.count)/\(corpus.count) models pass")
    let fallbacks = lines.filter { $0.hasPrefix("REF_FALLBACK") }
    print("onnx.reference failed on \(fallbacks.count) models (run with onnxruntime instead):")
    print("\(unrunnable.count) models could not be run by either evaluator (missing kernels):")
    for l in checkFailures + evalFailures + fallbacks + unrunnable { print(l) }
    #expect(checkFailures.isEmpty, "checker failures:\n\(checkFailures.joined(separator: "\n"))")
    #expect(evalFailures.isEmpty, "reference evaluator failures:\n\(evalFailures.joined(separator: "\n"))")

    // Agreement of onnx.reference with our ReferenceBackend.
    var agreed = 0
    var compared = 0
    for (name, _) in corpus {
      guard let (g, outputs, urls) = expected[name],
        !(evalFailures + unrunnable + checkFailures).contains(where: { $0.contains(" \(name) ") })
      else { continue }
      compared += 1
      var ok = true
      var detail: [String] = []
      for (k, (t, url)) in zip(outputs, urls).enumerated() {
        guard let actual = readNPY(url) else {
          ok = false
          detail.append("output \(k): unreadable")
          continue
        }
        if !agrees(actual, t) {
          ok = false
          let producer = g.nodes.first { $0.outputs.contains(g.outputs[k]) }?.op ?? "?"
          let bad = zip(actual, t.storage).enumerated().filter { _, p in
            !agrees([p.0], Tensor(dtype: t.dtype, shape: [1], storage: [p.1]))
          }
          let sample = bad.prefix(3).map { i, p in "[\(i)] onnx \(p.0) ours \(p.1)" }.joined(separator: ", ")
          detail.append(
            "output \(k) (\(t.dtype.rawValue) from \(producer)): \(bad.count)/\(t.count) differ: \(sample)")
        }
      }
      if ok {
        agreed += 1
      } else {
        print("DISAGREE \(name) ops=\(g.operators.joined(separator: ",")): \(detail.joined(separator: "; "))")
      }
    }
    let rate = compared == 0 ? 0 : Double(agreed) / Double(compared)
    print("onnx.reference agreement: \(agreed)/\(compared) models (\(rate * 100)%)")
    #expect(compared + unrunnable.count == corpus.count)
    #expect(unrunnable.count <= corpus.count / 50)
    #expect(rate >= 0.99)
  }

  /// (c) import(export(g)) verifies and computes the same outputs.
  @Test func importInvertsExport() throws {
    let backend = ReferenceBackend()
    var exact = 0
    for (name, g) in corpus {
      let model = try ONNXExport.model(g)
      let back = try ONNXImport.graph(Onnx_ModelProto(serializedBytes: model.serializedData()))
      try back.verify()
      #expect(back.inputs.map(\.type) == g.inputs.map(\.type), "\(name)")
      let inputs = g.sampleInputs(seed: 3)
      let want = try backend.run(g, inputs: inputs)
      let got = try backend.run(back, inputs: inputs)
      #expect(got.map(\.shape) == want.map(\.shape) && got.map(\.dtype) == want.map(\.dtype), "\(name)")
      if got == want {
        exact += 1
      } else {
        let same = zip(got, want).allSatisfy { agrees($0.storage, $1) }
        #expect(same, "\(name): re-imported graph computes different outputs")
      }
    }
    print("import(export(g)): \(exact)/\(corpus.count) models give bit-identical outputs")
  }

  /// Hand-built graphs covering every operator's export path at least once with non-default choices.
  @Test func exportCoversEveryCatalogueOperator() throws {
    let used = Set(corpus.flatMap { $0.graph.operators })
    let missing = Catalogue.all.map(\.id).filter { !used.contains($0) }
    print("catalogue operators absent from the exported corpus: \(missing)")
    #expect(Set(Catalogue.all.map(\.id)).subtracting(ONNXExport.mapping.keys).isEmpty)
    #expect(ONNXExport.mapping.count == Catalogue.all.count)
  }

  @Test func resizeExactnessCheck() {
    // n = 14 -> m = 2: o = 1 gives 6.9999995 in float32.
    #expect(!ONNXExport.resizeIsExact(from: 14, to: 2))
    #expect(ONNXExport.resizeIsExact(from: 4, to: 8))
    #expect(ONNXExport.resizeIsExact(from: 5, to: 5))
  }

  /// (d) unsupported operators are all listed.
  @Test func unsupportedModelListsEveryProblem() throws {
    func valueInfo(_ name: String, _ dims: [Int64?]) -> Onnx_ValueInfoProto {
      var shape = Onnx_TensorShapeProto()
      shape.dim = dims.map { d in
        var dim = Onnx_TensorShapeProto.Dimension()
        if let d { dim.dimValue = d } else { dim.dimParam = "N" }
        return dim
      }
      var tensor = Onnx_TypeProto.Tensor()
      tensor.elemType = 1
      tensor.shape = shape
      var type = Onnx_TypeProto()
      type.tensorType = tensor
      var info = Onnx_ValueInfoProto()
      info.name = name
      info.type = type
      return info
    }
    func node(_ op: String, _ ins: [String], _ outs: [String]) -> Onnx_NodeProto {
      var n = Onnx_NodeProto()
      n.opType = op
      n.input = ins
      n.output = outs
      return n
    }
    var model = Onnx_ModelProto()
    model.irVersion = 9
    var opset = Onnx_OperatorSetIdProto()
    opset.version = 20
    model.opsetImport = [opset]
    model.graph.input = [
      valueInfo("boxes", [1, 4, 4]), valueInfo("scores", [1, 1, 4]), valueInfo("d", [nil, 3]),
    ]
    model.graph.node = [
      node("NonMaxSuppression", ["boxes", "scores"], ["sel"]),
      node("Relu", ["sel"], ["r"]),
      node("TopK", ["scores", "k"], ["vals", "idx"]),
      node("Relu", ["d"], ["dr"]),
    ]
    model.graph.output = [valueInfo("r", [1, 3]), valueInfo("vals", [1]), valueInfo("dr", [nil, 3])]
    do {
      _ = try ONNXImport.graph(model)
      Issue.record("an unsupported model was imported")
    } catch let e as ONNXError {
      #expect(e.unsupportedOperators == ["NonMaxSuppression", "TopK"])
      #expect(e.description.contains("NonMaxSuppression"))
      #expect(e.description.contains("TopK"))
      #expect(e.problems.contains { $0.contains("'d'") && $0.contains("dynamic") })
    }

    // Export: a backend-internal fused op is named.
    var b = GraphBuilder()
    let x = b.input([2, 3])
    let y = b("relu", x)
    var g = b.build(outputs: [y])
    g.nodes[0].op = "fused_conv_relu"
    do {
      _ = try ONNXExport.model(g)
      Issue.record("a graph with an unknown operator was exported")
    } catch let e as ONNXError {
      #expect(e.unsupportedOperators == ["fused_conv_relu"])
      #expect(e.description.contains("fused_conv_relu"))
    }
  }
}
