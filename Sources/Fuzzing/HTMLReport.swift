import Foundation

/// `dlsmith report DIR -o report.html`: a campaign folder as one self-contained HTML page (inline
/// CSS and SVG, no script, no network).
///
/// The page has a summary (shards, models, valid, execs, run time, buckets by class), line charts
/// over time from the shards' `plot_data.csv` (models, buckets and corpus per shard, execs/s per
/// target summed over shards), bar charts (operator and operator-pair coverage from the shards'
/// features, buckets by kind, backend and triage verdict) and the bucket table, one
/// `<tr data-bucket="<id>">` per bucket, with relative links to its instances, minimized model and
/// bug bundle. Every string read from disk is escaped.
public enum HTMLReport {
  /// The page for `folder`. `linkBase` is the path from the report file's folder to the campaign
  /// folder (`""` when the report is in the campaign folder; see `relativePath(from:to:)`).
  public static func render(_ folder: CampaignFolder, linkBase: String) -> String {
    let timeUnit = TimeUnit(
      seconds: folder.shards.flatMap(\.plot).compactMap { number($0["time"]) }.max() ?? 0)
    let hasPlot = folder.shards.contains { !$0.plot.isEmpty }
    let plotNote =
      hasPlot ? nil : "No shard has a plot_data.csv (campaigns before plot data existed, or none ran)."
    var html = """
      <!DOCTYPE html>
      <html lang="en">
      <head>
      <meta charset="utf-8">
      <meta name="viewport" content="width=device-width, initial-scale=1">
      <title>DLSmith report: \(SVG.escape(folder.path))</title>
      <style>\(style)</style>
      </head>
      <body>

      """
    html += header(folder)
    html += "<section id=\"progress\"><h2>Progress</h2>\n<div class=\"grid two\">\n"
    let perShard = { (title: String, yLabel: String, value: ([String: String]) -> Double?) -> LineChart in
      LineChart(
        title: title, xLabel: "time (\(timeUnit.name))", yLabel: yLabel,
        series: folder.shards.map { s in
          LineChart.Series(s.name, points(s.plot, unit: timeUnit, value))
        })
    }
    html += figure(
      "models", perShard("Models generated per shard", "models") { number($0["models"]) }, note: plotNote)
    html += figure(
      "buckets-over-time",
      perShard("Buckets created per shard", "buckets") { row in
        let values = row.filter { $0.key.hasPrefix("buckets_") }.compactMap { number($0.value) }
        return values.isEmpty ? nil : values.reduce(0, +)
      }, note: plotNote)
    html += figure(
      "execs-per-second",
      LineChart(
        title: "Executions per second per target (all shards)", xLabel: "time (\(timeUnit.name))",
        yLabel: "execs/s", series: execRates(folder.shards, unit: timeUnit)), note: plotNote)
    html += figure(
      "corpus", perShard("Corpus models added per shard", "models") { number($0["corpus"]) }, note: plotNote)
    html += "</div></section>\n"
    let patterns = PatternSummary.lines(folder.shards.compactMap(\.stats))
    if !patterns.isEmpty {
      html += "<section id=\"patterns\"><h2>Optimizer patterns</h2>\n<ul>\n"
      for p in patterns { html += "<li>\(SVG.escape(p))</li>\n" }
      html += "</ul></section>\n"
    }
    for l in SpecialValueSummary.lines(folder.shards.compactMap(\.stats)) {
      html += "<section id=\"special-values\"><h2>Special values</h2>\n<p>\(SVG.escape(l))</p></section>\n"
    }

    let features = Set(folder.shards.flatMap(\.features))
    let ops = operatorCoverage(features)
    let pairs = pairCoverage(features)
    html += "<section id=\"coverage\"><h2>Coverage</h2>\n<div class=\"grid one\">\n"
    var opChart = BarChart(
      title: "Operator coverage: distinct dtypes per operator", bars: ops.bars, orientation: .vertical)
    opChart.width = 1340
    opChart.plotHeight = 160
    html += figure(
      "operator-coverage", opChart,
      caption:
        "\(ops.bars.count) operators seen with \(ops.pairs) operator–dtype combinations (t: features, all shards)."
    )
    var pairChart = BarChart(
      title: "Operator-pair coverage: distinct successors per producer", bars: pairs.bars,
      orientation: .vertical)
    pairChart.width = 1340
    pairChart.plotHeight = 160
    pairChart.color = SVG.palette[3]
    html += figure(
      "pair-coverage", pairChart,
      caption:
        "\(pairs.pairs) distinct operator pairs along an edge from \(pairs.bars.count) producers (e: features, all shards)."
    )
    html += "</div></section>\n"

    html += "<section id=\"findings\"><h2>Buckets</h2>\n<div class=\"grid three\">\n"
    let tally = { (title: String, color: String, key: (CampaignFolder.Bucket) -> String) -> BarChart in
      var chart = BarChart(
        title: title, bars: ranked(Dictionary(grouping: folder.buckets, by: key).mapValues(\.count)))
      chart.width = 420
      chart.color = color
      return chart
    }
    html += figure("buckets-by-kind", tally("By kind", SVG.palette[1]) { $0.record.tuple.kind.rawValue })
    html += figure("buckets-by-backend", tally("By backend", SVG.palette[4]) { $0.record.tuple.backend })
    html += figure(
      "buckets-by-verdict",
      tally("By triage verdict", SVG.palette[6]) { $0.record.triage?.verdict.rawValue ?? "not triaged" })
    html += "</div>\n"
    html += bucketTable(folder.buckets, linkBase: linkBase)
    html += "</section>\n</body>\n</html>\n"
    return html
  }

  // MARK: - Data

  /// Distinct dtypes per operator from `t:<op>:<dtype>` features, most first; and the number of
  /// (operator, dtype) combinations.
  public static func operatorCoverage(_ features: Set<String>) -> (bars: [BarChart.Bar], pairs: Int) {
    var dtypes: [String: Set<String>] = [:]
    for f in features where f.hasPrefix("t:") {
      let rest = f.dropFirst(2)
      guard let colon = rest.lastIndex(of: ":") else { continue }
      dtypes[String(rest[..<colon]), default: []].insert(String(rest[rest.index(after: colon)...]))
    }
    return (ranked(dtypes.mapValues(\.count)), dtypes.values.map(\.count).reduce(0, +))
  }

  /// Distinct successors per producer from `e:<producer>><consumer>` features, most first; and the
  /// number of distinct pairs.
  public static func pairCoverage(_ features: Set<String>) -> (bars: [BarChart.Bar], pairs: Int) {
    var successors: [String: Set<String>] = [:]
    for f in features where f.hasPrefix("e:") {
      let rest = f.dropFirst(2)
      guard let arrow = rest.firstIndex(of: ">") else { continue }
      successors[String(rest[..<arrow]), default: []].insert(String(rest[rest.index(after: arrow)...]))
    }
    return (ranked(successors.mapValues(\.count)), successors.values.map(\.count).reduce(0, +))
  }

  /// Bars by count, most first, then by label.
  static func ranked(_ counts: [String: Int]) -> [BarChart.Bar] {
    counts.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { .init($0.key, Double($0.value)) }
  }

  /// Executions per second per target, summed over shards: each shard's cumulative `execs_<target>`
  /// (from zero at time zero) interpolated on a common grid of at most 150 intervals, differenced,
  /// divided by the interval; a point per interval, at its middle. A shard counts only in the
  /// intervals its rows cover; a counter that goes down (a reset) counts as zero.
  public static func execRates(_ shards: [CampaignFolder.ShardState], unit: TimeUnit) -> [LineChart.Series] {
    let targets = Set(shards.flatMap { $0.plot.flatMap(\.keys) }).filter { $0.hasPrefix("execs_") }.sorted()
    let end = shards.flatMap(\.plot).compactMap { number($0["time"]) }.max() ?? 0
    let rows = shards.map(\.plot.count).max() ?? 0
    guard end > 0, rows > 0 else { return targets.map { .init(String($0.dropFirst(6)), []) } }
    let intervals = max(1, min(150, rows))
    let width = end / Double(intervals)
    return targets.map { column in
      let curves = shards.map { s in
        [(0.0, 0.0)]
          + s.plot.compactMap { r in number(r["time"]).flatMap { t in number(r[column]).map { (t, $0) } } }
      }
      let points = (0..<intervals).map { j -> LineChart.Point in
        let (a, b) = (Double(j) * width, Double(j + 1) * width)
        var rate = 0.0
        for curve in curves {
          guard let last = curve.last?.0, last >= b - 1e-9, let ea = interpolate(curve, a),
            let eb = interpolate(curve, b)
          else { continue }
          rate += max(0, eb - ea) / width
        }
        return LineChart.Point((a + b) / 2 / unit.seconds, rate)
      }
      return LineChart.Series(String(column.dropFirst("execs_".count)), points)
    }
  }

  /// The value of a piecewise-linear curve (points by increasing x) at `x`, nil outside it.
  static func interpolate(_ curve: [(Double, Double)], _ x: Double) -> Double? {
    guard let first = curve.first, let last = curve.last, x >= first.0 - 1e-9, x <= last.0 + 1e-9 else {
      return nil
    }
    // The first point at or after x (binary search: a day's plot data is ~40,000 rows).
    var low = 0
    var high = curve.count - 1
    while low < high {
      let mid = (low + high) / 2
      if curve[mid].0 < x { low = mid + 1 } else { high = mid }
    }
    guard low > 0 else { return first.1 }
    let (p, q) = (curve[low - 1], curve[low])
    return q.0 > p.0 ? p.1 + (x - p.0) / (q.0 - p.0) * (q.1 - p.1) : q.1
  }

  /// A shard's points of one column over time, from the origin (every column is zero at time
  /// zero), at most 400 rows (evenly spaced, the last kept).
  static func points(_ plot: [[String: String]], unit: TimeUnit, _ value: ([String: String]) -> Double?)
    -> [LineChart.Point]
  {
    let rows = thinned(plot, to: 400).compactMap { r in
      number(r["time"]).flatMap { t in value(r).map { LineChart.Point(t / unit.seconds, $0) } }
    }
    return rows.isEmpty ? [] : [LineChart.Point(0, 0)] + rows
  }

  static func thinned<T>(_ rows: [T], to limit: Int) -> [T] {
    guard rows.count > limit, limit > 1 else { return rows }
    return (0..<limit).map { rows[Int((Double($0) * Double(rows.count - 1) / Double(limit - 1)).rounded())] }
  }

  static func number(_ s: String?) -> Double? { s.flatMap(Double.init).flatMap { $0.isFinite ? $0 : nil } }

  /// The unit of the time axes, from the longest shard: seconds, minutes or hours.
  public struct TimeUnit: Sendable {
    public var name: String
    public var seconds: Double
    public init(seconds longest: Double) {
      (name, seconds) = longest < 180 ? ("s", 1) : longest < 3 * 3600 ? ("min", 60) : ("h", 3600)
    }
  }

  /// The path from the folder the page is read from (the report file's, or `cwd` when it goes to
  /// stdout) to the campaign folder, both with symbolic links resolved: what `render` prefixes its
  /// links with.
  public static func linkBase(report: String?, campaign: String, cwd: String) -> String {
    func absolute(_ path: String) -> String { path.hasPrefix("/") ? path : cwd + "/" + path }
    func resolved(_ path: String) -> String {
      URL(fileURLWithPath: absolute(path)).standardizedFileURL.resolvingSymlinksInPath().path
    }
    // The report file need not exist yet: its folder is resolved.
    let from = resolved(report.map { (absolute($0) as NSString).deletingLastPathComponent } ?? cwd)
    return relativePath(from: from, to: resolved(campaign))
  }

  /// The relative path from `directory` to `target` (both absolute or both relative to the same
  /// folder): `""` when they are the same, else like `../runs/ov`.
  public static func relativePath(from directory: String, to target: String) -> String {
    func components(_ p: String) -> [String] {
      var out: [String] = []
      for c in p.split(separator: "/") where c != "." {
        if c == "..", let last = out.last, last != ".." { out.removeLast() } else { out.append(String(c)) }
      }
      return out
    }
    let from = components(directory)
    let to = components(target)
    let common = zip(from, to).prefix { $0 == $1 }.count
    return (Array(repeating: "..", count: from.count - common) + to[common...]).joined(separator: "/")
  }

  // MARK: - Page parts

  static func header(_ folder: CampaignFolder) -> String {
    let shards = folder.shards
    // A shard without stats.json falls back to its last plot row.
    func total(_ stats: (CampaignStats) -> Double, _ column: String) -> Double? {
      let values = shards.compactMap { s in s.stats.map(stats) ?? number(s.plot.last?[column]) }
      return values.isEmpty ? nil : values.reduce(0, +)
    }
    let models = total({ Double($0.modelsGenerated) }, "models")
    let valid = total({ Double($0.modelsValid) }, "valid")
    var execsByTarget: [String: Double] = [:]
    for s in shards {
      if let stats = s.stats {
        for (t, n) in stats.execs { execsByTarget[t, default: 0] += Double(n) }
      } else if let last = s.plot.last {
        for (k, v) in last where k.hasPrefix("execs_") {
          execsByTarget[String(k.dropFirst(6)), default: 0] += number(v) ?? 0
        }
      }
    }
    let runTimes = shards.compactMap { s in
      s.stats.map(\.totalRunTime) ?? number(s.plot.last?["time"])
    }
    let classes = FindingKind.ReportClass.allCases.map { k in
      folder.buckets.filter { $0.record.tuple.kind.reportClass == k }.count
    }
    let running = shards.filter(\.alive).count
    let updated = shards.compactMap(\.stats?.updatedAt).filter { !$0.isEmpty }.max()
    func tile(_ label: String, _ value: String, _ detail: String = "") -> String {
      "<div class=\"tile\"><dt>\(label)</dt><dd>\(value)</dd>"
        + (detail.isEmpty ? "" : "<dd class=\"detail\">\(detail)</dd>") + "</div>\n"
    }
    let noData = "<span class=\"muted\">no data</span>"
    var out = "<header>\n<h1>DLSmith campaign report</h1>\n"
    out += "<p class=\"folder\"><code>\(SVG.escape(folder.path))</code>"
    if let updated { out += " <span class=\"muted\">· last update \(SVG.escape(updated))</span>" }
    out += "</p>\n<dl class=\"summary\">\n"
    out += tile("shards", "\(shards.count)", running > 0 ? "\(running) running" : "none running")
    out += tile("models", models.map(grouped) ?? noData)
    out += tile(
      "valid", valid.map(grouped) ?? noData,
      ratio(valid, models).map { String(format: "%.1f%% of models", 100 * $0) } ?? "")
    out += tile(
      "execs", execsByTarget.isEmpty ? noData : grouped(execsByTarget.values.reduce(0, +)),
      execsByTarget.sorted { $0.key < $1.key }.map { "\(SVG.escape($0.key)) \(grouped($0.value))" }
        .joined(separator: " · "))
    let longest = runTimes.max()
    out += tile(
      "run time", longest.map(duration) ?? noData,
      ratio(models, longest).map { String(format: "%.1f models/s", $0) } ?? "")
    out += tile(
      "buckets", "\(folder.buckets.count)",
      "\(classes[0]) target bug\(classes[0] == 1 ? "" : "s") · \(classes[1]) reference disagreement"
        + "\(classes[1] == 1 ? "" : "s") · \(classes[2]) unstable")
    out += "</dl>\n"
    if !shards.isEmpty {
      out += "<table class=\"shards\"><thead><tr><th>shard</th><th>state</th><th>models</th><th>valid</th>"
      out +=
        "<th>execs</th><th>run time</th><th>corpus added</th><th>peak RSS</th><th>updated</th></tr></thead><tbody>\n"
      for s in shards {
        let st = s.stats
        out += "<tr><td>\(SVG.escape(s.name))</td><td>\(s.alive ? "running" : "stopped")</td>"
        out += "<td>\(st.map { grouped(Double($0.modelsGenerated)) } ?? "–")</td>"
        out += "<td>\(st.map { grouped(Double($0.modelsValid)) } ?? "–")</td>"
        out += "<td>\(st.map { grouped(Double($0.totalExecs)) } ?? "–")</td>"
        out += "<td>\(st.map { duration($0.totalRunTime) } ?? "–")</td>"
        out += "<td>\(st.map { grouped(Double($0.corpusAdded)) } ?? "–")</td>"
        out += "<td>\(st.map { "\($0.peakRSSMB) MiB" } ?? "–")</td>"
        out += "<td>\(SVG.escape(st?.updatedAt ?? "–"))</td></tr>\n"
      }
      out += "</tbody></table>\n"
    }
    return out + "</header>\n"
  }

  static func figure(_ id: String, _ chart: LineChart, note: String? = nil) -> String {
    figure(id, svg: chart.svg(), caption: chart.hasData ? nil : note)
  }

  static func figure(_ id: String, _ chart: BarChart, caption: String? = nil) -> String {
    figure(id, svg: chart.svg(), caption: chart.bars.isEmpty ? nil : caption)
  }

  static func figure(_ id: String, svg: String, caption: String?) -> String {
    "<figure class=\"chart\" data-chart=\"\(id)\">\(svg)"
      + (caption.map { "<figcaption>\(SVG.escape($0))</figcaption>" } ?? "") + "</figure>\n"
  }

  static func bucketTable(_ buckets: [CampaignFolder.Bucket], linkBase: String) -> String {
    let sorted = buckets.sorted {
      ($0.record.tuple.kind.reportClass, $0.id) < ($1.record.tuple.kind.reportClass, $1.id)
    }
    guard !sorted.isEmpty else { return "<p class=\"muted\">No buckets in Crashes/.</p>\n" }
    var out = "<table id=\"buckets\" class=\"buckets\">\n<thead><tr><th>id</th><th>title</th><th>kind</th>"
    out += "<th>backend</th><th>verdict</th><th class=\"num\">count</th><th>first seen</th><th>last seen</th>"
    out += "<th>minimized</th><th>links</th></tr></thead>\n<tbody>\n"
    for b in sorted {
      let r = b.record
      let e = SVG.escape
      let klass = ["target-bug", "reference-disagreement", "unstable"][r.tuple.kind.reportClass.rawValue]
      out += "<tr data-bucket=\"\(e(b.id))\" class=\"\(klass)\">"
      out += "<td class=\"id\"><code>\(e(b.id))</code></td>"
      out += "<td class=\"title\"\(r.message.map { " title=\"\(e($0))\"" } ?? "")>\(e(r.title))</td>"
      out += "<td>\(e(r.tuple.kind.rawValue))<br><span class=\"muted\">\(e(r.tuple.stage))</span></td>"
      out += "<td>\(e(r.tuple.backend))</td>"
      let verdict = r.triage?.verdict.rawValue
      out += "<td>" + (verdict.map { "<span class=\"verdict \(e($0))\">\(e($0))</span>" } ?? "–") + "</td>"
      // Date and time may go on two lines: the title gets the width.
      let seen = { (t: String) in
        t.split(separator: "T", maxSplits: 1).map { "<span>\(e(String($0)))</span>" }.joined(separator: " ")
      }
      out += "<td class=\"num\">\(r.count)</td><td class=\"time\">\(seen(r.firstSeen))</td>"
      out += "<td class=\"time\">\(seen(r.lastSeen))</td>"
      let size = r.triage.map { "\($0.nodesBefore) → \($0.nodesAfter)" } ?? b.minimizedNodes.map { "\($0)" }
      out += "<td class=\"num\">\(size ?? "–")</td><td class=\"links\">"
      var links: [String] = []
      let shown = 5
      for name in b.instances.prefix(shown) {
        links.append(anchor(link(linkBase, ["Crashes", b.id, "instances", name], directory: true), name))
      }
      if b.instances.count > shown {
        links.append(
          anchor(
            link(linkBase, ["Crashes", b.id, "instances"], directory: true),
            "+\(b.instances.count - shown) more"))
      }
      if b.minimizedNodes != nil {
        links.append(
          anchor(link(linkBase, ["Crashes", b.id, "minimized", "model.dlsmith.json"]), "minimized model"))
      }
      if let repro = b.bundleRepro {
        links.append(
          anchor(link(linkBase, ["Crashes", b.id, "bundle"], directory: true), "bundle") + " ("
            + anchor(link(linkBase, ["Crashes", b.id, "bundle", repro]), repro) + ")")
      }
      out += links.joined(separator: "<br>") + "</td></tr>\n"
    }
    return out + "</tbody>\n</table>\n"
  }

  /// A relative URL: `base` (the path to the campaign folder) then `components`, each
  /// percent-encoded (a colon too: `a:b/…` would read as a URL scheme).
  static func link(_ base: String, _ components: [String], directory: Bool = false) -> String {
    let allowed = CharacterSet.urlPathAllowed.subtracting(CharacterSet(charactersIn: "/;?:"))
    let parts = base.split(separator: "/").map(String.init).filter { $0 != "." } + components
    return (base.hasPrefix("/") ? "/" : "")
      + parts.map { $0.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0 }.joined(separator: "/")
      + (directory ? "/" : "")
  }

  static func anchor(_ href: String, _ text: String) -> String {
    "<a href=\"\(SVG.escape(href))\">\(SVG.escape(text))</a>"
  }

  /// `a / b` when both are known and `b` is positive.
  static func ratio(_ a: Double?, _ b: Double?) -> Double? {
    guard let a, let b, b > 0 else { return nil }
    return a / b
  }

  static func grouped(_ v: Double) -> String {
    let n = Int(v.rounded())
    let digits = String(abs(n))
    var out = ""
    for (i, c) in digits.enumerated() {
      if i > 0, (digits.count - i) % 3 == 0 { out += "," }
      out.append(c)
    }
    return (n < 0 ? "-" : "") + out
  }

  static func duration(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    if s < 120 { return "\(s) s" }
    if s < 7200 { return s % 60 == 0 ? "\(s / 60) min" : "\(s / 60) min \(s % 60) s" }
    return "\(s / 3600) h \(String(format: "%02d", s / 60 % 60)) min"
  }

  static let style = """
    :root{--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--bg:#f6f8fa;--card:#fff}
    *{box-sizing:border-box}
    body{margin:0 auto;max-width:1400px;padding:20px 28px 40px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",\
    Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
    h1{font-size:22px;margin:0 0 2px}h2{font-size:17px;margin:28px 0 10px;padding-bottom:4px;\
    border-bottom:1px solid var(--line)}
    code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
    .folder{margin:0 0 14px}.muted{color:var(--muted)}
    .summary{display:grid;grid-template-columns:repeat(6,1fr);gap:10px;margin:0 0 14px}
    .tile{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:8px 12px}
    .tile dt{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
    .tile dd{margin:0;font-size:22px;font-weight:600}.tile dd.detail{font-size:12px;font-weight:400;\
    color:var(--muted)}
    .grid{display:grid;gap:14px;align-items:start}.grid.two{grid-template-columns:repeat(2,minmax(0,1fr))}
    .grid.one{grid-template-columns:minmax(0,1fr)}.grid.three{grid-template-columns:repeat(3,minmax(0,1fr))}
    figure.chart{margin:0;background:var(--card);border:1px solid var(--line);border-radius:6px;padding:6px}
    figure.chart svg{display:block;width:100%;height:auto}
    figcaption{font-size:12px;color:var(--muted);padding:2px 8px 4px}
    svg text{font:11px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:#444}
    svg .chart-title{font-size:13px;font-weight:600;fill:var(--fg)}
    svg .axis-label{fill:var(--muted)}svg .no-data{font-size:14px;fill:var(--muted)}
    svg .grid line{stroke:#eaeef2}svg .axis line{stroke:#8c959f}svg .frame{fill:#fafbfc;stroke:#eaeef2}
    svg .value{fill:var(--muted);font-size:10px}svg .value.small{font-size:9px}
    table{border-collapse:collapse;width:100%;background:var(--card);font-size:13px}
    th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
    th{background:#eef1f4;font-weight:600}td.num,th.num{text-align:right;white-space:nowrap}
    table.shards{margin:0 0 4px}table.buckets{margin-top:14px}
    td.id code{white-space:nowrap}td.time{font-size:12px}td.time span{white-space:nowrap}td.title{min-width:240px}
    td.links{font-size:12px}td.links a{white-space:nowrap}a{color:#0969da;text-decoration:none}a:hover{text-decoration:underline}
    tr.reference-disagreement td{background:#fff8e6}tr.unstable td{background:#f4f4f4}
    .verdict{padding:1px 6px;border-radius:10px;font-size:12px;white-space:nowrap;background:#eaeef2}
    .verdict.target-bug{background:#ffebe9;color:#a40e26}.verdict.reference-disagreement{background:#fff1c2}
    .verdict.unconfirmed{background:#ddf4ff}
    """
}
