import ArgumentParser
import Foundation
import IR
import ONNX

struct Export: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Write a model as ONNX (opset \(ONNXExport.opset)).",
    discussion:
      "Exported models pass onnx.checker.check_model(full_check=True). Docs/ONNX.md lists the mapping and its documented differences."
  )

  @Argument(help: "Model file (.dlsmith.json).") var model: String
  @Option(name: .shortAndLong, help: "Output .onnx file.") var output: String

  func run() throws {
    try reportingErrors {
      let graph = try loadModel(model)
      let bytes: Data
      do { bytes = try ONNXExport.bytes(graph) } catch {
        throw ToolError("\(model): cannot export: \(error)")
      }
      do { try bytes.write(to: URL(fileURLWithPath: output), options: .atomic) } catch {
        throw ToolError("\(output): cannot write: \(error.localizedDescription)")
      }
      log("wrote \(output) (\(bytes.count) bytes, opset \(ONNXExport.opset))")
    }
  }
}

struct Import: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract:
      "Read an ONNX model into a .dlsmith.json model (the supported subset), e.g. to seed a campaign's Corpus/.",
    discussion: "An unsupported model gets an error listing every unsupported operator and other problems.")

  @Argument(help: "ONNX model file.") var model: String
  @Option(name: .shortAndLong, help: "Output .dlsmith.json file; default: stdout.") var output: String?

  func run() throws {
    try reportingErrors {
      let graph: Graph
      do { graph = try ONNXImport.graph(contentsOf: model) } catch { throw ToolError("\(model): \(error)") }
      if let output {
        do { try graph.write(to: output) } catch {
          throw ToolError("\(output): cannot write: \(error.localizedDescription)")
        }
        log("wrote \(output): \(graph.nodes.count) nodes")
      } else {
        FileHandle.standardOutput.write(graph.encoded())
      }
    }
  }
}
