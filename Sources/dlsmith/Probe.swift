import ArgumentParser
import Foundation
import Fuzzing
import Generation
import Operators
import Tensors

struct Probe: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Probe which operator × dtype × rank combinations a backend implements.",
    discussion: """
      Each combination gets a few seeded single-operator models (plus, for every operator and dtype \
      that ran, the operator after and before a relu/add/logical_not) and is classified as \
      supported (ran, agreeing or not), unsupported (with the backend's reason) or failing. Results \
      are cached per backend version in DIR/.dlsmith/probe/<backend>-<version>.json and reused \
      (only missing combinations are probed) unless --refresh. A backend whose package is missing \
      prints "unavailable: reason" and exits 0.
      """)

  @Option(help: "Backend to probe (\(backendNames.joined(separator: ", "))).") var backend: String
  @Option(name: .shortAndLong, help: "Folder holding the .dlsmith/probe cache.") var output: String = "."
  @Flag(help: "Probe again even if the cache holds results for this backend version.") var refresh = false
  @Flag(help: "Print the report as JSON instead of a table.") var json = false
  @Option(help: "Single-operator models per (operator, dtype, rank).") var samples: Int = 3
  @Option(help: "Comma-separated operators to probe (default: the whole catalogue).") var ops: String?
  @Option(help: "Comma-separated dtypes to probe (default: f16,bf16,f32,f64,i32,i64,bool).") var dtypes:
    String?
  @Option(help: "Largest probed rank.") var maxRank: Int = 4
  @Flag(help: "Skip the 2-node context models.") var noContexts = false
  @Flag(
    help:
      "Probe only the precision each float dtype is computed in (campaigns judge such dtypes at that precision)."
  ) var precision = false
  @Option(
    help:
      "Python interpreter (default: $DLSMITH_PYTHON, else a .venv in or above the current folder or dlsmith's checkout, else python3)."
  ) var python: String = pythonInterpreter()

  func validate() throws {
    guard backendNames.contains(backend) else {
      throw ValidationError(
        "unknown backend '\(backend)' (available: \(backendNames.joined(separator: ", ")))")
    }
    guard samples >= 1 else { throw ValidationError("--samples must be at least 1") }
    guard (0...6).contains(maxRank) else { throw ValidationError("--max-rank must be in 0...6") }
    if case .failure(let e) = GeneratorOptions.selectOperators(include: splitList(ops), exclude: []) {
      throw ValidationError(e.description)
    }
    for d in splitList(dtypes) where DType(rawValue: d).map({ DType.generated.contains($0) }) != true {
      throw ValidationError("unknown dtype '\(d)' (available: f16, bf16, f32, f64, i32, i64, bool)")
    }
  }

  func run() throws {
    try reportingErrors {
      let version: String
      switch ProbeVersion.detect(backend: backend, python: python) {
      case .success(let v): version = v
      case .failure(let u):
        print(u.description)
        return
      }
      var options = ProbeOptions()
      if case .success(let specs) = GeneratorOptions.selectOperators(include: splitList(ops), exclude: []) {
        options.operators = specs
      }
      if dtypes != nil { options.dtypes = splitList(dtypes).compactMap(DType.init(rawValue:)) }
      options.samples = samples
      options.maxRank = maxRank
      options.contexts = !noContexts
      options.refresh = refresh
      let target: BackendTarget =
        BackendTarget.pythonBackends.contains(backend)
        ? .pythonTarget(backend, python: python, script: pythonWorkerScript())
        : workerTarget(backend, passes: "all")
      if precision {
        // Precision capabilities only: what each float dtype is really computed in.
        let worker = WorkerProcess(
          command: target.command, limits: WorkerLimits(),
          logPath: FileManager.default.temporaryDirectory.path + "/dlsmith-probe-precision-\(backend).log")
        defer { worker.stop() }
        let found = PrecisionProbe().run(target, worker: worker)
        for d in PrecisionProbe().dtypes {
          let cs = found.filter { $0.dtype == d }.map(\.description)
          print(
            "\(backend) \(version) \(d.rawValue): \(cs.isEmpty ? "rounded per operator in \(d.rawValue)" : cs.joined(separator: "; "))"
          )
        }
        return
      }
      let prober = Prober(
        target: target, version: version, options: options,
        logPath: FileManager.default.temporaryDirectory.path + "/dlsmith-probe-\(backend).log")
      log("probing \(backend) \(version)")
      var lastShown = -1
      let run: ProbeRun
      do {
        run = try prober.run(directory: output) { done, total in
          let step = Swift.max(1, total / 10)
          if done / step != lastShown, done < total {
            lastShown = done / step
            log("probe: \(done)/\(total) combinations")
          }
        }
      } catch let u as ProbeUnavailable {
        print(u.description)
        return
      } catch {
        throw ToolError("cannot write the probe cache: \(error)")
      }
      if json {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: try encoder.encode(run.report), as: UTF8.self))
      } else {
        printTable(run.report, options: options)
      }
      let source =
        run.probed == 0 && run.targetRuns == 0
        ? "from the cache \(run.cachePath)"
        : "probed \(run.probed), cached \(run.cached); \(run.targetRuns) models, \(run.workerStarts) worker start(s) in \(String(format: "%.1f", run.seconds)) s; cache \(run.cachePath)"
      log("probe: \(source)")
    }
  }

  /// One line per (operator, dtype): supported ranks, unsupported/failing ranks with the reason,
  /// notes (mismatches, failures next to supported runs, contexts); then the summary.
  func printTable(_ report: ProbeReport, options: ProbeOptions) {
    let wanted = Set(options.operators.map(\.id))
    let dts = Set(options.dtypes)
    let rows = report.results.filter {
      wanted.contains($0.op) && dts.contains($0.dtype) && $0.rank <= options.maxRank
    }
    func ranks(_ rs: [ProbeResult]) -> String {
      rs.isEmpty ? "-" : rs.map { String($0.rank) }.joined(separator: ",")
    }
    func short(_ s: String, _ n: Int = 110) -> String {
      var one = s.replacingOccurrences(of: "\n", with: " ")
      // onnxruntime's missing-kernel message, condensed: "NOT_IMPLEMENTED: no kernel for Erf(13)".
      one = one.replacingOccurrences(
        of: #"\[ONNXRuntimeError\] : \d+ : ([A-Z_]+) : "#, with: "$1: ", options: .regularExpression)
      one = one.replacingOccurrences(of: "Could not find an implementation for ", with: "no kernel for ")
      one = one.replacingOccurrences(of: #" node with name '[^']*'"#, with: "", options: .regularExpression)
      return one.count <= n ? one : String(one.prefix(n - 1)) + "…"
    }
    print(
      "backend: \(report.backend) \(report.version) (dlsmith \(report.toolVersion), \(report.samples) model(s) per combination)"
    )
    let header = [
      "op".padding(toLength: 18, withPad: " ", startingAt: 0),
      "dtype".padding(toLength: 6, withPad: " ", startingAt: 0),
      "supported".padding(toLength: 10, withPad: " ", startingAt: 0), "not supported / notes",
    ]
    print(header.joined(separator: " "))
    var pairs: [(String, DType)] = []
    var seen = Set<String>()
    for r in rows where !seen.contains("\(r.op)|\(r.dtype)") {
      seen.insert("\(r.op)|\(r.dtype)")
      pairs.append((r.op, r.dtype))
    }
    var counts: [ProbeStatus: Int] = [:]
    var contextCounts: [ProbeStatus: Int] = [:]
    for (op, d) in pairs {
      let single = rows.filter { $0.op == op && $0.dtype == d && $0.context == nil }
      let contexts = rows.filter { $0.op == op && $0.dtype == d && $0.context != nil }
      for r in single { counts[r.status, default: 0] += 1 }
      for r in contexts { contextCounts[r.status, default: 0] += 1 }
      var notes: [String] = []
      for status in [ProbeStatus.unsupported, .failing, .skipped] {
        let rs = single.filter { $0.status == status }
        guard !rs.isEmpty else { continue }
        // Group ranks by reason.
        var byReason: [(String, [ProbeResult])] = []
        for r in rs {
          let why = r.reason ?? ""
          if let i = byReason.firstIndex(where: { $0.0 == why }) {
            byReason[i].1.append(r)
          } else {
            byReason.append((why, [r]))
          }
        }
        for (why, group) in byReason {
          notes.append("\(status.rawValue) rank \(ranks(group)): \(short(why))")
        }
      }
      let mism = single.reduce(0) { $0 + $1.mismatches }
      if mism > 0, let m = single.compactMap(\.mismatch).first {
        notes.append("\(mism) mismatch(es): \(short(m, 80))")
      }
      let fails = single.filter { $0.status == .supported && $0.failures > 0 }
      if let f = fails.first {
        notes.append("also failing at rank \(ranks(fails)): \(short(f.failure ?? "", 80))")
      }
      for c in contexts where c.status != .supported || c.mismatches > 0 {
        let what =
          c.status == .supported
          ? "mismatch: \(short(c.mismatch ?? "", 80))" : "\(c.status.rawValue): \(short(c.reason ?? "", 80))"
        notes.append("\(c.context ?? "context") \(what)")
      }
      let supported = single.filter { $0.status == .supported }
      let cols = [
        op.padding(toLength: 18, withPad: " ", startingAt: 0),
        d.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0),
        ranks(supported).padding(toLength: 10, withPad: " ", startingAt: 0),
      ]
      let line = cols.joined(separator: " ") + (notes.isEmpty ? "" : " " + notes.joined(separator: "; "))
      print(line.trimmingCharacters(in: .whitespaces))
    }
    let total = counts.values.reduce(0, +)
    let ctxTotal = contextCounts.values.reduce(0, +)
    print(
      "\(counts[.supported] ?? 0) supported of \(total) probed (operator, dtype, rank) combinations: "
        + "\(counts[.unsupported] ?? 0) unsupported, \(counts[.failing] ?? 0) failing, \(counts[.skipped] ?? 0) skipped; "
        + "contexts: \(contextCounts[.supported] ?? 0) of \(ctxTotal) ran")
  }
}
