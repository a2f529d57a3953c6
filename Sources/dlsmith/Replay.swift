import ArgumentParser
import Foundation
import Fuzzing

/// Backend selection shared by commands that run workers.
struct TargetSelection: ParsableArguments {
  @Option(help: "Comma-separated backends; the reference is always the baseline.") var backends: String =
    "reference,fast"
  @Option(
    help: "Extra backend served by any program speaking the worker protocol: NAME=COMMAND (repeatable).")
  var worker: [String] = []
  @OptionGroup var passes: PassSelection
  @Option(
    help:
      "Python interpreter for the Python targets (default: $DLSMITH_PYTHON, else .venv/bin/python3 in or above the campaign folder, the current folder or dlsmith's checkout, else python3)."
  ) var python: String?

  func validate() throws {
    for w in worker where !w.contains("=") {
      throw ValidationError("--worker takes NAME=COMMAND, got '\(w)'")
    }
    let known = backendNames + worker.compactMap { $0.split(separator: "=").first.map(String.init) }
    for b in splitList(backends) where !known.contains(b) {
      throw ValidationError("unknown backend '\(b)' (available: \(known.joined(separator: ", ")))")
    }
  }

  var targets: [BackendTarget] { targets() }

  /// The interpreter for Python targets, also looking for a `.venv` near `places`.
  func interpreter(near places: [String] = []) -> String { pythonInterpreter(flag: python, near: places) }

  func targets(near places: [String] = []) -> [BackendTarget] {
    let python = interpreter(near: places)
    let extra = Dictionary(
      worker.map { w -> (String, [String]) in
        let parts = w.split(separator: "=", maxSplits: 1)
        return (String(parts[0]), parts[1].split(separator: " ").map(String.init))
      }, uniquingKeysWith: { a, _ in a })
    return splitList(backends).filter { $0 != "reference" }.map {
      workerTarget($0, passes: passes.passes, extra: extra, python: python)
    }
  }
}

struct Replay: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run corpus models and bucket instances again: fixed, still failing or new signature.",
    discussion: "Exit 77 if any finding reproduces, 0 otherwise.")

  @Argument(help: "Model files, instance folders, buckets, or folders such as Corpus/ and Crashes/.")
  var paths: [String]
  @OptionGroup var selection: TargetSelection

  func run() throws {
    let replay = Fuzzing.Replay(
      targets: selection.targets, logDirectory: FileManager.default.temporaryDirectory.path)
    var reproduced = false
    var cases: [String] = []
    for p in paths {
      let found = Fuzzing.Replay.cases(under: p)
      if found.isEmpty { log("warning: \(p): no model files or instances found") }
      cases += found
    }
    var counts: [String: Int] = [:]
    for c in cases {
      for row in replay.run(c) {
        counts[row.status, default: 0] += 1
        if row.reproduces { reproduced = true }
        let detail = row.found.map { $0.title } ?? row.note
        print(
          "\(row.status.padding(toLength: 14, withPad: " ", startingAt: 0)) \(row.backend.padding(toLength: 10, withPad: " ", startingAt: 0)) \(row.path)\(detail.isEmpty ? "" : "  — \(detail)")"
        )
      }
    }
    log(
      "replayed \(cases.count) case(s): "
        + counts.keys.sorted().map { "\($0) \(counts[$0]!)" }.joined(separator: ", "))
    if reproduced { throw ExitCode(77) }
  }
}
