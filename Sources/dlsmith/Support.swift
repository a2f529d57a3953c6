import ArgumentParser
import Foundation
import IR
import Operators

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

func loadModel(_ path: String) throws -> Graph {
  try Graph(contentsOf: path)
}

/// A comma-separated list option.
func splitList(_ s: String?) -> [String] {
  guard let s else { return [] }
  return s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
}
