import Foundation
import Operators
import Tensors

/// The `.dlsmith.json` model file: written and read only here.
///
/// ```json
/// { "format": "dlsmith.graph", "version": 1, "inputs": [...], "constants": [...],
///   "nodes": [...], "outputs": [...] }
/// ```
/// Keys are sorted and floats are written in their shortest round-trip form, so the same graph
/// always gives the same bytes.
extension Graph {
  public static let fileFormat = "dlsmith.graph"
  public static let fileVersion = 1

  private struct File: Codable {
    var format: String
    var version: Int
    var inputs: [GraphInput]
    var constants: [Constant]
    var nodes: [Node]
    var outputs: [ValueID]
  }

  private struct Header: Decodable {
    var format: String?
    var version: Int?
  }

  /// The file bytes.
  public func encoded() -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    let file = File(
      format: Graph.fileFormat, version: Graph.fileVersion, inputs: inputs, constants: constants,
      nodes: nodes, outputs: outputs)
    do {
      var data = try encoder.encode(file)
      data.append(0x0A)
      return data
    } catch {
      preconditionFailure("encoding a graph cannot fail: \(error)")
    }
  }

  /// Decodes file bytes; does not verify (call `verify()`).
  public init(decoding data: Data) throws(IRError) {
    let decoder = JSONDecoder()
    decoder.nonConformingFloatDecodingStrategy = .convertFromString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    let header: Header
    do {
      header = try decoder.decode(Header.self, from: data)
    } catch {
      throw IRError(.malformedFile, "not a JSON object (\(Graph.describe(error)))")
    }
    guard header.format == Graph.fileFormat else {
      throw IRError(
        .unsupportedFormat,
        "format is \(header.format.map { "'\($0)'" } ?? "missing"), expected '\(Graph.fileFormat)'")
    }
    guard header.version == Graph.fileVersion else {
      throw IRError(
        .unsupportedFormat,
        "version \(header.version.map(String.init) ?? "missing") is not supported (this build reads version \(Graph.fileVersion))"
      )
    }
    do {
      let file = try decoder.decode(File.self, from: data)
      self.init(inputs: file.inputs, constants: file.constants, nodes: file.nodes, outputs: file.outputs)
    } catch {
      throw IRError(.malformedFile, Graph.describe(error))
    }
  }

  /// Reads and verifies a model file. Errors name the file and the problem.
  public init(
    contentsOf path: String, operators: OperatorLookup = Catalogue.spec, limits: SizeLimits = .default
  ) throws(IRError) {
    let url = URL(fileURLWithPath: path)
    let data: Data
    do {
      let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
      guard size <= 1 << 30 else { throw IRError(.limits, "\(path): file of \(size) bytes is too large") }
      data = try Data(contentsOf: url)
    } catch let e as IRError {
      throw e
    } catch {
      throw IRError(.malformedFile, "\(path): cannot read: \(error.localizedDescription)")
    }
    do {
      try self.init(decoding: data)
      try verify(operators: operators, limits: limits)
    } catch {
      throw IRError(error.kind, "\(path): \(error.message)")
    }
  }

  /// Writes the file atomically (temporary file, then rename).
  public func write(to path: String) throws {
    try encoded().write(to: URL(fileURLWithPath: path), options: .atomic)
  }

  /// A one-line description of a JSON decoding error: what is wrong and where (`missing key 'op' at
  /// .nodes[3]`); rules files and other JSON inputs report their problems the same way.
  public static func describe(_ error: any Error) -> String {
    func path(_ keys: [any CodingKey]) -> String {
      keys.isEmpty ? "top level" : keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
    }
    switch error {
    case DecodingError.dataCorrupted(let c):
      let under = (c.underlyingError as? NSError)?.userInfo[NSDebugDescriptionErrorKey] as? String
      return "corrupt data at \(path(c.codingPath)): \(under ?? c.debugDescription)"
    case DecodingError.keyNotFound(let k, let c):
      return "missing key '\(k.stringValue)' at \(path(c.codingPath))"
    case DecodingError.typeMismatch(let t, let c):
      return "expected \(t) at \(path(c.codingPath)): \(c.debugDescription)"
    case DecodingError.valueNotFound(let t, let c): return "missing \(t) value at \(path(c.codingPath))"
    default: return "\(error)"
    }
  }
}
