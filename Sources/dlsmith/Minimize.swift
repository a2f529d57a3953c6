import ArgumentParser
import Backends
import Foundation
import Fuzzing
import IR
import Tensors

struct Minimize: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Minimize a finding while keeping its signature.",
    discussion: """
      PATH is a bucket (Crashes/<sig16>: its first instance), an instance folder, or a model file (then \
      the first finding of --backends on it is minimized). It runs the campaign's triage: localize the \
      failing node, minimize, sign the cause, and ask independent implementations (onnx-ref, the \
      target's lowest optimization level) whether the target or DLSmith is wrong. The result goes to \
      <bucket>/minimized/ (or -o); a checkpoint after every accepted step makes an interrupted run \
      resumable. Exit 77 when the minimized finding reproduces, 0 when nothing reproduces or triage \
      finds no bug (ill-conditioned, amplified rounding), 1 on a tool error.
      """)

  @Argument(help: "Bucket, instance folder or model file.") var path: String
  @OptionGroup var selection: TargetSelection
  @Option(name: .shortAndLong, help: "Output folder (default: <bucket>/minimized or <model>.minimized).")
  var output: String?
  @Option(help: "Most predicate calls.") var maxSteps: Int = 500
  @Flag(help: "Skip the independent implementations (onnx-ref, the target's lowest optimization level).")
  var noConsensus = false

  func run() throws {
    let fm = FileManager.default
    var instance = path
    var bucket: String?
    if fm.fileExists(atPath: path + "/bucket.json") {
      bucket = path
      // The first instance (the campaign's triaged model is already in minimized/).
      let first = ((try? fm.contentsOfDirectory(atPath: path + "/instances")) ?? []).sorted().first
      guard let first else { throw ToolError("\(path): bucket has no instances") }
      instance = path + "/instances/" + first
    } else if fm.fileExists(atPath: path + "/model.dlsmith.json") {
      bucket = Instance.bucket(of: path)
    }
    let isModelFile = !fm.fileExists(atPath: instance + "/model.dlsmith.json")
    let modelPath = isModelFile ? instance : instance + "/model.dlsmith.json"
    let outDir = output ?? (bucket.map { $0 + "/minimized" } ?? (modelPath + ".minimized"))
    let checkpoint = outDir + "/minimize-state"
    var graph: Graph
    var inputs: [Tensor]
    do {
      // Resume from the checkpoint if one exists.
      if fm.fileExists(atPath: checkpoint + "/model.dlsmith.json") {
        graph = try Graph(contentsOf: checkpoint + "/model.dlsmith.json")
        inputs = try readTensors(checkpoint + "/inputs.json")
        log("resuming from \(checkpoint)")
      } else {
        graph = try Graph(contentsOf: modelPath)
        inputs = isModelFile ? graph.sampleInputs(seed: 0) : try readTensors(instance + "/inputs.json")
      }
    } catch let e as IRError {
      throw ToolError(e.description)
    }
    var targets = selection.targets
    if let bucket, let backend = BucketRecord.read(bucket: bucket)?.tuple.backend {
      // The bucket names its backend: the selection's definition of it (--worker) if any, else the
      // built-in or Python target of that name.
      targets = [
        targets.first { $0.name == backend }
          ?? workerTarget(backend, passes: selection.passes.passes, python: selection.interpreter())
      ]
    }
    if let bucket {
      // Judged as the campaign judged it: with the precision it probed.
      for k in targets.indices { PrecisionProbe.applyStored(bucket: bucket, to: &targets[k]) }
    }
    // The finding to triage: the first one on the current model.
    var chosen: (BackendTarget, Finding)?
    for t in targets {
      let reducer = Reducer(
        target: t, logPath: fm.temporaryDirectory.path + "/dlsmith-minimize-\(t.name).log")
      let worker = WorkerProcess(command: t.command, limits: reducer.limits, logPath: reducer.logPath)
      let f = reducer.finding(graph, inputs, worker: worker)
      worker.stop()
      if let f, f.signature.kind != .unstable {
        chosen = (t, f)
        break
      }
    }
    guard let (target, finding) = chosen else {
      print("no finding reproduces on \(targets.map(\.name).joined(separator: ", ")): nothing to minimize")
      return
    }
    log("keeping: \(finding.signature.title)")
    try fm.createDirectory(atPath: checkpoint, withIntermediateDirectories: true)
    let before = graph.nodes.count
    // The campaign's triage pipeline: localize (the failing node alone; where the values first go
    // wrong; the cause test), minimize, sign by cause, ask the independent implementations.
    var triage = Triage(
      target: target, judge: Judge(),
      logPath: fm.temporaryDirectory.path + "/dlsmith-minimize-\(target.name).log")
    triage.maxSteps = maxSteps
    if !noConsensus {
      triage.consensus = consensusTargets(
        of: target.name, passes: selection.passes.passes, python: selection.interpreter())
    }
    triage.progress = { g, i, steps in
      try? Workdir.replaceFile(g.encoded(), at: checkpoint + "/model.dlsmith.json")
      try? Workdir.replaceFile(encodeTensors(i), at: checkpoint + "/inputs.json")
      log("step \(steps): \(g.nodes.count) node(s)")
    }
    let result = triage.run(finding, graph: graph, inputs: inputs)
    log("triage: \(result.evidence.summary)")
    try? fm.removeItem(atPath: checkpoint)
    let final = result.finding
    guard final.signature.kind != .unstable else {
      print("not a finding: \(final.message) (\(result.evidence.summary))")
      return
    }
    let (g, x) = result.minimized.map { ($0.graph, $0.inputs) } ?? (graph, inputs)
    try Workdir.replaceFile(g.encoded(), at: outDir + "/model.dlsmith.json")
    try Workdir.replaceFile(encodeTensors(x), at: outDir + "/inputs.json")
    let meta: [String: String] = [
      "backend": target.name, "kept": finding.signature.title, "signature": final.signature.hash,
      "final": final.signature.title, "nodes_before": "\(before)", "nodes_after": "\(g.nodes.count)",
      "steps": "\(result.evidence.steps)", "replay": "dlsmith replay \(outDir) --backends \(target.name)",
      "triage": result.evidence.summary, "verdict": result.evidence.verdict.rawValue,
    ]
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
    try Workdir.replaceFile(try enc.encode(meta), at: outDir + "/meta.json")
    print(
      "minimized \(before) -> \(g.nodes.count) node(s) in \(String(format: "%.1f", result.evidence.seconds)) s: \(final.signature.title)"
    )
    print("triage: \(result.evidence.summary)")
    print(g.text, terminator: "")
    print("written to \(outDir)")
    throw ExitCode(77)
  }
}

func readTensors(_ path: String) throws -> [Tensor] {
  guard let data = FileManager.default.contents(atPath: path),
    let encoded = try? JSONDecoder().decode([EncodedTensor].self, from: data)
  else { throw ToolError("\(path): cannot read tensors") }
  let tensors = encoded.compactMap(\.tensor)
  guard tensors.count == encoded.count else { throw ToolError("\(path): malformed tensor") }
  return tensors
}

func encodeTensors(_ ts: [Tensor]) -> Data {
  let enc = JSONEncoder()
  enc.outputFormatting = [.sortedKeys]
  return (try? enc.encode(ts.map(EncodedTensor.init))) ?? Data()
}
