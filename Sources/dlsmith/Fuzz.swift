import ArgumentParser
import Backends
import Foundation
import Fuzzing
import Generation
import Tensors

/// A duration like `90`, `30s`, `10m`, `2h`.
struct Duration: ExpressibleByArgument {
  let seconds: Double
  init?(argument: String) {
    let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600]
    if let last = argument.last, let unit = units[last], let v = Double(argument.dropLast()), v > 0 {
      seconds = v * unit
    } else if let v = Double(argument), v > 0 {
      seconds = v
    } else {
      return nil
    }
  }
}

/// The absolute path of this executable (workers are started from it).
func selfExecutable() -> String {
  (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
}

struct Fuzz: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run a fuzz campaign: generate models, run every backend in isolated workers, bucket findings.",
    discussion: """
      Findings go to DIR/Crashes/<sig16>/, novel models to DIR/Corpus/, campaign state (journal, stats) \
      to DIR/.dlsmith/. The seed is the first line printed; each finding prints a one-line replay command. \
      Exit 0 when the budget ends (findings are in Crashes/), 77 with --stop-on-first when a finding was \
      recorded, 1 on a tool error.
      """)

  @Option(name: .shortAndLong, help: "Campaign folder.") var output: String = "."
  @OptionGroup var selection: TargetSelection
  @OptionGroup var generation: GenerationOptions
  @Option(help: "Campaign seed (default: random); printed first.") var seed: UInt64?
  @Option(help: "Stop after this long: 90, 30s, 10m, 2h.") var maxTime: Duration?
  @Option(help: "Stop after this many models.") var maxModels: Int?
  @Option(name: .short, help: "Parallel jobs (each with its own workers).") var jobs: Int = 1
  @Flag(help: "Continue the campaign in the folder.") var resume = false
  @Flag(help: "Archive the campaign state in the folder (never deleted) and start over.") var fresh = false
  @Option(
    help: "This shard's index (0-based; default: $JOB_COMPLETION_INDEX or $SLURM_ARRAY_TASK_ID, else 0).")
  var shardIndex: Int?
  @Option(help: "Number of shards (default: $JOB_COMPLETIONS or $SLURM_ARRAY_TASK_COUNT, else 1).")
  var totalShards: Int?
  @Flag(help: "Stop at the first finding (exit 77).") var stopOnFirst = false
  @Flag(help: "Also save unstable differences (near-ties at discontinuities) as buckets.") var saveUnstable =
    false
  @Option(help: "Compile-stage timeout per model, seconds.") var compileTimeout: Double = 30
  @Option(help: "Execute-stage timeout per model, seconds.") var execTimeout: Double = 20
  @Option(help: "Worker resident-memory limit, MiB (0: none).") var rssLimitMb: Int = 4096
  @Option(help: "Recycle a worker after this many models.") var workerMaxModels: Int = 500
  @Option(help: .hidden) var failpoint: String?
  @Option(
    help:
      "A target whose outputs are the expected values instead of the reference (e.g. ort-noopt, for models with ONNX operators learned from onnxruntime: --method hybrid --rules-target ort)."
  ) var oracle: String?
  @Flag(
    help:
      "Also run each target on one equivalent form of every model (semantics-preserving rewrites) and record where it disagrees with itself (Docs/Equivalence.md)."
  ) var equivalence = false
  @Flag(
    help:
      "Do not ask independent implementations (onnx-ref, ort-noopt) about findings of external targets; buckets stay unconfirmed."
  ) var noConsensus = false

  func validate() throws {
    guard jobs >= 1 && jobs <= 64 else { throw ValidationError("-j must be in 1...64") }
    do {
      _ = try shard
    } catch let e as Shard.Invalid {
      throw ValidationError(e.description)
    }
    guard !(resume && fresh) else { throw ValidationError("--resume and --fresh exclude each other") }
    if let m = maxModels, m < 1 { throw ValidationError("--max-models must be at least 1") }
    guard compileTimeout > 0, execTimeout > 0 else { throw ValidationError("timeouts must be positive") }
    guard !selection.targets.isEmpty else {
      throw ValidationError("--backends needs at least one backend besides the reference")
    }
    if let oracle, !selection.targets.contains(where: { $0.name == oracle }) {
      throw ValidationError("--oracle \(oracle) must be one of the --backends")
    }
    if generation.method != "spec", !["reference", "fast"].contains(generation.rulesTarget), oracle == nil {
      throw ValidationError(
        "models with operators learned from \(generation.rulesTarget) have no reference kernel: add --oracle")
    }
  }

  var shard: Shard {
    get throws {
      try Shard.resolve(
        index: shardIndex, total: totalShards, environment: ProcessInfo.processInfo.environment)
    }
  }

  func run() throws {
    let shard = try shard
    // --resume without --seed continues with the seed the shard was started with.
    let campaignSeed =
      seed ?? (resume ? Campaign.storedSeed(directory: output, shard: shard.index) : nil)
      ?? UInt64.random(in: 0...UInt64(UInt32.max))
    FileHandle.standardOutput.write(Data("seed: \(campaignSeed)\n".utf8))
    let python = selection.interpreter(near: [output])
    var config = CampaignConfig(
      directory: output, seed: campaignSeed, targets: selection.targets(near: [output]))
    config.generator = try generation.generatorOptions(backends: selection.targets.map(\.name))
    config.generator.edgeRate = generation.edgeValues ?? 0.2
    config.maxModels = maxModels
    config.maxTime = maxTime?.seconds
    if maxModels == nil && maxTime == nil { config.maxTime = nil }
    config.jobs = jobs
    config.shardIndex = shard.index
    config.totalShards = shard.total
    if shard.total > 1 { log(shard.description) }
    config.resume = resume
    config.fresh = fresh
    config.stopOnFirst = stopOnFirst
    config.saveUnstable = saveUnstable
    config.limits.compileTimeout = compileTimeout
    config.limits.executeTimeout = execTimeout
    config.limits.rssLimitMB = rssLimitMb
    config.limits.maxModels = workerMaxModels
    config.failpoint = failpoint
    config.oracleTarget = oracle
    config.equivalence = equivalence
    config.commandLine = CommandLine.arguments
    if !noConsensus {
      for t in selection.targets {
        config.consensus[t.name] = consensusTargets(
          of: t.name, passes: selection.passes.passes, python: python)
      }
    }
    let campaign = Campaign(config)
    signal(SIGINT, SIG_IGN)
    signal(SIGTERM, SIG_IGN)
    let sources = [SIGINT, SIGTERM].map { s -> any DispatchSourceSignal in
      let src = DispatchSource.makeSignalSource(signal: s, queue: .global())
      src.setEventHandler {
        log("stopping: finishing the models in flight")
        campaign.requestStop()
      }
      src.resume()
      return src
    }
    defer { for s in sources { s.cancel() } }
    let result: (stats: CampaignStats, found: Bool)
    do {
      result = try campaign.run()
    } catch let e as CampaignError {
      log("error: \(e.description)")
      throw ExitCode(1)
    }
    let s = result.stats
    let execs = s.totalExecs
    FileHandle.standardOutput.write(
      Data(
        (String(
          format:
            "done: %d models (%.1f/s, %d valid), %d execs (%.1f/s), %d findings in %d new bucket(s), %d corpus models added, peak RSS %d MiB",
          s.modelsGenerated, Double(s.modelsGenerated) / max(s.runTime, 1e-9), s.modelsValid, execs,
          Double(execs) / max(s.runTime, 1e-9),
          s.findings.values.reduce(0, +), s.newBuckets, s.corpusAdded, s.peakRSSMB) + "\n").utf8))
    if stopOnFirst && result.found { throw ExitCode(77) }
  }
}

struct Worker: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Serve one backend over the worker protocol on stdin/stdout (started by fuzz and replay).",
    shouldDisplay: false)

  @Option(help: "Backend to serve.") var backend: String
  @OptionGroup var passes: PassSelection

  func validate() throws {
    guard builtInBackends.contains(backend) else {
      throw ValidationError(
        "dlsmith worker serves \(builtInBackends.joined(separator: ", ")); '\(backend)' is served by python/dlsmith_worker.py"
      )
    }
  }

  func run() throws {
    WorkerServer.serve(makeBackend(backend, passes: passes.selected))
  }
}
