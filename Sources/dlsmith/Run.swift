import ArgumentParser
import Backends
import Foundation
import IR
import Tensors

struct Run: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run a model on a backend and summarize its outputs.")

  @Argument(help: "Model file (.dlsmith.json).") var model: String
  @Option(help: "Backend to run on: reference or fast.") var backend: String = "reference"
  @OptionGroup var passes: PassSelection
  @Option(help: "Seed of the input values (drawn from each input's range).") var inputSeed: UInt64 = 0
  @Option(name: .shortAndLong, help: "Write all output values as JSON here.") var output: String?

  func validate() throws {
    guard backendNames.contains(backend) else {
      throw ValidationError(
        "unknown backend '\(backend)' (available: \(backendNames.joined(separator: ", ")))")
    }
  }

  func run() throws {
    try reportingErrors {
      let graph = try loadModel(model)
      let inputs = graph.sampleInputs(seed: inputSeed)
      let outputs: [Tensor]
      do {
        outputs = try makeBackend(backend, passes: passes.selected).run(graph, inputs: inputs)
      } catch {
        throw ToolError("\(model): backend \(backend) failed: \(error)")
      }
      for (id, t) in zip(graph.outputs, outputs) { print(summary(id, t)) }
      if let output {
        let doc = zip(graph.outputs, outputs).map { id, t in
          OutputRecord(id: id, dtype: t.dtype.rawValue, shape: t.shape, values: t.storage.map(jsonNumber))
        }
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        do { try enc.encode(doc).write(to: URL(fileURLWithPath: output), options: .atomic) } catch {
          throw ToolError("\(output): cannot write: \(error.localizedDescription)")
        }
      }
    }
  }
}

/// `--passes all|none|name,name` for the fast backend.
struct PassSelection: ParsableArguments {
  @Option(
    help:
      "Fast-backend passes: all, none, or a comma-separated list of \(Pass.names.joined(separator: ", ")).")
  var passes: String = "all"

  func validate() throws {
    if case .failure(let e) = Pass.parse(passes) { throw ValidationError(e.description) }
  }

  var selected: [Pass] {
    if case .success(let p) = Pass.parse(passes) { return p }
    return Pass.all
  }
}

struct OutputRecord: Codable {
  var id: Int
  var dtype: String
  var shape: [Int]
  var values: [String]
}

/// Text for a value that JSON numbers cannot hold (NaN, ±inf stay readable).
func jsonNumber(_ x: Double) -> String { x.isNaN ? "nan" : x.isInfinite ? (x < 0 ? "-inf" : "inf") : "\(x)" }

func summary(_ id: Int, _ t: Tensor) -> String {
  let finite = t.storage.filter(\.isFinite)
  let nan = t.storage.filter(\.isNaN).count
  let inf = t.storage.count - finite.count - nan
  let mean = finite.isEmpty ? 0 : finite.reduce(0, +) / Double(finite.count)
  let lo = finite.min().map(jsonNumber) ?? "-"
  let hi = finite.max().map(jsonNumber) ?? "-"
  return
    "%\(id): [\(t.shape.map(String.init).joined(separator: ", "))] \(t.dtype.rawValue) min \(lo) max \(hi) mean \(jsonNumber(mean)) nan \(nan) inf \(inf)"
}
