import Foundation
import Tensors
import TestSupport
import Testing

@testable import ONNX

/// Element bit patterns per dtype (as stored in the file), covering signed zeros, NaN payloads
/// (quiet and signalling), infinities, subnormals and extreme values.
let npyPatterns: [(DType, [UInt64])] = [
  (.f16, [0x3C00, 0x8000, 0x0000, 0x7E01, 0x7C01, 0xFE3F, 0x0001, 0x03FF, 0x7BFF, 0xFC00, 0x7C00, 0xC500]),
  (.bf16, [0x3F80, 0x8000, 0x7FC1, 0x7F81, 0x0001, 0x7F7F, 0xFF80, 0xC0A0]),
  (
    .f32,
    [
      0x3FC0_0000, 0x8000_0000, 0x7FC1_2345, 0x7F80_0001, 0xFFFF_FFFF, 0x0000_0001, 0x7F7F_FFFF, 0xFF80_0000,
      0x3DCC_CCCD,
    ]
  ),
  (
    .f64,
    [
      0x3FF8_0000_0000_0000, 0x8000_0000_0000_0000, 0x7FF0_0000_0000_0001, 0xFFF8_DEAD_BEEF_0001,
      0x0000_0000_0000_0001, 0x7FEF_FFFF_FFFF_FFFF, 0xFFF0_0000_0000_0000, 0x3FB9_9999_9999_999A,
    ]
  ),
  (.i32, [0x8000_0000, 0x7FFF_FFFF, 0, 0xFFFF_FFFF, 42]),
  (.i64, [0x8000_0000_0000_0000, 0x0020_0000_0000_0000, 0xFFFF_FFFF_FFFF_FFFF, 0, 7]),
  (.bool, [1, 0, 1, 1]),
  (.i8, [0x80, 0x7F, 0xFF, 0]),
  (.u8, [0, 0xFF, 0x80, 1]),
]

/// A tensor of `dtype` whose stored bits are `patterns`.
func npyTensor(_ dtype: DType, _ patterns: [UInt64], shape: [Int]? = nil) -> Tensor {
  Tensor(dtype: dtype, shape: shape ?? [patterns.count], storage: patterns.map { NPY.value($0, dtype) })
}

/// The value of a bit pattern computed with Swift's own conversions (independent of `NPY`), for
/// non-NaN elements.
func nativeValue(_ p: UInt64, _ d: DType) -> Double {
  switch d {
  case .f16: return Double(Float16(bitPattern: UInt16(p)))
  case .bf16: return Double(Float(bitPattern: UInt32(p) << 16))
  case .f32: return Double(Float(bitPattern: UInt32(p)))
  case .f64: return Double(bitPattern: p)
  case .i32: return Double(Int32(truncatingIfNeeded: p))
  case .i64: return Double(Int64(bitPattern: p))
  case .i8: return Double(Int8(truncatingIfNeeded: p))
  case .u8: return Double(UInt8(truncatingIfNeeded: p))
  case .bool: return p != 0 ? 1 : 0
  }
}

/// An NPY file with a hand-written header (padded to 64 bytes unless `pad` is false).
func handMadeNPY(_ header: String, version: UInt8 = 1, body: [UInt8], pad: Bool = true) -> Data {
  var h = header
  let prefix = version == 1 ? 10 : 12
  if pad {
    while (prefix + h.utf8.count + 1) % 64 != 0 { h += " " }
  }
  h += "\n"
  var d = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, version, 0])
  let n = h.utf8.count
  d.append(
    contentsOf: version == 1
      ? [UInt8(n & 0xFF), UInt8(n >> 8)] : [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), 0, 0])
  d.append(contentsOf: Array(h.utf8))
  d.append(contentsOf: body)
  return d
}

func le64(_ xs: [Double]) -> [UInt8] {
  xs.flatMap { x in withUnsafeBytes(of: x.bitPattern.littleEndian, Array.init) }
}

func expectNPYError(_ d: Data, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
  do {
    _ = try NPY.decode(d)
    Issue.record(
      "decoded a malformed file (expected an error containing '\(fragment)')", sourceLocation: sourceLocation)
  } catch let e as NPYError {
    #expect(e.message.contains(fragment), "\(e.message)", sourceLocation: sourceLocation)
  } catch {
    Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
  }
}

@Suite struct NPYTests {
  @Test func roundTripIsBitExactForEveryDType() throws {
    for (dtype, patterns) in npyPatterns {
      let t = npyTensor(dtype, patterns)
      let back = try NPY.decode(NPY.encode(t))
      #expect(back.dtype == dtype && back.shape == t.shape)
      #expect(back.storage.map(\.bitPattern) == t.storage.map(\.bitPattern), "\(dtype)")
      #expect(back.storage.map { NPY.bits($0, dtype) } == patterns, "\(dtype)")
      for (p, v) in zip(patterns, back.storage) where !v.isNaN {
        #expect(v.bitPattern == nativeValue(p, dtype).bitPattern, "\(dtype) \(String(p, radix: 16))")
      }
    }
  }

  @Test func roundTripShapes() throws {
    for shape in [[], [0], [3, 0, 2], [1], [2, 3], [2, 1, 3, 2]] {
      let n = shape.reduce(1, *)
      let t = Tensor(rounding: (0..<n).map { Double($0) - 2.5 }, dtype: .f32, shape: shape)
      let back = try NPY.decode(NPY.encode(t))
      #expect(back == t, "\(shape)")
    }
  }

  @Test func headerIsNumpyStyle() throws {
    let d = NPY.encode(Tensor(filled: 1, dtype: .f32, shape: [2, 3]))
    #expect(Array(d.prefix(8)) == [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0])
    let n = Int(d[8]) | Int(d[9]) << 8
    #expect((10 + n) % 64 == 0)
    let header = String(decoding: d[10..<10 + n], as: UTF8.self)
    #expect(header.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"))
    #expect(header.hasSuffix(" \n"))
    #expect(d.count == 10 + n + 24)
    let scalar = NPY.encode(Tensor(filled: 1, dtype: .bool, shape: []))
    #expect(
      String(decoding: scalar, as: UTF8.self).contains(
        "'descr': '|b1', 'fortran_order': False, 'shape': (), }"))
    let vector = NPY.encode(Tensor(filled: 1, dtype: .bf16, shape: [5]))
    #expect(
      String(decoding: vector, as: UTF8.self).contains(
        "'descr': '<u2', 'fortran_order': False, 'shape': (5,), }"))
  }

  @Test func handMadeHeaders() throws {
    let values = [1.5, -0.0, 3, 4, 5, 6]
    // Version 2.0 and 3.0 headers, double quotes, reordered keys, unpadded.
    for version: UInt8 in [2, 3] {
      let t = try NPY.decode(
        handMadeNPY(
          "{\"shape\": (2,3), \"fortran_order\": False, \"descr\": \"<f8\"}", version: version,
          body: le64(values), pad: false))
      #expect(t.shape == [2, 3] && t.dtype == .f64)
      #expect(t.storage.map(\.bitPattern) == values.map(\.bitPattern))
    }
    // Fortran order is reordered to C order.
    let f = try NPY.decode(
      handMadeNPY("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }", body: le64(values)))
    #expect(f.storage == [1.5, 3, 5, -0.0, 4, 6])
    // Big-endian data.
    let big = values.flatMap { x in withUnsafeBytes(of: x.bitPattern.bigEndian, Array.init) }
    let b = try NPY.decode(
      handMadeNPY("{'descr': '>f8', 'fortran_order': False, 'shape': (6,), }", body: big))
    #expect(b.storage.map(\.bitPattern) == values.map(\.bitPattern))
    // '?' is bool; a zero-sized array has no data.
    let q = try NPY.decode(
      handMadeNPY("{'descr': '?', 'fortran_order': False, 'shape': (3,), }", body: [0, 2, 1]))
    #expect(q.dtype == .bool && q.storage == [0, 1, 1])
    let empty = try NPY.decode(
      handMadeNPY("{'descr': '<i8', 'fortran_order': False, 'shape': (0, 4), }", body: []))
    #expect(empty.shape == [0, 4] && empty.storage.isEmpty)
    let scalar = try NPY.decode(
      handMadeNPY("{'descr': '<i4', 'fortran_order': False, 'shape': (), }", body: [0xFF, 0xFF, 0xFF, 0xFF]))
    #expect(scalar.shape == [] && scalar.storage == [-1])
  }

  @Test func malformedFiles() {
    let good = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }"
    expectNPYError(Data("not numpy".utf8), "bad magic")
    expectNPYError(Data([0x93, 0x4E, 0x55]), "bad magic")
    var badVersion = handMadeNPY(good, body: le64([1, 2]))
    badVersion[6] = 9
    expectNPYError(badVersion, "unsupported format version 9.0")
    expectNPYError(handMadeNPY(good, body: le64([1, 2])).prefix(30), "truncated header")
    expectNPYError(handMadeNPY(good, body: le64([1])), "truncated data")
    expectNPYError(handMadeNPY(good, body: le64([1, 2, 3])), "trailing bytes")
    expectNPYError(
      handMadeNPY("{'descr': '<c16', 'fortran_order': False, 'shape': (2,), }", body: []),
      "unsupported dtype '<c16'")
    expectNPYError(
      handMadeNPY("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", body: []),
      "malformed header")
    expectNPYError(handMadeNPY("{'descr': '<f8', 'fortran_order': False, }", body: []), "no tuple 'shape'")
    expectNPYError(handMadeNPY("{'descr': '<f8', 'shape': (1,), }", body: []), "no boolean 'fortran_order'")
    expectNPYError(
      handMadeNPY("{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }", body: []),
      "negative dimension")
    expectNPYError(
      handMadeNPY("{'descr': '<f8', 'fortran_order': False, 'shape': (2,x), }", body: []), "malformed header")
    expectNPYError(
      handMadeNPY("{'descr': '<f8', 'fortran_order': False, 'shape': (2,)", body: []), "malformed header")
    expectNPYError(
      handMadeNPY("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", body: []),
      "too large")
  }

  @Test func npzRoundTripAndCRC() throws {
    let named = npyPatterns.map { ("x_\($0.0.rawValue)", npyTensor($0.0, $0.1)) }
    let data = NPZ.encode(named)
    let back = try NPZ.decode(data)
    #expect(back.map(\.0) == named.map(\.0))
    for ((_, a), (_, b)) in zip(named, back) {
      #expect(a.dtype == b.dtype && a.shape == b.shape)
      #expect(a.storage.map(\.bitPattern) == b.storage.map(\.bitPattern))
    }
    #expect(try NPZ.decode(NPZ.encode([])).isEmpty)
    #expect(CRC32.checksum(Data("123456789".utf8)) == 0xCBF4_3926)

    // A flipped data byte fails the CRC.
    var corrupt = data
    corrupt[30 + "x_f16.npy".utf8.count + 100] ^= 0x01  // inside the first entry's data
    do {
      _ = try NPZ.decode(corrupt)
      Issue.record("decoded a corrupt archive")
    } catch let e as NPYError {
      #expect(e.message.contains("CRC-32 mismatch in 'x_f16.npy'"), "\(e)")
    }

    // Method 8 (deflate) in the central directory: a clear error.
    var deflated = NPZ.encode([("a", Tensor(filled: 1, dtype: .f32, shape: [2]))])
    let central = try #require(deflated.range(of: Data([0x50, 0x4B, 0x01, 0x02])))
    deflated[central.lowerBound + 10] = 8
    do {
      _ = try NPZ.decode(deflated)
      Issue.record("decoded a deflated entry")
    } catch let e as NPYError {
      #expect(e.message.contains("'a.npy' is deflated (numpy.savez_compressed)"), "\(e)")
    }
    for junk in [Data(), Data("PK".utf8), Data(repeating: 0, count: 100)] {
      #expect(throws: NPYError.self) { try NPZ.decode(junk) }
    }
    // A truncated archive.
    #expect(throws: NPYError.self) { try NPZ.decode(data.prefix(data.count / 2) + data.suffix(22)) }
  }

  // MARK: - Interop with numpy

  static let numpyAvailable = Python.run(["-c", "import numpy"])?.status == 0

  @Test(.enabled(if: numpyAvailable, "python3 with numpy is not available: numpy interop not tested"))
  func numpyLoadsOurFiles() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    var expected: [String: [String: Any]] = [:]
    var named: [(String, Tensor)] = []
    for (dtype, patterns) in npyPatterns {
      let t = npyTensor(dtype, patterns)
      try NPY.encode(t).write(to: dir.appendingPathComponent("\(dtype.rawValue).npy"))
      named.append((dtype.rawValue, t))
      expected[dtype.rawValue] = [
        "descr": NPY.descr(dtype), "bits": patterns.map { String($0, radix: 16) },
        "values": zip(patterns, t.storage).map { $0.1.isNaN ? "nan" : "\($0.1)" },
      ]
    }
    let matrix = Tensor(rounding: (0..<24).map { Double($0) * 0.25 - 1 }, dtype: .f32, shape: [2, 3, 4])
    try NPY.encode(matrix).write(to: dir.appendingPathComponent("matrix.npy"))
    try NPZ.encode(named).write(to: dir.appendingPathComponent("all.npz"))
    try JSONSerialization.data(withJSONObject: expected).write(
      to: dir.appendingPathComponent("expected.json"))
    let script = """
      import json, sys, numpy as np
      d = sys.argv[1]
      expected = json.load(open(d + "/expected.json"))
      archive = np.load(d + "/all.npz")
      assert sorted(archive.files) == sorted(expected), archive.files
      for name, e in expected.items():
          for a in (np.load(d + "/" + name + ".npy"), archive[name]):
              assert a.dtype.str == e["descr"], (name, a.dtype.str)
              assert a.shape == (len(e["bits"]),), (name, a.shape)
              size = a.dtype.itemsize
              raw = [int.from_bytes(a.tobytes()[i * size:(i + 1) * size], "little") for i in range(a.size)]
              assert [format(r, "x") for r in raw] == e["bits"], (name, raw)
              if name != "bf16":
                  for x, v in zip(a.tolist(), e["values"]):
                      assert (v == "nan" and x != x) or float(x) == float(v), (name, x, v)
      m = np.load(d + "/matrix.npy")
      assert m.dtype == np.float32 and m.shape == (2, 3, 4) and m.flags.c_contiguous
      assert (m == (np.arange(24, dtype=np.float64) * 0.25 - 1).reshape(2, 3, 4)).all()
      print("ok")
      """
    let r = try #require(Python.run(["-c", script, dir.path]))
    #expect(r.status == 0 && r.stdout.contains("ok"), "\(r.stderr)")
  }

  @Test(.enabled(if: numpyAvailable, "python3 with numpy is not available: numpy interop not tested"))
  func weDecodeNumpyFiles() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let spec = Dictionary(
      uniqueKeysWithValues: npyPatterns.map { ($0.0.rawValue, [NPY.descr($0.0)] + $0.1.map { String($0) }) })
    try JSONSerialization.data(withJSONObject: spec).write(to: dir.appendingPathComponent("spec.json"))
    let script = """
      import json, sys, numpy as np
      d = sys.argv[1]
      spec = json.load(open(d + "/spec.json"))
      arrays = {}
      for name, (descr, *bits) in spec.items():
          dt = np.dtype(descr)
          raw = b"".join(int(b).to_bytes(dt.itemsize, "little") for b in bits)
          arrays[name] = np.frombuffer(raw, dtype=dt).copy()
          np.save(d + "/" + name + ".npy", arrays[name])
      np.savez(d + "/all.npz", **arrays)
      np.savez_compressed(d + "/compressed.npz", a=arrays["f32"])
      np.save(d + "/fortran.npy", np.asfortranarray(np.arange(6, dtype=np.int64).reshape(2, 3)))
      np.save(d + "/big.npy", np.array([1.5, -2.0], dtype=">f4"))
      np.save(d + "/scalar.npy", np.float64(-0.0))
      np.save(d + "/empty.npy", np.zeros((0, 3), dtype=np.float16))
      print("ok")
      """
    let r = try #require(Python.run(["-c", script, dir.path]))
    try #require(r.status == 0, "\(r.stderr)")
    func load(_ name: String) throws -> Data { try Data(contentsOf: dir.appendingPathComponent(name)) }
    let archive = try NPZ.decode(load("all.npz"))
    #expect(Set(archive.map(\.0)) == Set(npyPatterns.map(\.0.rawValue)))
    for (dtype, patterns) in npyPatterns {
      for t in [try NPY.decode(load("\(dtype.rawValue).npy")), archive.first { $0.0 == dtype.rawValue }?.1] {
        let t = try #require(t)
        #expect(t.dtype == dtype && t.shape == [patterns.count])
        #expect(t.storage.map { NPY.bits($0, dtype) } == patterns, "\(dtype)")
        for (p, v) in zip(patterns, t.storage) where !v.isNaN {
          #expect(v.bitPattern == nativeValue(p, dtype).bitPattern, "\(dtype) \(String(p, radix: 16))")
        }
      }
    }
    #expect(try NPY.decode(load("fortran.npy")).storage == [0, 1, 2, 3, 4, 5])
    #expect(try NPY.decode(load("big.npy")) == Tensor(dtype: .f32, shape: [2], storage: [1.5, -2]))
    let scalar = try NPY.decode(load("scalar.npy"))
    #expect(scalar.shape == [] && scalar.storage[0].bitPattern == (-0.0).bitPattern)
    let empty = try NPY.decode(load("empty.npy"))
    #expect(empty.dtype == .f16 && empty.shape == [0, 3])
    do {
      _ = try NPZ.decode(load("compressed.npz"))
      Issue.record("decoded a savez_compressed archive")
    } catch let e as NPYError {
      #expect(e.message.contains("deflated (numpy.savez_compressed)"), "\(e)")
    }
  }
}

/// Runs python3 (found through /usr/bin/env); nil if it cannot be started.
enum Python {
  static func run(_ args: [String]) -> (status: Int32, stdout: String, stderr: String)? {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3"] + args
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    do { try p.run() } catch { return nil }
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
  }
}
