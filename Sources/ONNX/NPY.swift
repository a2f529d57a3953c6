import Foundation
import Tensors

/// A malformed or unsupported NPY/NPZ file; the message names the problem.
public struct NPYError: Error, CustomStringConvertible, Sendable, Equatable {
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

/// NumPy `.npy` files (format 1.0, 2.0 and 3.0 headers; little-endian, C order on write).
///
/// dtypes: f16 `<f2`, f32 `<f4`, f64 `<f8`, i32 `<i4`, i64 `<i8`, bool `|b1`, i8 `|i1`, u8 `|u1`.
/// bf16 has no NumPy dtype: it is stored as `<u2` holding the bf16 bit patterns (the upper half of
/// the float32 bits), and a `<u2` file decodes as bf16. Floats are bit-exact both ways, NaN payloads
/// (quiet or signalling) and -0.0 included. Decoding also accepts big-endian (`>`) data and
/// Fortran-order arrays (reordered to C order).
public enum NPY {
  static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"

  /// The NumPy dtype string of a tensor dtype.
  public static func descr(_ d: DType) -> String {
    switch d {
    case .f16: return "<f2"
    case .bf16: return "<u2"
    case .f32: return "<f4"
    case .f64: return "<f8"
    case .i32: return "<i4"
    case .i64: return "<i8"
    case .bool: return "|b1"
    case .i8: return "|i1"
    case .u8: return "|u1"
    }
  }

  public static func encode(_ t: Tensor) -> Data {
    let shape =
      t.shape.isEmpty
      ? "()"
      : t.shape.count == 1 ? "(\(t.shape[0]),)" : "(" + t.shape.map(String.init).joined(separator: ", ") + ")"
    var header = "{'descr': '\(descr(t.dtype))', 'fortran_order': False, 'shape': \(shape), }"
    // Pad with spaces so the data starts on a 64-byte boundary; the header ends with a newline.
    let v1 = (10 + header.utf8.count + 1 + 63) / 64 * 64 - 10 <= 65535
    let prefix = v1 ? 10 : 12
    let total = (prefix + header.utf8.count + 1 + 63) / 64 * 64
    header += String(repeating: " ", count: total - prefix - header.utf8.count - 1) + "\n"
    var out = Data(magic)
    let headerBytes = Array(header.utf8)
    if v1 {
      out.append(contentsOf: [1, 0])
      appendLE(&out, UInt64(headerBytes.count), bytes: 2)
    } else {
      out.append(contentsOf: [2, 0])
      appendLE(&out, UInt64(headerBytes.count), bytes: 4)
    }
    out.append(contentsOf: headerBytes)
    out.reserveCapacity(out.count + t.count * t.dtype.byteSize)
    let size = t.dtype.byteSize
    for x in t.storage { appendLE(&out, bits(x, t.dtype), bytes: size) }
    return out
  }

  public static func decode(_ d: Data) throws -> Tensor {
    let b = [UInt8](d)
    guard b.count >= 10, Array(b[0..<6]) == magic else { throw NPYError("npy: not an NPY file (bad magic)") }
    let major = b[6]
    let headerLength: Int
    let start: Int
    switch major {
    case 1:
      headerLength = Int(b[8]) | Int(b[9]) << 8
      start = 10
    case 2, 3:
      guard b.count >= 12 else { throw NPYError("npy: truncated header") }
      headerLength = Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24
      start = 12
    default:
      throw NPYError("npy: unsupported format version \(major).\(b[7])")
    }
    guard start + headerLength <= b.count else { throw NPYError("npy: truncated header") }
    guard let text = String(bytes: b[start..<start + headerLength], encoding: major == 3 ? .utf8 : .isoLatin1)
    else { throw NPYError("npy: header is not text") }
    var parser = HeaderParser(text)
    let header = try parser.dictionary()
    guard case .string(let descr)? = header["descr"] else {
      throw NPYError("npy: header has no string 'descr' (structured dtypes are unsupported)")
    }
    guard case .bool(let fortran)? = header["fortran_order"] else {
      throw NPYError("npy: header has no boolean 'fortran_order'")
    }
    guard case .tuple(let shape)? = header["shape"] else {
      throw NPYError("npy: header has no tuple 'shape'")
    }
    guard shape.allSatisfy({ $0 >= 0 }) else { throw NPYError("npy: negative dimension in shape \(shape)") }
    let (dtype, bigEndian) = try parseDescr(descr)
    let size = dtype.byteSize
    var count = 1
    for s in shape {
      let (m, overflow) = count.multipliedReportingOverflow(by: s)
      guard !overflow else { throw NPYError("npy: shape \(shape) is too large") }
      count = m
    }
    let body = b.count - start - headerLength
    guard count <= body / size else {
      throw NPYError(
        "npy: truncated data: shape \(shape) of \(descr) needs \(count * size) bytes, file has \(body)")
    }
    guard count * size == body else {
      throw NPYError("npy: \(body - count * size) trailing bytes after the data of shape \(shape) \(descr)")
    }
    var values = [Double](repeating: 0, count: count)
    var off = start + headerLength
    for i in 0..<count {
      var u: UInt64 = 0
      for j in 0..<size {
        let byte = UInt64(b[off + (bigEndian ? size - 1 - j : j)])
        u |= byte << (8 * UInt64(j))
      }
      values[i] = value(u, dtype)
      off += size
    }
    if fortran && shape.count > 1 { values = cOrder(fromFortran: values, shape: shape) }
    return Tensor(dtype: dtype, shape: shape, storage: values)
  }

  // MARK: - dtypes and bits

  static func parseDescr(_ s: String) throws -> (DType, bigEndian: Bool) {
    var rest = Substring(s)
    var big = false
    if let c = rest.first, "<>|=".contains(c) {
      big = c == ">"
      rest = rest.dropFirst()
    }
    let table: [String: DType] = [
      "f2": .f16, "f4": .f32, "f8": .f64, "i4": .i32, "i8": .i64, "b1": .bool, "?": .bool, "i1": .i8,
      "u1": .u8, "u2": .bf16,
    ]
    guard let d = table[String(rest)] else { throw NPYError("npy: unsupported dtype '\(s)'") }
    return (d, big)
  }

  /// The little-endian storage bits of one element (in the low `byteSize` bytes).
  static func bits(_ x: Double, _ d: DType) -> UInt64 {
    switch d {
    case .f64: return x.bitPattern
    case .f32: return UInt64(f32Bits(x))
    case .bf16: return UInt64(f32Bits(x.isNaN ? x : d.rounded(x)) >> 16)
    case .f16: return UInt64(f16Bits(x.isNaN ? x : d.rounded(x)))
    case .i32, .i64, .i8, .u8:
      let u = UInt64(bitPattern: Int64(d.rounded(x)))
      return d.byteSize == 8 ? u : u & (1 << (8 * UInt64(d.byteSize)) - 1)
    case .bool: return x != 0 || x.isNaN ? 1 : 0
    }
  }

  static func value(_ u: UInt64, _ d: DType) -> Double {
    switch d {
    case .f64: return Double(bitPattern: u)
    case .f32: return fromF32Bits(UInt32(truncatingIfNeeded: u))
    case .bf16: return fromF32Bits(UInt32(truncatingIfNeeded: u) << 16)
    case .f16: return fromF16Bits(UInt16(truncatingIfNeeded: u))
    case .i64: return Double(Int64(bitPattern: u))
    case .i32: return Double(Int32(truncatingIfNeeded: u))
    case .i8: return Double(Int8(truncatingIfNeeded: u))
    case .u8: return Double(UInt8(truncatingIfNeeded: u))
    case .bool: return u & 0xFF != 0 ? 1 : 0
    }
  }

  /// float32 bits of a double; NaNs map their payload by hand (the hardware would quiet them).
  static func f32Bits(_ x: Double) -> UInt32 {
    guard x.isNaN else { return Float(x).bitPattern }
    let u = x.bitPattern
    let m = UInt32((u >> 29) & 0x7F_FFFF)
    return UInt32(u >> 63) << 31 | 0x7F80_0000 | (m == 0 ? 0x40_0000 : m)
  }

  static func fromF32Bits(_ u: UInt32) -> Double {
    guard u & 0x7F80_0000 == 0x7F80_0000, u & 0x7F_FFFF != 0 else { return Double(Float(bitPattern: u)) }
    return Double(bitPattern: UInt64(u >> 31) << 63 | 0x7FF0_0000_0000_0000 | UInt64(u & 0x7F_FFFF) << 29)
  }

  /// float16 bits of a double that is a float16 value (exact; NaN payloads kept).
  static func f16Bits(_ x: Double) -> UInt16 {
    let sign: UInt16 = x.sign == .minus ? 0x8000 : 0
    if x.isNaN {
      let m = UInt16((x.bitPattern >> 42) & 0x3FF)
      return sign | 0x7C00 | (m == 0 ? 1 : m)
    }
    if x.isInfinite { return sign | 0x7C00 }
    let a = abs(x)
    if a == 0 { return sign }
    if a < 0x1p-14 { return sign | UInt16(a * 0x1p24) }  // subnormal: multiples of 2^-24
    let e = Int(a.exponent)
    let m = UInt16((a.significand - 1) * 1024)
    return sign | UInt16(e + 15) << 10 | m
  }

  static func fromF16Bits(_ h: UInt16) -> Double {
    let sign: Double = h & 0x8000 != 0 ? -1 : 1
    let e = Int(h >> 10 & 0x1F)
    let m = UInt64(h & 0x3FF)
    if e == 0x1F {
      if m == 0 { return sign * .infinity }
      return Double(bitPattern: UInt64(h >> 15) << 63 | 0x7FF0_0000_0000_0000 | m << 42)
    }
    if e == 0 { return sign * Double(m) * 0x1p-24 }
    return sign * (1 + Double(m) / 1024) * Double(sign: .plus, exponent: e - 15, significand: 1)
  }

  static func appendLE(_ out: inout Data, _ u: UInt64, bytes: Int) {
    var v = u
    for _ in 0..<bytes {
      out.append(UInt8(truncatingIfNeeded: v))
      v >>= 8
    }
  }

  static func cOrder(fromFortran values: [Double], shape: [Int]) -> [Double] {
    var fstrides = [Int](repeating: 1, count: shape.count)
    for i in 1..<shape.count { fstrides[i] = fstrides[i - 1] * shape[i - 1] }
    var out = values
    var index = [Int](repeating: 0, count: shape.count)
    for k in 0..<values.count {
      out[k] = values[Shape.offset(index, strides: fstrides)]
      var i = shape.count - 1
      while i >= 0 {
        index[i] += 1
        if index[i] < shape[i] { break }
        index[i] = 0
        i -= 1
      }
    }
    return out
  }

  /// The header: a Python dict literal with string keys and string, bool or int-tuple values.
  struct HeaderParser {
    enum Value: Equatable {
      case string(String)
      case bool(Bool)
      case tuple([Int])
      case other
    }
    let chars: [Character]
    var i = 0
    init(_ text: String) { chars = Array(text) }

    mutating func skipSpace() { while i < chars.count, chars[i].isWhitespace { i += 1 } }

    mutating func expect(_ c: Character) throws {
      skipSpace()
      guard i < chars.count, chars[i] == c else {
        throw NPYError("npy: malformed header: expected '\(c)' at \(i) in \(String(chars).debugDescription)")
      }
      i += 1
    }

    mutating func peek() -> Character? {
      skipSpace()
      return i < chars.count ? chars[i] : nil
    }

    mutating func string() throws -> String {
      skipSpace()
      guard i < chars.count, chars[i] == "'" || chars[i] == "\"" else {
        throw NPYError("npy: malformed header: expected a string at \(i)")
      }
      let q = chars[i]
      i += 1
      var s = ""
      while i < chars.count, chars[i] != q {
        s.append(chars[i])
        i += 1
      }
      try expect(q)
      return s
    }

    mutating func value() throws -> Value {
      switch peek() {
      case "'", "\"": return .string(try string())
      case "(":
        i += 1
        var dims: [Int] = []
        while peek() != ")" {
          var digits = ""
          while i < chars.count, chars[i].isNumber || chars[i] == "-" || chars[i] == "L" {
            if chars[i] != "L" { digits.append(chars[i]) }
            i += 1
          }
          guard let n = Int(digits) else { throw NPYError("npy: malformed header: bad dimension at \(i)") }
          dims.append(n)
          if peek() == "," {
            i += 1
          } else if peek() != ")" {
            throw NPYError("npy: malformed header: expected ',' or ')' in shape at \(i)")
          }
        }
        i += 1
        return .tuple(dims)
      default:
        var word = ""
        while i < chars.count, chars[i].isLetter || chars[i].isNumber || chars[i] == "_" {
          word.append(chars[i])
          i += 1
        }
        if word == "True" { return .bool(true) }
        if word == "False" { return .bool(false) }
        throw NPYError("npy: malformed header: unexpected value at \(i)")
      }
    }

    mutating func dictionary() throws -> [String: Value] {
      try expect("{")
      var out: [String: Value] = [:]
      while peek() != "}" {
        let key = try string()
        try expect(":")
        out[key] = try value()
        if peek() == "," {
          i += 1
        } else if peek() != "}" {
          throw NPYError("npy: malformed header: expected ',' or '}' at \(i)")
        }
        if i >= chars.count { throw NPYError("npy: malformed header: unterminated dictionary") }
      }
      return out
    }
  }
}

/// NumPy `.npz` archives: a ZIP of `.npy` entries, as `numpy.savez` writes them (stored, not
/// compressed, with CRC-32). Names are given without the `.npy` suffix. Reading handles ZIP64
/// records (numpy writes them); a deflated entry (`numpy.savez_compressed`) is an error.
public enum NPZ {
  public static func encode(_ named: [(String, Tensor)]) -> Data {
    var out = Data()
    var central = Data()
    for (name, t) in named {
      let body = NPY.encode(t)
      let fileName = Array((name + ".npy").utf8)
      let crc = CRC32.checksum(body)
      let offset = out.count
      // Local file header.
      le(&out, 0x0403_4B50, 4)
      le(&out, 20, 2)  // version needed
      le(&out, 0, 2)  // flags
      le(&out, 0, 2)  // stored
      le(&out, 0, 2)  // time 00:00
      le(&out, 0x21, 2)  // date 1980-01-01
      le(&out, UInt64(crc), 4)
      le(&out, UInt64(body.count), 4)
      le(&out, UInt64(body.count), 4)
      le(&out, UInt64(fileName.count), 2)
      le(&out, 0, 2)
      out.append(contentsOf: fileName)
      out.append(body)
      // Central directory entry.
      le(&central, 0x0201_4B50, 4)
      le(&central, 20, 2)  // version made by
      le(&central, 20, 2)
      le(&central, 0, 2)
      le(&central, 0, 2)
      le(&central, 0, 2)
      le(&central, 0x21, 2)
      le(&central, UInt64(crc), 4)
      le(&central, UInt64(body.count), 4)
      le(&central, UInt64(body.count), 4)
      le(&central, UInt64(fileName.count), 2)
      le(&central, 0, 2)  // extra
      le(&central, 0, 2)  // comment
      le(&central, 0, 2)  // disk
      le(&central, 0, 2)  // internal attributes
      le(&central, 0o600 << 16, 4)  // external attributes: -rw-------
      le(&central, UInt64(offset), 4)
      central.append(contentsOf: fileName)
    }
    let centralOffset = out.count
    out.append(central)
    le(&out, 0x0605_4B50, 4)
    le(&out, 0, 2)
    le(&out, 0, 2)
    le(&out, UInt64(named.count), 2)
    le(&out, UInt64(named.count), 2)
    le(&out, UInt64(central.count), 4)
    le(&out, UInt64(centralOffset), 4)
    le(&out, 0, 2)
    return out
  }

  public static func decode(_ d: Data) throws -> [(String, Tensor)] {
    let b = [UInt8](d)
    func u(_ at: Int, _ n: Int) throws -> UInt64 {
      guard at >= 0, at + n <= b.count else { throw NPYError("npz: truncated archive (offset \(at))") }
      var v: UInt64 = 0
      for j in 0..<n { v |= UInt64(b[at + j]) << (8 * UInt64(j)) }
      return v
    }
    // End of central directory: the last signature within the trailing 64 KiB (+ comment).
    guard b.count >= 22 else { throw NPYError("npz: not a ZIP archive (too short)") }
    var eocd = -1
    var p = b.count - 22
    while p >= Swift.max(0, b.count - 22 - 65535) {
      if b[p] == 0x50, b[p + 1] == 0x4B, b[p + 2] == 5, b[p + 3] == 6 {
        eocd = p
        break
      }
      p -= 1
    }
    guard eocd >= 0 else { throw NPYError("npz: not a ZIP archive (no end of central directory)") }
    var entries = try u(eocd + 10, 2)
    var centralOffset = try u(eocd + 16, 4)
    if entries == 0xFFFF || centralOffset == 0xFFFF_FFFF {
      // ZIP64: the locator sits just before the EOCD.
      let loc = eocd - 20
      guard loc >= 0, try u(loc, 4) == 0x0706_4B50 else {
        throw NPYError("npz: ZIP64 end of central directory locator missing")
      }
      let z = Int(try u(loc + 8, 8))
      guard try u(z, 4) == 0x0606_4B50 else { throw NPYError("npz: bad ZIP64 end of central directory") }
      entries = try u(z + 32, 8)
      centralOffset = try u(z + 48, 8)
    }
    var out: [(String, Tensor)] = []
    var at = Int(clamping: centralOffset)
    for _ in 0..<entries {
      guard try u(at, 4) == 0x0201_4B50 else { throw NPYError("npz: bad central directory entry at \(at)") }
      let flags = try u(at + 8, 2)
      let method = try u(at + 10, 2)
      let crc = UInt32(try u(at + 16, 4))
      var compressed = try u(at + 20, 4)
      var size = try u(at + 24, 4)
      let nameLength = Int(try u(at + 28, 2))
      let extraLength = Int(try u(at + 30, 2))
      let commentLength = Int(try u(at + 32, 2))
      var local = try u(at + 42, 4)
      guard at + 46 + nameLength <= b.count else { throw NPYError("npz: truncated central directory") }
      let name = String(decoding: b[at + 46..<at + 46 + nameLength], as: UTF8.self)
      // ZIP64 extra field: the 64-bit values of the fields that are 0xFFFFFFFF, in order.
      var e = at + 46 + nameLength
      let extraEnd = e + extraLength
      while e + 4 <= extraEnd {
        let id = try u(e, 2)
        let len = Int(try u(e + 2, 2))
        if id == 1 {
          var q = e + 4
          if size == 0xFFFF_FFFF {
            size = try u(q, 8)
            q += 8
          }
          if compressed == 0xFFFF_FFFF {
            compressed = try u(q, 8)
            q += 8
          }
          if local == 0xFFFF_FFFF { local = try u(q, 8) }
        }
        e += 4 + len
      }
      at = extraEnd + commentLength
      if flags & 1 != 0 { throw NPYError("npz: entry '\(name)' is encrypted") }
      guard method == 0 else {
        throw NPYError(
          "npz: entry '\(name)' is \(method == 8 ? "deflated (numpy.savez_compressed)" : "compressed with method \(method)"); only stored entries (numpy.savez) are supported"
        )
      }
      let l = Int(clamping: local)
      guard try u(l, 4) == 0x0403_4B50 else { throw NPYError("npz: bad local header for '\(name)'") }
      let start = l + 30 + Int(try u(l + 26, 2)) + Int(try u(l + 28, 2))
      guard compressed == size, start + Int(clamping: size) <= b.count else {
        throw NPYError("npz: entry '\(name)' is truncated")
      }
      let body = d.subdata(in: d.startIndex + start..<d.startIndex + start + Int(size))
      let actual = CRC32.checksum(body)
      guard actual == crc else {
        throw NPYError(
          "npz: CRC-32 mismatch in '\(name)': stored \(String(crc, radix: 16)), computed \(String(actual, radix: 16))"
        )
      }
      let tensor: Tensor
      do { tensor = try NPY.decode(body) } catch let error as NPYError {
        throw NPYError("npz: entry '\(name)': \(error.message)")
      }
      out.append((name.hasSuffix(".npy") ? String(name.dropLast(4)) : name, tensor))
    }
    return out
  }

  static func le(_ out: inout Data, _ v: UInt64, _ n: Int) { NPY.appendLE(&out, v, bytes: n) }
}

/// CRC-32 (IEEE 802.3, as ZIP uses).
enum CRC32 {
  static let table: [UInt32] = (0..<256).map { i -> UInt32 in
    var c = UInt32(i)
    for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    return c
  }

  static func checksum(_ data: Data) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    data.withUnsafeBytes { raw in
      for byte in raw { c = table[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
    }
    return c ^ 0xFFFF_FFFF
  }
}
