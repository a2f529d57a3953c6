import Backends
import Foundation
import IR
import Tensors

/// Replays corpus models and bucket instances: the regression suite.
public struct Replay {
  public struct Row: Sendable {
    public var path: String
    public var backend: String
    /// The bucket signature the instance was filed under (nil for corpus models).
    public var expected: String?
    /// The signature found now (nil: no finding).
    public var found: Signature?
    public var note: String
    /// The bucket's signature tuple: a replayed (unminimized, untriaged) instance still fails the
    /// same way when it reproduces it (`Signature.isReproduced(by:computedAs:)`).
    public var expectedTuple: Signature? = nil
    /// What the target computes each dtype in (its probed precision).
    public var computedAs: [DType: DType] = [:]

    /// fixed, still failing, new signature, ok, new finding, or skipped.
    public var status: String {
      if note.hasPrefix("skipped") { return "skipped" }
      switch (expected, found) {
      case (nil, nil): return "ok"
      case (nil, .some): return "new finding"
      case (.some, nil): return "fixed"
      case (.some(let e), .some(let f)):
        let sameMismatch =
          (f.kind == .mismatch || f.kind == .error)
          && expectedTuple?.isReproduced(by: f, computedAs: computedAs) == true
        return f.hash == e || sameMismatch ? "still failing" : "new signature"
      }
    }

    /// Whether a finding reproduces (exit 77).
    public var reproduces: Bool { found != nil && found?.kind != .unstable }
  }

  public var targets: [BackendTarget]
  public var limits = WorkerLimits()
  public var judge = Judge()
  public var logDirectory: String

  public init(targets: [BackendTarget], logDirectory: String) {
    self.targets = targets
    self.logDirectory = logDirectory
  }

  /// Model files and instance folders under `path` (a model file, an instance, a bucket, or a
  /// folder such as Corpus/ or Crashes/), in sorted order.
  public static func cases(under path: String) -> [String] {
    let fm = FileManager.default
    var isDir: ObjCBool = false
    guard fm.fileExists(atPath: path, isDirectory: &isDir) else { return [] }
    if !isDir.boolValue { return path.hasSuffix(".dlsmith.json") ? [path] : [] }
    if fm.fileExists(atPath: path + "/model.dlsmith.json") { return [path] }
    var out: [String] = []
    for entry in ((try? fm.contentsOfDirectory(atPath: path)) ?? []).sorted()
    where !entry.hasPrefix(".") && entry != "minimized" && entry != "bundle" {
      out += cases(under: path + "/" + entry)
    }
    return out
  }

  public func run(_ path: String) -> [Row] {
    let isInstance = FileManager.default.fileExists(atPath: path + "/model.dlsmith.json")
    let graph: Graph
    var inputs: [Tensor]
    var expected: String?
    var expectedTuple: Signature?
    var backendFilter: String?
    do {
      if isInstance {
        let instance = try Instance.read(path)
        (graph, inputs) = (instance.graph, instance.inputs)
      } else {
        graph = try Graph(contentsOf: path)
        inputs = graph.sampleInputs(seed: 0)
      }
    } catch {
      return [Row(path: path, backend: "-", expected: nil, found: nil, note: "skipped: \(error)")]
    }
    if isInstance, let bucket = Instance.bucket(of: path), let record = BucketRecord.read(bucket: bucket) {
      expected = record.signature
      expectedTuple = record.tuple
      backendFilter = record.tuple.backend
    }
    guard let values = try? ReferenceBackend().run(graph, inputs: inputs, keepAll: true).values else {
      return [
        Row(
          path: path, backend: "-", expected: expected, found: nil,
          note: "skipped: the reference cannot run it")
      ]
    }
    let model = graph.encoded()
    var rows: [Row] = []
    for var t in targets where backendFilter == nil || backendFilter == t.name {
      // An instance of a campaign is judged as it was found: with the precision the campaign probed.
      if isInstance, let bucket = Instance.bucket(of: path) {
        PrecisionProbe.applyStored(bucket: bucket, to: &t)
      }
      let worker = WorkerProcess(
        command: t.command, limits: limits, logPath: logDirectory + "/replay-\(t.name).log")
      let outcome = t.run(on: worker, graph: graph, model: model, inputs: inputs)
      worker.stop()
      let finding = judge.for(t).finding(outcome, target: t.name, graph: graph, values: values)
      rows.append(
        Row(
          path: path, backend: t.name, expected: expected, found: finding?.signature,
          note: finding?.message ?? "", expectedTuple: expectedTuple,
          computedAs: judge.for(t).oracle.computedAs))
    }
    if rows.isEmpty, let backendFilter {
      rows.append(
        Row(
          path: path, backend: backendFilter, expected: expected, found: nil,
          note: "skipped: backend \(backendFilter) not selected"))
    }
    return rows
  }
}
