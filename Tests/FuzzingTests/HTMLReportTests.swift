import Foundation
import TestSupport
import Testing

@testable import Fuzzing

/// `dlsmith report`: the SVG charts, the HTML page's data, and the page as a real browser
/// (headless Chromium) reads it.
@Suite struct HTMLReportTests {
  static let ids = ["0a1b2c3d4e5f6071", "1f2e3d4c5b6a7988", "9abcdef012345678"]

  /// The line and bar charts of a page built from `campaign` (the `data-chart` ids).
  static let charts = [
    "models", "buckets-over-time", "execs-per-second", "corpus", "operator-coverage", "pair-coverage",
    "buckets-by-kind", "buckets-by-backend", "buckets-by-verdict",
  ]

  /// A campaign folder written with the library's types: two shards with stats, plot data and
  /// features, and three buckets (a triaged target bug with a minimized model and a bug bundle, a
  /// reference disagreement, an unstable difference with a bundle) whose titles need escaping.
  static func campaign(plot: Bool = true) throws -> URL {
    let dir = temporaryDirectory().appendingPathComponent("campaign")
    let fm = FileManager.default
    let encoder = JSONEncoder()
    for shard in 0..<2 {
      let state = dir.appendingPathComponent(".dlsmith/shard-\(shard)").path
      try fm.createDirectory(atPath: state, withIntermediateDirectories: true)
      var stats = CampaignStats()
      for step in 1...5 {
        stats.runTime = Double(step) * 2
        stats.modelsGenerated = step * (10 + shard)
        stats.modelsValid = step * (9 + shard)
        stats.execs = ["fast": step * 20, "ort": step * 10 * (shard + 1)]
        stats.bucketsByKind = ["mismatch": step / 2, "unstable": shard]
        stats.corpusAdded = step * 3
        if plot {
          PlotData.append(
            PlotData.row(stats, targets: ["fast", "ort"]), header: PlotData.header(targets: ["fast", "ort"]),
            to: state + "/plot_data.csv")
        }
      }
      stats.updatedAt = "2026-12-07T10:00:0\(shard)Z"
      try encoder.encode(stats).write(to: URL(fileURLWithPath: state + "/stats.json"))
      let features = [
        "t:conv2d:f32", "t:conv2d:f\(16 + 16 * shard)", "t:relu:f32", "e:conv2d>relu", "e:relu>add",
      ]
      try (features.joined(separator: "\n") + "\n").write(
        toFile: state + "/features", atomically: true, encoding: .utf8)
    }
    let buckets: [(FindingKind, String, TriageEvidence.Verdict?)] = [
      (.mismatch, "mismatch in fast execute: <b>bold</b> & \"quoted\"", .targetBug),
      (.referenceDisagreement, "reference disagreement on ort: op=Gelu", .referenceDisagreement),
      (.unstable, "unstable in ort execute: op=Softmax", nil),
    ]
    for (id, (kind, title, verdict)) in zip(ids, buckets) {
      let bucket = dir.appendingPathComponent("Crashes/\(id)")
      var record = BucketRecord(
        signature: id + String(repeating: "0", count: 48),
        tuple: Signature(
          kind: kind, stage: "execute", backend: kind == .mismatch ? "fast" : "ort", state: "op=x"),
        title: title, count: 2, firstSeen: "2026-12-07T09:00:00Z", lastSeen: "2026-12-07T09:30:00Z",
        status: "new")
      record.message = "2 element(s) differ <at> [0]"
      record.triage = verdict.map {
        TriageEvidence(
          verdict: $0, localization: "culprit", nodesBefore: 9, nodesAfter: 2, steps: 40, seconds: 1.5)
      }
      for name in ["s0-k000000003-\(record.tuple.backend)", "s1-k000000007-\(record.tuple.backend)"] {
        let instance = bucket.appendingPathComponent("instances/\(name)")
        try fm.createDirectory(at: instance, withIntermediateDirectories: true)
        let meta = InstanceMeta(
          seed: "1", campaignSeed: "1", k: "3", shard: "0", backend: record.tuple.backend, worker: "w",
          kind: kind.rawValue, stage: "execute", message: "message of \(name)", signature: record.signature,
          toolVersion: "test", replay: "dlsmith replay \(name)", regenerate: "dlsmith generate --seed 1")
        try encoder.encode(meta).write(to: instance.appendingPathComponent("meta.json"))
      }
      if kind == .mismatch {
        let minimized = bucket.appendingPathComponent("minimized")
        try fm.createDirectory(at: minimized, withIntermediateDirectories: true)
        try Data(#"{"nodes": [{}, {}]}"#.utf8).write(
          to: minimized.appendingPathComponent("model.dlsmith.json"))
      }
      // A bundle for a Python target has repro.py, for a built-in backend repro.sh.
      if kind != .referenceDisagreement {
        let bundle = bucket.appendingPathComponent("bundle")
        try fm.createDirectory(at: bundle, withIntermediateDirectories: true)
        try Data("repro\n".utf8).write(
          to: bundle.appendingPathComponent(kind == .mismatch ? "repro.py" : "repro.sh"))
      }
      try encoder.encode(record).write(to: bucket.appendingPathComponent("bucket.json"))
    }
    return dir
  }

  /// `/usr/bin/chromium` or wherever `chromium` is on PATH.
  static func chromium() -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    return (path.split(separator: ":").map { "\($0)/chromium" } + ["/usr/bin/chromium"]).first {
      FileManager.default.isExecutableFile(atPath: $0)
    }
  }

  /// The DOM of the page at `file` as headless Chromium builds it (`--dump-dom`).
  static func dumpDOM(_ file: URL, chromium: String) throws -> String {
    let profile = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: profile) }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: chromium)
    p.arguments = [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
      "--user-data-dir=\(profile.path)", "--dump-dom", file.absoluteString,
    ]
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    let dom = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    #expect(p.terminationStatus == 0, "chromium exited with \(p.terminationStatus)")
    return String(decoding: dom, as: UTF8.self)
  }

  /// Every match of `pattern` in `text`, as its capture groups.
  static func matches(_ pattern: String, in text: String) throws -> [[String]] {
    let regex = try NSRegularExpression(pattern: pattern, options: [.dotMatchesLineSeparators])
    let ns = text as NSString
    return regex.matches(in: text, range: NSRange(location: 0, length: ns.length)).map { m in
      (1..<m.numberOfRanges).map {
        m.range(at: $0).location == NSNotFound ? "" : ns.substring(with: m.range(at: $0))
      }
    }
  }
}

// MARK: - The SVG generator

extension HTMLReportTests {
  @Test func lineChartMapsKnownPointsToKnownCoordinates() {
    var chart = LineChart(
      title: "t", xLabel: "time (s)", yLabel: "models",
      series: [.init("a", [.init(0, 0), .init(5, 50), .init(10, 100)])])
    chart.width = 400
    chart.plotHeight = 200
    chart.margin = (top: 30, right: 20, bottom: 40, left: 60)
    // x spans the data, 0...10 onto 60...380; y goes to a round 100, 0...100 onto 230...30.
    #expect(chart.ticks.x == [0, 2, 4, 6, 8, 10])
    #expect(chart.ticks.y == [0, 20, 40, 60, 80, 100])
    #expect(chart.polylinePoints(chart.series[0]) == "60,230 220,130 380,30")
    let svg = chart.svg()
    #expect(svg.contains(#"points="60,230 220,130 380,30""#))
    #expect(svg.contains(">100</text>") && svg.contains(">10</text>"), "tick labels")
    #expect(svg.contains(">time (s)</text>") && svg.contains(">models</text>"), "axis labels")
    #expect(svg.contains(">a</text>"), "legend")
  }

  @Test func barChartMapsValuesToKnownRectangles() {
    var chart = BarChart(title: "t", bars: [.init("a", 2), .init("b", 4)], orientation: .vertical)
    chart.width = 400
    chart.plotHeight = 100
    // Values 0...4 onto y 146...46 (bars from y 46 on); two slots of 170 px from x 50, 4 px apart.
    #expect(chart.ticks == [0, 1, 2, 3, 4])
    #expect(chart.barPath() == "M52 146V96H218V146ZM222 146V46H388V146Z")
    #expect(chart.svg().contains(#"d="M52 146V96H218V146ZM222 146V46H388V146Z""#))
    var horizontal = BarChart(title: "t", bars: [.init("a", 1), .init("b", 0)])
    horizontal.width = 400
    let x = horizontal.scale
    #expect(x(0) == x.range.from && x(horizontal.ticks.last ?? 0) == x.range.to)
    let left = SVG.coordinate(x(0))
    #expect(horizontal.barPath().hasPrefix("M\(left) 48H\(SVG.coordinate(x(1)))V60H\(left)Z"))
  }

  @Test func chartsWithoutDataSayNoDataAndDrawNoSeries() {
    let line = LineChart(title: "t", xLabel: "x", yLabel: "y", series: [.init("a", []), .init("b", [])])
    #expect(!line.hasData)
    #expect(line.svg().contains(">no data</text>"))
    #expect(!line.svg().contains("<polyline") && !line.svg().contains("<path"))
    let bars = BarChart(title: "t", bars: [])
    #expect(bars.svg().contains(">no data</text>"))
    #expect(!bars.svg().contains("<path") && !bars.svg().contains("<polyline"))
  }

  @Test func titlesLabelsAndSeriesNamesAreEscaped() {
    let nasty = #"a<b & "c""#
    let escaped = "a&lt;b &amp; &quot;c&quot;"
    let line = LineChart(title: nasty, xLabel: nasty, yLabel: nasty, series: [.init(nasty, [.init(1, 1)])])
    let bars = BarChart(title: nasty, bars: [.init(nasty, 1)])
    for svg in [line.svg(), bars.svg()] {
      #expect(svg.contains(escaped))
      #expect(!svg.contains("a<b"), "unescaped text in \(svg)")
    }
    #expect(SVG.escape("<&\"'>") == "&lt;&amp;&quot;&#39;&gt;")
  }

  @Test func ticksAreRoundAndCoverTheData() {
    #expect(LinearScale.niceTicks(lower: 0, upper: 1247, count: 5) == [0, 500, 1000, 1500])
    #expect(
      LinearScale.niceTicks(lower: 0, upper: 0.9, count: 5) == [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1])
    #expect(LinearScale.niceTicks(lower: 0, upper: 3, count: 5, minimumStep: 1) == [0, 1, 2, 3])
    #expect(LinearScale.niceTicks(lower: 0, upper: 0, count: 5) == [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1])
    #expect(SVG.tickLabel(25000, step: 5000) == "25k")
    #expect(SVG.tickLabel(1_500_000, step: 500_000) == "1.5M")
    #expect(SVG.tickLabel(0.4, step: 0.2) == "0.4")
  }
}

// MARK: - The page's data

extension HTMLReportTests {
  @Test func execRatesAreDifferencesOverTimeSummedOverShards() {
    func shard(_ name: String, _ rows: [(Double, Int)]) -> CampaignFolder.ShardState {
      .init(
        name: name, stats: nil, plot: rows.map { ["time": "\($0.0)", "execs_fast": "\($0.1)"] }, features: [],
        alive: false)
    }
    // Intervals [0, 10] and [10, 20]: 100/10 + 50/10, then 200/10 + 100/10.
    let series = HTMLReport.execRates(
      [shard("shard-0", [(10, 100), (20, 300)]), shard("shard-1", [(10, 50), (20, 150)])],
      unit: .init(seconds: 20))
    #expect(series.map(\.name) == ["fast"])
    #expect(series.first?.points == [.init(5, 15), .init(15, 30)])
    let curve = [(0.0, 0.0), (10, 100), (20, 100)]
    #expect([0, 5, 10, 15, 20].map { HTMLReport.interpolate(curve, $0) } == [0, 50, 100, 100, 100])
    #expect(HTMLReport.interpolate(curve, 25) == nil && HTMLReport.interpolate(curve, -1) == nil)
  }

  @Test func coverageCountsDistinctDtypesAndSuccessors() {
    let features: Set = [
      "t:conv2d:f32", "t:conv2d:f16", "t:relu:f32", "e:conv2d>relu", "e:conv2d>add", "e:relu>add",
    ]
    let ops = HTMLReport.operatorCoverage(features)
    #expect(ops.bars == [.init("conv2d", 2), .init("relu", 1)])
    #expect(ops.pairs == 3)
    let pairs = HTMLReport.pairCoverage(features)
    #expect(pairs.bars == [.init("conv2d", 2), .init("relu", 1)])
    #expect(pairs.pairs == 3)
  }

  @Test func relativePathFromTheReportsFolderToTheCampaign() {
    #expect(HTMLReport.relativePath(from: "/a/b", to: "/a/b") == "")
    #expect(HTMLReport.relativePath(from: "/a/b", to: "/a/c/d") == "../c/d")
    #expect(HTMLReport.relativePath(from: "/a/b/c", to: "/a") == "../..")
    #expect(HTMLReport.relativePath(from: "/a", to: "/a/runs/./ov") == "runs/ov")
    #expect(HTMLReport.link("", ["Crashes", "x y"], directory: true) == "Crashes/x%20y/")
    #expect(HTMLReport.link("../c", ["Crashes"]) == "../c/Crashes")
    #expect(HTMLReport.link("/abs/c", ["Crashes"]) == "/abs/c/Crashes")
  }

  @Test func aFolderWithoutPlotDataShowsNoDataInPlaceOfTheCharts() throws {
    let folder = try CampaignFolder.read(Self.campaign(plot: false).path)
    let html = HTMLReport.render(folder, linkBase: "")
    for chart in ["models", "buckets-over-time", "execs-per-second", "corpus"] {
      let figure = try #require(
        try Self.matches(#"data-chart="\#(chart)">(.*?)</figure>"#, in: html).first?.first)
      #expect(figure.contains(">no data</text>") && !figure.contains("<polyline"), "\(chart)")
    }
    #expect(
      try Self.matches(#"<tr data-bucket="([0-9a-f]{16})""#, in: html).map { $0[0] }.sorted() == Self.ids)
  }

  @Test func markdownKeepsTheRowsCIGrepsFor() throws {
    let markdown = MarkdownReport.render(try CampaignFolder.read(Self.campaign().path))
    #expect(markdown.hasPrefix("# DLSmith findings in "))
    #expect(
      markdown.contains("1 target bug bucket(s), 1 reference disagreement(s) (DLSmith defects), 1 unstable\n")
    )
    #expect(
      try Self.matches(#"\n\| ([0-9a-f]{16}) \| (mismatch|reference-disagreement) \|"#, in: markdown).count
        == 2)
  }
}

// MARK: - The page in a browser

extension HTMLReportTests {
  /// `dlsmith report DIR -o OTHER/report.html`, loaded by headless Chromium: every chart has its
  /// series with real coordinates, the bucket table one row per bucket, the links lead from the
  /// report's folder to the campaign's, and no string from disk became markup.
  @Test func chromiumRendersEveryChartAndOneRowPerBucket() throws {
    let chromium = try #require(
      Self.chromium(),
      "chromium not found: install the Debian package chromium (apt-get install -y chromium); ./dev test installs it"
    )
    let campaign = try Self.campaign()
    let report = campaign.deletingLastPathComponent().appendingPathComponent("reports/report.html")
    try FileManager.default.createDirectory(
      at: report.deletingLastPathComponent(), withIntermediateDirectories: true)
    let run = try runDLSmith(["report", campaign.path, "-o", report.path])
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stderr.contains(report.path))

    let dom = try Self.dumpDOM(report, chromium: chromium)
    #expect(dom.contains("<svg"), "chromium returned no page: \(dom.prefix(300))")
    let figures = try Self.matches(#"<figure class="chart" data-chart="([^"]+)">(.*?)</figure>"#, in: dom)
    #expect(figures.map { $0[0] } == Self.charts)
    for figure in figures {
      let (chart, body) = (figure[0], figure[1])
      let series = try Self.matches(#"<(?:path|polyline)\b[^>]*\b(?:d|points)="([^"]*)""#, in: body).map {
        $0[0]
      }
      #expect(!series.isEmpty, "\(chart): no path or polyline")
      #expect(!body.contains("no data"), "\(chart)")
      for s in series {
        let numbers = try Self.matches(#"(-?[0-9]+(?:\.[0-9]+)?)"#, in: s).compactMap { Double($0[0]) }
        #expect(numbers.count >= 2 && numbers.allSatisfy(\.isFinite), "\(chart): \(s)")
        #expect(s.allSatisfy { "0123456789.-, MHVZ".contains($0) }, "\(chart): \(s)")
      }
    }
    let rows = try Self.matches(#"<tbody>(.*?)</tbody>"#, in: dom).flatMap { body in
      try Self.matches(#"<tr data-bucket="([^"]+)""#, in: body[0]).map { $0[0] }
    }
    #expect(rows.sorted() == Self.ids)

    let mismatch = Self.ids[0]
    let links = Set(try Self.matches(#"href="([^"]+)""#, in: dom).map { $0[0] })
    for expected in [
      "../campaign/Crashes/\(mismatch)/instances/s0-k000000003-fast/",
      "../campaign/Crashes/\(mismatch)/minimized/model.dlsmith.json",
      "../campaign/Crashes/\(mismatch)/bundle/", "../campaign/Crashes/\(mismatch)/bundle/repro.py",
      "../campaign/Crashes/\(Self.ids[2])/bundle/repro.sh",
    ] {
      #expect(links.contains(expected), "\(expected) not in \(links.sorted())")
    }
    #expect(!links.contains { $0.contains(Self.ids[1]) && $0.contains("bundle") })
    #expect(!dom.contains("<b>bold"), "a title from disk became markup")
    #expect(dom.contains("&lt;b&gt;bold&lt;/b&gt; &amp; \"quoted\""))
  }
}
