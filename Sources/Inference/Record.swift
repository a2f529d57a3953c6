import Foundation
import Tensors

/// One call of a partial operator: the integer symbols it was called with and what happened.
///
/// `symbols` follow `PartialOperator.symbolNames` position by position. A valid call has `outputs`
/// (one array of dims per output tensor, ranks as in `PartialOperator.outputRanks`); an invalid call
/// has `outputs == nil` and usually the target's `error` text.
public struct Record: Hashable, Sendable, Codable {
  /// Input dims and integer attributes, in `PartialOperator.symbolNames` order.
  public var symbols: [Int]
  /// Output shapes of a valid call; `nil` for an invalid call.
  public var outputs: [[Int]]?
  /// The error text of an invalid call (first line is enough), if any.
  public var error: String?

  /// A record; pass `outputs: nil` for an invalid call.
  public init(symbols: [Int], outputs: [[Int]]?, error: String? = nil) {
    self.symbols = symbols
    self.outputs = outputs
    self.error = error
  }

  /// A valid call.
  public static func valid(_ symbols: [Int], _ outputs: [[Int]]) -> Record {
    Record(symbols: symbols, outputs: outputs)
  }

  /// An invalid call with its error text.
  public static func invalid(_ symbols: [Int], _ error: String = "") -> Record {
    Record(symbols: symbols, outputs: nil, error: error)
  }

  /// True for a call that succeeded.
  public var isValid: Bool { outputs != nil }
}

/// An operator instance with everything but its integers fixed (NeuRI's "partial operator").
///
/// Calls of one operator are grouped by input ranks, dtypes and non-integer attributes (`key`, a
/// canonical text chosen by the trace collector); the remaining integers — input dims and integer
/// attributes — are the symbols, named in `symbolNames` (e.g. `x0.0`, `x0.1`, `w.2`, `strides.0`:
/// operand or attribute, a dot, the position). Names must be valid `Dim` symbol names; the
/// synthesizer falls back to `s0`, `s1`, … for names that are not.
public struct PartialOperator: Hashable, Sendable, Codable {
  /// The operator (e.g. `Conv`, `torch.nn.functional.conv2d`).
  public var op: String
  /// Ranks, dtypes and non-integer attributes, as canonical text.
  public var key: String
  /// One name per symbol.
  public var symbolNames: [String]
  /// The rank of each output.
  public var outputRanks: [Int]

  /// A partial operator; see the properties.
  public init(op: String, key: String, symbolNames: [String], outputRanks: [Int]) {
    self.op = op
    self.key = key
    self.symbolNames = symbolNames
    self.outputRanks = outputRanks
  }
}

/// The records of one partial operator.
///
/// ## Text encoding (JSON lines)
///
/// One header line with the `PartialOperator` as a JSON object (sorted keys), then one line per
/// record:
///
///     {"key":"f32,f32;group=1","op":"Conv","outputRanks":[4],"symbolNames":["x0.0","x0.1"]}
///     [1,3,32,32,8,3,3,3] -> [[1,8,30,30]]
///     [1,3,0,32,8,3,3,3] !! kernel size can't be greater than actual input size
///
/// A valid record is the symbol array, ` -> `, and the output shapes; an invalid one is the symbol
/// array, ` !! `, and the error text (newlines replaced by spaces; empty text means no error text).
/// Blank lines and lines starting with `#` are ignored.
public struct RecordSet: Hashable, Sendable, Codable {
  /// The partial operator the records belong to.
  public var partial: PartialOperator
  /// Valid and invalid calls, in collection order.
  public var records: [Record]

  /// A record set, empty by default.
  public init(partial: PartialOperator, records: [Record] = []) {
    self.partial = partial
    self.records = records
  }

  /// The valid records.
  public var validRecords: [Record] { records.filter(\.isValid) }
  /// The invalid records.
  public var invalidRecords: [Record] { records.filter { !$0.isValid } }
}

/// A malformed record file.
public struct RecordFormatError: Error, CustomStringConvertible, Sendable {
  /// The 1-based line number.
  public let line: Int
  /// What is wrong with the line.
  public let message: String
  /// `records line N: message`.
  public var description: String { "records line \(line): \(message)" }
}

// MARK: - Encoding

extension RecordSet {
  /// The JSON-lines text (see the type documentation); ends with a newline.
  public func encoded() -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let header = (try? encoder.encode(partial)).flatMap { String(data: $0, encoding: .utf8) } ?? "{}"
    var out = header + "\n"
    for r in records {
      out += Self.encode(r)
      out += "\n"
    }
    return out
  }

  /// One record line (no newline).
  public static func encode(_ r: Record) -> String {
    let symbols = "[" + r.symbols.map(String.init).joined(separator: ",") + "]"
    if let outputs = r.outputs {
      let shapes = outputs.map { "[" + $0.map(String.init).joined(separator: ",") + "]" }
      return symbols + " -> [" + shapes.joined(separator: ",") + "]"
    }
    let text = (r.error ?? "").map { $0.isNewline ? " " : $0 }
    return symbols + " !! " + String(text)
  }

  /// Parses the JSON-lines text written by `encoded()`.
  public init(decoding text: String) throws(RecordFormatError) {
    var header: PartialOperator?
    var records: [Record] = []
    for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let line = raw.trimmingCharacters(in: .whitespaces)
      if line.isEmpty || line.hasPrefix("#") { continue }
      if header == nil {
        do {
          header = try JSONDecoder().decode(PartialOperator.self, from: Data(line.utf8))
        } catch {
          throw RecordFormatError(line: i + 1, message: "bad header: \(error)")
        }
        continue
      }
      records.append(try Self.decodeRecord(line, line: i + 1))
    }
    guard let header else { throw RecordFormatError(line: 1, message: "missing header") }
    self.init(partial: header, records: records)
  }

  /// Parses one record line.
  public static func decodeRecord(_ text: String, line: Int = 1) throws(RecordFormatError) -> Record {
    var scanner = IntScanner(Array(text.utf8))
    guard let symbols = scanner.intArray() else {
      throw RecordFormatError(line: line, message: "expected a symbol array")
    }
    scanner.skipSpace()
    if scanner.accept("->") {
      scanner.skipSpace()
      guard scanner.accept("[") else { throw RecordFormatError(line: line, message: "expected '[['") }
      var outputs: [[Int]] = []
      scanner.skipSpace()
      if !scanner.accept("]") {
        while true {
          guard let shape = scanner.intArray() else {
            throw RecordFormatError(line: line, message: "expected an output shape")
          }
          outputs.append(shape)
          scanner.skipSpace()
          if scanner.accept("]") { break }
          guard scanner.accept(",") else { throw RecordFormatError(line: line, message: "expected ','") }
        }
      }
      scanner.skipSpace()
      guard scanner.atEnd else { throw RecordFormatError(line: line, message: "trailing text") }
      return Record(symbols: symbols, outputs: outputs)
    }
    if scanner.accept("!!") {
      let rest = String(decoding: scanner.rest, as: UTF8.self).trimmingCharacters(in: .whitespaces)
      return Record(symbols: symbols, outputs: nil, error: rest.isEmpty ? nil : rest)
    }
    throw RecordFormatError(line: line, message: "expected '->' or '!!'")
  }
}

/// A tiny scanner for `[1,-2,3]` arrays (no Foundation JSON per line: record files are large).
private struct IntScanner {
  let bytes: [UInt8]
  var pos = 0

  init(_ bytes: [UInt8]) { self.bytes = bytes }

  var atEnd: Bool { pos == bytes.count }
  var rest: ArraySlice<UInt8> { bytes[pos...] }

  mutating func skipSpace() {
    while pos < bytes.count, bytes[pos] == 0x20 || bytes[pos] == 0x09 { pos += 1 }
  }

  mutating func accept(_ s: String) -> Bool {
    let u = Array(s.utf8)
    guard pos + u.count <= bytes.count, Array(bytes[pos..<pos + u.count]) == u else { return false }
    pos += u.count
    return true
  }

  mutating func int() -> Int? {
    skipSpace()
    var negative = false
    if pos < bytes.count, bytes[pos] == UInt8(ascii: "-") {
      negative = true
      pos += 1
    }
    var value = 0
    var digits = 0
    while pos < bytes.count, bytes[pos] >= 0x30, bytes[pos] <= 0x39 {
      let (m, o1) = value.multipliedReportingOverflow(by: 10)
      let (a, o2) = m.addingReportingOverflow(Int(bytes[pos] - 0x30))
      if o1 || o2 { return nil }
      value = a
      digits += 1
      pos += 1
    }
    return digits == 0 ? nil : (negative ? -value : value)
  }

  mutating func intArray() -> [Int]? {
    skipSpace()
    guard accept("[") else { return nil }
    var xs: [Int] = []
    skipSpace()
    if accept("]") { return xs }
    while true {
      guard let v = int() else { return nil }
      xs.append(v)
      skipSpace()
      if accept("]") { return xs }
      guard accept(",") else { return nil }
    }
  }
}

// MARK: - Augmentation

extension RecordSet {
  /// Unlabelled candidate symbol vectors for NeuRI-style augmentation; the caller runs the target
  /// on each and appends the resulting valid or invalid records.
  ///
  /// Each valid record is mutated one step away, in this order: every symbol set to 0 and to −2;
  /// every pair of symbols swapped (pairs with equal values are de-aliased instead: the second gets
  /// `+1`); every symbol changed by ±1, ±2, ±3. Vectors already in the set, and duplicates, are
  /// skipped. Mutations near the boundary of validity are the point: most of them become invalid
  /// records that teach the predicates, and the valid ones pin down which symbols each output
  /// depends on (pairs of valid records that differ in one symbol, see `Synthesizer`).
  ///
  /// - Parameters:
  ///   - limit: at most this many vectors; past it a seeded uniform sample is kept (in order).
  ///   - seed: the sample's seed.
  public func augmented(limit: Int = 2_000, seed: UInt64 = 0) -> [[Int]] {
    var seen = Set(records.map(\.symbols))
    var out: [[Int]] = []
    func add(_ v: [Int]) {
      if seen.insert(v).inserted { out.append(v) }
    }
    for r in records where r.isValid {
      let s = r.symbols
      for i in s.indices {
        for v in [0, -2] where s[i] != v {
          var m = s
          m[i] = v
          add(m)
        }
      }
      for i in s.indices {
        for j in (i + 1)..<s.count {
          var m = s
          if s[i] == s[j] {
            m[j] += 1
          } else {
            m.swapAt(i, j)
          }
          add(m)
        }
      }
      for i in s.indices {
        for delta in [1, -1, 2, -2, 3, -3] {
          var m = s
          m[i] += delta
          add(m)
        }
      }
      // Aliased symbols (equal values) moved together, so that a rule `a == b` does not hide
      // what `a` and `b` must satisfy on their own (e.g. matmul's `k > 0`).
      var aliases: [Int: [Int]] = [:]
      for (i, v) in s.enumerated() { aliases[v, default: []].append(i) }
      for group in aliases.values.sorted(by: { $0[0] < $1[0] }) where group.count > 1 {
        for change in [{ (_: Int) in 0 }, { _ in -2 }, { $0 + 1 }, { $0 - 1 }, { $0 + 2 }, { $0 - 2 }] {
          var m = s
          for i in group { m[i] = change(s[i]) }
          add(m)
        }
      }
    }
    guard out.count > limit else { return out }
    // Seeded selection sampling (Knuth's algorithm S): keeps order, exactly `limit` items.
    var rng = SplitMix64(seed: seed)
    var kept: [[Int]] = []
    kept.reserveCapacity(limit)
    var needed = limit
    for (i, v) in out.enumerated() where needed > 0 {
      let remaining = out.count - i
      if Int(rng.next() % UInt64(remaining)) < needed {
        kept.append(v)
        needed -= 1
      }
    }
    return kept
  }
}
