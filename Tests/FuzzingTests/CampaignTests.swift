import Backends
import Foundation
import Fuzzing
import Generation
import IR
import Operators
import Tensors
import TestSupport
import Testing

/// Reliability of campaigns against a misbehaving target (`dlsmith-faulty-worker`, built only for
/// tests) and against `kill -9` of the campaign itself.
@Suite(.serialized) struct CampaignTests {
  static var faulty: String { builtExecutable("dlsmith-faulty-worker").path }

  func config(_ dir: URL, mode: String, on op: String? = nil, models: Int) -> CampaignConfig {
    // The tag names this test's workers: other suites run faulty workers at the same time.
    var command = [Self.faulty, "--mode", mode, "--tag", dir.lastPathComponent]
    if let op { command += ["--on", op] }
    var c = CampaignConfig(
      directory: dir.path, seed: 11, targets: [BackendTarget(name: "faulty", command: command)])
    c.maxModels = models
    c.generator.nodes = 5
    // Short timeouts only where a hang is the point; elsewhere a loaded CI machine must not turn a
    // slow worker start into a hang.
    c.limits.compileTimeout = mode == "hang" ? 0.5 : 10
    c.limits.executeTimeout = mode == "hang" ? 0.5 : 10
    c.limits.rssLimitMB = 300
    c.limits.killGrace = 0.2
    c.log = { _ in }
    return c
  }

  /// Bucket folders and their instance names.
  static func findings(_ dir: URL) -> [String: [String]] {
    let fm = FileManager.default
    let crashes = dir.appendingPathComponent("Crashes").path
    var out: [String: [String]] = [:]
    for b in (try? fm.contentsOfDirectory(atPath: crashes)) ?? [] {
      out[b] = ((try? fm.contentsOfDirectory(atPath: "\(crashes)/\(b)/instances")) ?? []).sorted()
    }
    return out
  }

  static func bucketKinds(_ dir: URL) -> [String] {
    let crashes = dir.appendingPathComponent("Crashes").path
    return ((try? FileManager.default.contentsOfDirectory(atPath: crashes)) ?? []).compactMap { b in
      guard let data = FileManager.default.contents(atPath: "\(crashes)/\(b)/bucket.json"),
        let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
      else { return nil }
      return (o["tuple"] as? [String: Any])?["kind"] as? String
    }.sorted()
  }

  /// Live (non-zombie) processes running the faulty worker with `--tag tag`. Suites run in
  /// parallel, and other suites' workers are alive while these tests look for orphans.
  static func liveFaultyWorkers(tag: String) -> [Int32] {
    var pids: [Int32] = []
    for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
      guard let pid = Int32(entry),
        let cmd = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
        case let argv = String(decoding: cmd, as: UTF8.self).split(separator: "\0").map(String.init),
        argv.first?.hasSuffix("dlsmith-faulty-worker") == true,
        zip(argv, argv.dropFirst()).contains(where: { $0 == "--tag" && $1 == tag }),
        let status = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        !status.contains(") Z ")
      else { continue }
      pids.append(pid)
    }
    return pids
  }
}

/// The faulty worker as a triage target for hand-built models: its judge, a worker and its log.
struct FaultyTriage {
  let target: BackendTarget
  let judge: Judge
  let worker: WorkerProcess
  let log = temporaryDirectory().appendingPathComponent("faulty.log").path

  init(_ arguments: [String], computedAs: [DType: DType] = [:]) {
    target = BackendTarget(
      name: "faulty", command: [CampaignTests.faulty] + arguments, computedAs: computedAs)
    judge = Judge().for(target)
    worker = WorkerProcess(command: target.command, limits: WorkerLimits(), logPath: log)
  }

  func stop() { worker.stop() }

  /// Runs `graph` on the worker; its finding, triaged (on that worker when `onWorker`, else on
  /// triage's own), or nil when the target is right.
  func triage(_ graph: Graph, inputs: [Tensor], onWorker: Bool = false) throws -> Triage.Result? {
    let values = try ReferenceBackend().run(graph, inputs: inputs, keepAll: true).values
    let outcome = target.run(on: worker, graph: graph, model: graph.encoded(), inputs: inputs)
    guard let f = judge.finding(outcome, target: target.name, graph: graph, values: values) else {
      return nil
    }
    var triage = Triage(target: target, judge: judge, logPath: log)
    if onWorker { triage.worker = worker }
    return triage.run(f, graph: graph, inputs: inputs)
  }
}

extension CampaignTests {
  @Test(arguments: [
    ("crash", "crash"), ("abort", "crash"), ("exit", "exit"), ("error", "error"), ("wrong", "mismatch"),
    ("hang", "hang"), ("oom", "oom"),
  ])
  func everyFailureKindIsRecordedAndTheCampaignGoesOn(_ mode: String, _ kind: String) throws {
    let dir = temporaryDirectory()
    let models = (mode == "hang" || mode == "oom") ? 2 : 4
    let (stats, found) = try Campaign(config(dir, mode: mode, models: models)).run()
    #expect(found)
    #expect(stats.modelsGenerated == models, "the campaign went on after each failure")
    #expect(
      Self.bucketKinds(dir).allSatisfy { $0 == kind } && !Self.bucketKinds(dir).isEmpty,
      "\(Self.bucketKinds(dir))")
    let instances = Self.findings(dir).values.flatMap { $0 }
    // A wrong answer next to a near-tie is judged unstable, not a bug; every other fault is recorded.
    if mode == "wrong" {
      #expect(instances.count >= models - 1)
    } else {
      #expect(instances.count == models, "one instance per model")
    }
    #expect(Self.liveFaultyWorkers(tag: dir.lastPathComponent).isEmpty, "no orphan workers")
    // Every instance is complete.
    for (b, names) in Self.findings(dir) {
      for n in names {
        let base = dir.appendingPathComponent("Crashes/\(b)/instances/\(n)").path
        for f in ["model.dlsmith.json", "inputs.json", "expected.json", "log.txt", "meta.json"] {
          #expect(FileManager.default.fileExists(atPath: "\(base)/\(f)"), "\(n)/\(f)")
        }
      }
    }
  }

  @Test func flakyOutputIsNotSavedAsABug() throws {
    let dir = temporaryDirectory()
    let (stats, _) = try Campaign(config(dir, mode: "flaky", models: 6)).run()
    #expect(Self.findings(dir).isEmpty)
    #expect(stats.flaky >= 1)
  }

  @Test func healthyTargetsFindNothingAndFillTheCorpus() throws {
    let dir = temporaryDirectory()
    let (stats, found) = try Campaign(config(dir, mode: "none", models: 8)).run()
    #expect(!found)
    #expect(Self.findings(dir).isEmpty)
    #expect(stats.corpusAdded >= 1)
    #expect(stats.execs["faulty"] == 8)
  }

  @Test func campaignModelsEqualGenerateForThePrintedSeed() throws {
    let dir = temporaryDirectory()
    _ = try Campaign(config(dir, mode: "crash", on: nil, models: 3)).run()
    var generator = Generator(options: config(dir, mode: "crash", models: 1).generator)
    for (b, names) in Self.findings(dir) {
      for n in names {
        let base = dir.appendingPathComponent("Crashes/\(b)/instances/\(n)")
        let meta = try JSONDecoder().decode(
          InstanceMeta.self, from: Data(contentsOf: base.appendingPathComponent("meta.json")))
        let seed = try #require(UInt64(meta.seed))
        let model = try Data(contentsOf: base.appendingPathComponent("model.dlsmith.json"))
        #expect(generator.generate(seed: seed).encoded() == model)
      }
    }
  }

  @Test func refusesToClobberAndArchivesOnFresh() throws {
    let dir = temporaryDirectory()
    _ = try Campaign(config(dir, mode: "crash", models: 2)).run()
    #expect(throws: CampaignError.self) { try Campaign(config(dir, mode: "crash", models: 2)).run() }
    var fresh = config(dir, mode: "crash", models: 2)
    fresh.fresh = true
    _ = try Campaign(fresh).run()
    let archive = dir.appendingPathComponent(".dlsmith/archive").path
    #expect(((try? FileManager.default.contentsOfDirectory(atPath: archive)) ?? []).count == 1)
    #expect(!Self.findings(dir).isEmpty, "findings are never deleted")
  }

  @Test func aSecondCampaignOnTheSameFolderFailsFast() throws {
    let dir = temporaryDirectory()
    let shard = dir.appendingPathComponent(".dlsmith/shard-0")
    try FileManager.default.createDirectory(at: shard, withIntermediateDirectories: true)
    let held = try Workdir.lock(shard.appendingPathComponent("lock").path)
    defer { close(held) }
    let r = try runDLSmith(["fuzz", "-o", dir.path, "--max-models", "1", "--seed", "1"])
    #expect(r.status == 1)
    #expect(r.stderr.contains("another campaign is running"))
  }

  /// --resume continues with the shard's own seed: without --seed it is taken from the folder, and
  /// another seed is refused (it would repeat or skip models).
  @Test func resumeKeepsTheCampaignsSeed() throws {
    let dir = temporaryDirectory()
    func fuzz(_ extra: [String]) throws -> (status: Int32, out: String, err: String) {
      let r = try runDLSmith(["fuzz", "-o", dir.path, "--max-models", "2", "--nodes", "4"] + extra)
      return (r.status, String(decoding: r.stdout, as: UTF8.self), r.stderr)
    }
    #expect(try fuzz(["--seed", "41"]).status == 0)
    let again = try fuzz(["--resume"])
    #expect(again.status == 0)
    #expect(again.out.hasPrefix("seed: 41\n"), "\(again.out)")
    let other = try fuzz(["--resume", "--seed", "42"])
    #expect(other.status == 1)
    #expect(other.err.contains("was started with seed 41"), "\(other.err)")
  }

  /// kill -9 at each named point of the write path, then --resume: the findings equal an
  /// uninterrupted run's, with no duplicates and no half-written folders.
  @Test(arguments: ["after-journal", "mid-publish", "after-publish", "after-bucket"])
  func killNineThenResumeLosesNothing(_ point: String) throws {
    let tag = UUID().uuidString
    let worker = "faulty=\(Self.faulty) --mode crash --on add --tag \(tag)"
    func fuzz(_ dir: URL, _ extra: [String]) throws -> Int32 {
      try runDLSmith(
        [
          "fuzz", "-o", dir.path, "--seed", "21", "--max-models", "10", "--nodes", "6", "--ops",
          "add,relu,mul,sigmoid,reshape,transpose", "--backends", "reference,faulty", "--worker", worker,
        ] + extra
      ).status
    }
    let truth = temporaryDirectory()
    #expect(try fuzz(truth, []) == 0)
    let expected = Self.findings(truth)
    #expect(!expected.isEmpty, "the ground-truth run must find something for this test to mean anything")

    let dir = temporaryDirectory()
    let killed = try fuzz(dir, ["--failpoint", point])
    #expect(killed != 0, "the failpoint killed the campaign")
    #expect(try fuzz(dir, ["--resume"]) == 0)
    #expect(Self.findings(dir) == expected)
    let tmp = dir.appendingPathComponent(".dlsmith/tmp").path
    #expect(
      ((try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? []).isEmpty, "no staging left behind")
    #expect(Self.liveFaultyWorkers(tag: tag).isEmpty, "no orphan workers after kill -9")
    // Bucket counts equal the uninterrupted run's (nothing lost, nothing counted twice).
    func count(_ root: URL, _ b: String) throws -> Int? {
      let data = try Data(contentsOf: root.appendingPathComponent("Crashes/\(b)/bucket.json"))
      return (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["count"] as? Int
    }
    for b in expected.keys { #expect(try count(dir, b) == count(truth, b), "bucket \(b)") }
  }
}

extension CampaignTests {
  /// A bucket becomes a bug report bundle with the ONNX model, NPZ tensors, meta and a repro script.
  @Test func exportBugWritesABundle() throws {
    let dir = temporaryDirectory()
    let worker = "faulty=\(Self.faulty) --mode wrong"
    let fuzz = try runDLSmith([
      "fuzz", "-o", dir.path, "--seed", "5", "--max-models", "3", "--nodes", "4", "--ops",
      "add,relu,mul,sigmoid", "--backends", "reference,faulty", "--worker", worker,
    ])
    #expect(fuzz.status == 0, "\(fuzz.stderr)")
    let bucket = try #require(Self.findings(dir).keys.sorted().first)
    let out = dir.appendingPathComponent("bundle").path
    let r = try runDLSmith([
      "export-bug", dir.appendingPathComponent("Crashes/\(bucket)").path, "-o", out, "--backends",
      "reference,faulty", "--worker", worker,
    ])
    #expect(r.status == 0, "\(r.stderr)")
    for f in [
      "model.onnx", "model.dlsmith.json", "inputs.npz", "expected.npz", "actual.npz", "meta.json", "repro.sh",
      "inputs.json",
    ] {
      #expect(FileManager.default.fileExists(atPath: out + "/" + f), "\(f)")
    }
  }
}

extension CampaignTests {
  /// The bucket titles of a 60-model f32 campaign of `ops` against the faulty worker in `mode`.
  func injectedBucketTitles(_ mode: String, on: String, ops: String) throws -> [String] {
    let dir = temporaryDirectory()
    let r = try runDLSmith([
      "fuzz", "-o", dir.path, "--seed", "3", "--max-models", "60", "--nodes", "6", "--dtype", "f32", "--ops",
      ops,
      "--backends", "reference,faulty", "--worker", "faulty=\(Self.faulty) --mode \(mode) --on \(on)",
    ])
    #expect(r.status == 0, "\(r.stderr)")
    return try Self.findings(dir).keys.map { b -> String in
      let data = try Data(contentsOf: dir.appendingPathComponent("Crashes/\(b)/bucket.json"))
      return (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["title"] as? String ?? ""
    }
  }

  /// One injected cause is one bucket, signed by the cause: a wrong kernel (its operator), a wrong
  /// fused pair (the consumer after the producer's family), a rewrite that is wrong behind any
  /// computed input (the consumer after anything). f32 models of float operators, so one dtype.
  @Test(arguments: [
    ("wrong-kernel", "add", "op=add dtype=f32 class=values"),
    ("wrong-fusion", "mul,add", "op=add after=binary class=values"),
    ("wrong-after", "conv2d", "op=conv2d after=*"),
  ])
  func oneInjectedCauseIsOneBucket(_ mode: String, _ on: String, _ state: String) throws {
    let titles = try injectedBucketTitles(
      mode, on: on, ops: "add,mul,sub,relu,sigmoid,tanh,exp,abs,conv2d,max_pool2d")
    #expect(titles == ["mismatch in faulty execute: \(state)"], "\(titles)")
  }

  /// One cause seen through equivalent operators is one bucket, signed by the canonical operator
  /// (`Reducer.canonical`): a reduction's result read wrong by a flatten, unsqueeze or reshape
  /// (as OpenVINO's EliminateReduceReshape does) is the reshape's; a per-channel operator wrong
  /// after a mean, whether a reduce_mean or a global_avg_pool computes it, is after a reduction.
  /// Not squeeze: squeezing to a scalar has no reshape form in the catalogue (its shape has 1 to
  /// 4 entries), so such a squeeze keeps its own bucket.
  @Test(arguments: [
    (
      "reduce_sum,reshape|flatten|unsqueeze", "reduce_sum,reshape,flatten,unsqueeze,add,relu",
      "op=reshape after=any class=values"
    ),
    (
      "global_avg_pool|reduce_mean,batch_norm", "global_avg_pool,reduce_mean,batch_norm,add,relu",
      "op=batch_norm after=reduction class=values"
    ),
  ])
  func oneCauseThroughEquivalentOperatorsIsOneBucket(_ on: String, _ ops: String, _ state: String) throws {
    let titles = try injectedBucketTitles("wrong-fusion", on: on, ops: ops)
    #expect(titles == ["mismatch in faulty execute: \(state)"], "\(titles)")
  }

  /// A node that only moves elements, wrong after several producers (OpenVINO's Tile and Broadcast
  /// reading a pool's or a ConvTranspose's output in the wrong dim order): one bucket, `after=any`,
  /// the Tile's models signed as the Expand in its place (without `after=any`: one bucket per
  /// producer family).
  @Test func wrongValuesFromAMovingNodeAfterSeveralProducersAreOneBucket() throws {
    let titles = try injectedBucketTitles(
      "wrong-fusion", on: "avg_pool2d|conv2d,expand|tile", ops: "avg_pool2d,conv2d,expand,tile,abs,add,relu")
    #expect(titles == ["mismatch in faulty execute: op=expand after=any class=values"], "\(titles)")
  }

  /// A wrong shape from the shape computation reductions share (OpenVINO drops a kept axis of
  /// ReduceMax and ReduceSum alike after a Transpose): one bucket, signed by the first reduction
  /// in name order under which the target still gives the wrong shape. Here the target is wrong
  /// for ReduceSum and ReduceMin only: reduce_max and reduce_mean do not reproduce, reduce_min
  /// does (without the substitution: two buckets, reduce_sum and reduce_min).
  @Test func oneWrongShapeThroughSeveralReductionsIsOneBucket() throws {
    let titles = try injectedBucketTitles(
      "wrong-shape-fusion", on: "transpose,reduce_sum|reduce_min",
      ops: "transpose,reduce_sum,reduce_max,reduce_min,add,relu")
    #expect(titles == ["mismatch in faulty execute: op=reduce_min after=shape class=shape"], "\(titles)")
  }

  /// A wrong shape from a layout node keeps the value-preserving form first: a Flatten that a
  /// Reshape in its place shows the same is the Reshape's bucket (OpenVINO's cause A).
  @Test func aWrongShapeThroughFlattenOrReshapeIsOneBucket() throws {
    let titles = try injectedBucketTitles(
      "wrong-shape-fusion", on: "reduce_sum,flatten|reshape", ops: "reduce_sum,flatten,reshape,add,relu")
    #expect(titles == ["mismatch in faulty execute: op=reshape after=reduction class=shape"], "\(titles)")
  }

  /// A node wrong only where its input is folded from constants (OpenVINO drops the Abs of a
  /// constant ReduceMin and of a constant Slice): one bucket, `after=const`, whatever the folded
  /// operators; given the same values as graph inputs the target is right, which is what tells.
  @Test func aWrongConstantFoldIsOneBucketWhateverWasFolded() throws {
    let faulty = FaultyTriage(["--mode", "wrong-const", "--on", "abs"])
    defer { faulty.stop() }
    var states: [String] = []
    for producer in ["reduce_min", "slice", "neg"] {
      var b = GraphBuilder()
      let c = b.constant([3], seed: 7, range: Interval(0.25, 0.75))
      let attributes: [String: AttributeValue] =
        switch producer {
        case "reduce_min": ["axes": .ints([0]), "keepdims": .int(1)]
        case "slice": ["axis": .int(0), "start": .int(0), "end": .int(1), "step": .int(1)]
        default: [:]
        }
      let p = b.node(producer, [c], attributes)[0]
      let a = b("abs", p)
      let g = b.build(outputs: [a])
      let result = try #require(try faulty.triage(g, inputs: []), "\(producer)")
      states.append(result.finding.signature.state)
    }
    #expect(states == Array(repeating: "op=abs after=const class=values", count: 3), "\(states)")
  }

  /// A rewrite for one consumer that changes the value its other readers share (OpenVINO's
  /// AbsSinking): every reader but `abs` of an `add` that `abs` reads gets a wrong value. No node
  /// alone and no cut without the `abs` fails; the buckets must name the `add` (the first node
  /// whose own value is wrong once the `abs` reads it too), never a node that only carries it.
  @Test func aSharedValueRewriteIsSignedByTheProducer() throws {
    let titles = try injectedBucketTitles(
      "wrong-shared", on: "add,abs", ops: "add,mul,sub,relu,sigmoid,tanh,exp,abs")
    #expect(!titles.isEmpty, "the injected rewrite must be found for this test to mean anything")
    for t in titles { #expect(t.hasPrefix("mismatch in faulty execute: op=add after="), "\(t)") }
  }
}

extension CampaignTests {
  /// A culprit in a dtype the target computes at another precision (the probe's `computedAs`:
  /// OpenVINO runs bf16 graphs in f32) is signed in that precision only when its kernel fails the
  /// same way there (one wrong f32 kernel, one bucket for every dtype that runs it); a kernel wrong
  /// in bf16 alone (OpenVINO's bf16 CumSum) keeps bf16.
  @Test(arguments: [
    ([String](), "op=add dtype=f32 class=values"),
    (["--only-dtype", "bf16"], "op=add dtype=bf16 class=values"),
  ])
  func aCulpritIsSignedInTheDTypeWhoseKernelFails(_ extra: [String], _ state: String) throws {
    let faulty = FaultyTriage(["--mode", "wrong-kernel", "--on", "add"] + extra, computedAs: [.bf16: .f32])
    defer { faulty.stop() }
    var b = GraphBuilder()
    let x = b.input([4], .bf16)
    let y = b.input([4], .bf16)
    let r = b("relu", b("add", x, y))
    let g = b.build(outputs: [r])
    let result = try #require(try faulty.triage(g, inputs: g.sampleInputs(seed: 1)))
    #expect(result.finding.signature.state == state)
  }

  /// Triages `graph` on the faulty target's worker and expects the repro `add` and `relu`, found by
  /// triage's retry with a process per run.
  func expectAddAndReluAfterARetryWithAProcessPerRun(_ faulty: FaultyTriage, _ graph: Graph) throws {
    let result = try #require(try faulty.triage(graph, inputs: graph.sampleInputs(seed: 1), onWorker: true))
    let ops = result.minimized.map { $0.graph.nodes.map(\.op).sorted() }
    #expect(
      ops == ["add", "relu"],
      "\(String(describing: ops)) \(result.evidence) \(result.finding.signature.state)")
    #expect(result.evidence.standalone?.contains("minimized again with a process per run") == true)
  }

  /// The campaign's worker ran a model that left state behind (a `mul`), after which every model
  /// with an `add` is wrong there; the bug itself needs `add` and `relu`. Minimized on that worker
  /// the finding becomes `add` alone, which a fresh worker runs right; triage then minimizes again
  /// with a process per run and gets the standalone repro, `add` and `relu`.
  @Test func aReproThatNeedsTheWorkersHistoryIsMinimizedAgainOnAFreshWorker() throws {
    let faulty = FaultyTriage(["--mode", "poisoned", "--on", "add,relu,mul"])
    defer { faulty.stop() }
    var p = GraphBuilder()
    let m = p("mul", p.input([4]), p.input([4]))
    let poison = p.build(outputs: [m])
    #expect(try faulty.triage(poison, inputs: poison.sampleInputs(seed: 2)) == nil, "the mul model is right")
    var b = GraphBuilder()
    let x = b.input([4])
    let y = b.input([4])
    let e = b("exp", x)
    let r = b("relu", b("add", e, y))
    let g = b.build(outputs: [r])
    try expectAddAndReluAfterARetryWithAProcessPerRun(faulty, g)
  }

  /// A target that picks its layouts by the first model its process compiled (OpenVINO's CPU
  /// plugin): after the original model, none of its smaller forms fails, so minimization on that
  /// process stalls at the original's 4 nodes; triage minimizes once more with a process per run,
  /// where the 2-node repro fails (without the retry: 4 nodes).
  @Test func aMinimizationThatStallsOnAUsedProcessIsRetriedWithAProcessPerRun() throws {
    let faulty = FaultyTriage(["--mode", "first-decides", "--on", "add,relu,exp,tanh"])
    defer { faulty.stop() }
    var b = GraphBuilder()
    let e = b("exp", b.input([4]))
    let t = b("tanh", b.input([4]))
    let r = b("relu", b("add", e, t))
    let g = b.build(outputs: [r])
    try expectAddAndReluAfterARetryWithAProcessPerRun(faulty, g)
  }

  /// A target whose caches carry state between models fails on a model only after it ran others:
  /// triage on the campaign's worker minimizes such a finding to a model that a fresh worker runs
  /// right. That model is no standalone repro: it is dropped for the original, and the bucket says
  /// why.
  @Test func aMinimizedModelThatNeedsTheWorkersHistoryIsDropped() throws {
    let dir = temporaryDirectory()
    _ = try Campaign(config(dir, mode: "stateful", on: "add", models: 30)).run()
    let buckets = Self.findings(dir).keys.sorted()
    #expect(!buckets.isEmpty, "the stateful target must be found for this test to mean anything")
    for b in buckets {
      let bucket = dir.appendingPathComponent("Crashes/\(b)")
      let record = try #require(BucketRecord.read(bucket: bucket.path))
      #expect(record.triage?.standalone != nil, "\(b)")
      #expect(
        !FileManager.default.fileExists(atPath: bucket.appendingPathComponent("minimized").path), "\(b)")
    }
  }
}

extension CampaignTests {
  /// `plot_data.csv`: a header and rows over time whose last row is the campaign's final stats; a
  /// torn last line (a kill -9 mid-write) is ignored on read.
  @Test func plotDataRecordsTheCampaignOverTime() throws {
    let dir = temporaryDirectory()
    let (stats, _) = try Campaign(config(dir, mode: "crash", on: "add", models: 12)).run()
    let path = dir.appendingPathComponent(".dlsmith/shard-0/plot_data.csv").path
    let rows = PlotData.read(path)
    let last = try #require(rows.last)
    #expect(last["models"] == "\(stats.modelsGenerated)")
    #expect(last["valid"] == "\(stats.modelsValid)")
    #expect(last["execs_faulty"] == "\(stats.execs["faulty"] ?? 0)")
    #expect(Int(last["buckets_crash"] ?? "") == stats.newBuckets && stats.newBuckets >= 1)
    #expect(last["corpus"] == "\(stats.corpusAdded)")
    let header = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").first
    #expect(header.map(String.init) == PlotData.header(targets: ["faulty"]).joined(separator: ","))
    // A torn last line.
    let h = try #require(FileHandle(forWritingAtPath: path))
    h.seekToEndOfFile()
    h.write(Data("99.0,7".utf8))
    try h.close()
    #expect(PlotData.read(path).count == rows.count)
  }
}
