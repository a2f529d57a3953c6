import ArgumentParser
import Foundation
import IR
import Operators
import Rulebook

/// Writes a line to stderr (progress and logs; stdout is for data).
func log(_ message: String) {
  FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// A tool error: printed as `error: ...` and exit status 1.
struct ToolError: Error, CustomStringConvertible {
  let description: String
  init(_ d: String) { description = d }
}

/// Runs a command body, mapping tool errors to exit 1 with a one-line message.
func reportingErrors(_ body: () throws -> Void) throws {
  do {
    try body()
  } catch let e as ToolError {
    log("error: \(e.description)")
    throw ExitCode(1)
  } catch let e as IRError {
    log("error: \(e.description)")
    throw ExitCode(1)
  }
}

/// Loads and verifies a model. Models with ONNX operators learned from an external target
/// (`onnx.<Op>.<k>`) verify against the learned rules under `Rules/<target>/` (every external
/// target directory there), as the generator made them.
func loadModel(_ path: String, rules: String = "Rules") throws -> Graph {
  do {
    return try Graph(contentsOf: path)
  } catch {
    guard error.kind == .unknownOperator && error.message.contains("'onnx.") else { throw error }
    return try Graph(contentsOf: path, operators: learnedONNXLookup(rules))
  }
}

/// Every learned ONNX operator under `rules` (all target directories but reference and fast),
/// then the catalogue.
func learnedONNXLookup(_ rules: String) -> OperatorLookup {
  let names = (try? FileManager.default.contentsOfDirectory(atPath: rules)) ?? []
  var table: [String: OperatorSpec] = [:]
  for t in names.sorted() where !["reference", "fast", "records"].contains(t) {
    for file in (try? RulesFile.readAll("\(rules)/\(t)")) ?? [] {
      for spec in LearnedSpecs.onnxSpecs(file) { table[spec.id] = spec }
    }
  }
  let specs = table
  return { specs[$0] ?? Catalogue.spec($0) }
}

/// A comma-separated list option.
func splitList(_ s: String?) -> [String] {
  guard let s else { return [] }
  return s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
}
