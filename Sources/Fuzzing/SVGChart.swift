import Foundation

/// Hand-written SVG for `HTMLReport`: line charts over time and bar charts, with axes, ticks,
/// labels and a legend. No script, no external resource: the markup is inlined in the page.
///
/// Every data series is one `<polyline points="…">` (line charts) or one `<path d="…">` (bar
/// charts) with real coordinates; axes, grid lines and legend swatches are `<line>`s, so a reader
/// (or a test) finds the data by those two elements. A chart without data shows the text
/// "no data" and no series element.
public enum SVG {
  /// Text and attribute values escaped for HTML and SVG (`& < > " '`).
  public static func escape(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.count)
    for c in text {
      switch c {
      case "&": out += "&amp;"
      case "<": out += "&lt;"
      case ">": out += "&gt;"
      case "\"": out += "&quot;"
      case "'": out += "&#39;"
      default: out.append(c)
      }
    }
    return out
  }

  /// A coordinate with at most two decimals and no trailing zeros (`12`, `12.5`, `12.25`).
  public static func coordinate(_ v: Double) -> String { trimmed(v, decimals: 2) }

  /// Series colours (Tableau 10), reused in order when there are more series.
  public static let palette = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
    "#bab0ac",
  ]

  /// Series dash patterns, with the colours: series that coincide (targets that all ran every
  /// model) stay visible through one another's gaps.
  public static let dashes = ["", "7 4", "2 3", "10 3 2 3"]

  /// The stroke of series `index`: its colour and, after the first, a dash pattern.
  static func stroke(_ index: Int) -> String {
    let dash = dashes[index % dashes.count]
    return "stroke=\"\(palette[index % palette.count])\""
      + (dash.isEmpty ? "" : " stroke-dasharray=\"\(dash)\"")
  }

  /// Approximate width of `text` at the charts' 11 px sans-serif font, for layout only.
  static func textWidth(_ text: String, fontSize: Double = 11) -> Double {
    Double(text.count) * fontSize * 0.58
  }

  /// A tick label: `1.5k`, `12k`, `3.4M` for large values; else as few decimals as `step` needs.
  public static func tickLabel(_ v: Double, step: Double) -> String {
    let a = abs(v)
    if a >= 1e6 { return trimmed(v / 1e6, decimals: step >= 1e6 ? 0 : 1) + "M" }
    if a >= 1e4 { return trimmed(v / 1e3, decimals: step >= 1e3 ? 0 : 1) + "k" }
    let decimals = step >= 1 ? 0 : min(6, Int((-log10(step)).rounded(.up)))
    return trimmed(v, decimals: decimals)
  }

  static func trimmed(_ v: Double, decimals: Int) -> String {
    var s = String(format: "%.\(decimals)f", v)
    if s.contains(".") {
      while s.hasSuffix("0") { s.removeLast() }
      if s.hasSuffix(".") { s.removeLast() }
    }
    return s == "-0" ? "0" : s
  }

  /// The "no data" text centred in a box.
  static func noData(x: Double, y: Double) -> String {
    "<text class=\"no-data\" x=\"\(coordinate(x))\" y=\"\(coordinate(y))\" text-anchor=\"middle\">no data</text>"
  }

  /// An `<svg>` element of the given size with a visible title and an accessible `<title>`.
  static func open(width: Double, height: Double, title: String, kind: String) -> String {
    let w = coordinate(width)
    let h = coordinate(height)
    return """
      <svg xmlns="http://www.w3.org/2000/svg" class="\(kind)" viewBox="0 0 \(w) \(h)" width="\(w)" \
      height="\(h)" role="img"><title>\(escape(title))</title>\
      <text class="chart-title" x="8" y="18">\(escape(title))</text>
      """
  }
}

/// A linear map from a data interval onto a pixel interval (`from` may exceed `to`: the y axis
/// grows upwards while pixels grow downwards).
public struct LinearScale: Sendable {
  public var domain: (lower: Double, upper: Double)
  public var range: (from: Double, to: Double)

  public init(domain: (lower: Double, upper: Double), range: (from: Double, to: Double)) {
    self.domain = domain
    self.range = range
  }

  public func callAsFunction(_ v: Double) -> Double {
    let span = domain.upper - domain.lower
    guard span > 0 else { return range.from }
    return range.from + (v - domain.lower) / span * (range.to - range.from)
  }

  /// About `count` round tick values (steps of 1, 2 or 5 × 10ⁿ, at least `minimumStep`) covering
  /// `lower...upper`: the first at or below `lower`, the last at or above `upper`.
  public static func niceTicks(lower: Double, upper: Double, count: Int = 5, minimumStep: Double = 0)
    -> [Double]
  {
    var lower = lower
    var upper = upper
    if !(upper > lower) {
      upper = lower + max(1, abs(lower))
      lower = lower == 0 ? 0 : lower - max(1, abs(lower))
    }
    let raw = max((upper - lower) / Double(max(1, count)), minimumStep)
    let magnitude = pow(10, floor(log10(raw)))
    let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw * (1 - 1e-12) } ?? 10 * magnitude
    let first = (lower / step).rounded(.down)
    let last = (upper / step).rounded(.up)
    return stride(from: first, through: last, by: 1).map { $0 * step }
  }
}

/// A line chart: one polyline per series over a shared x axis (time) and y axis (from zero).
public struct LineChart: Sendable {
  public struct Point: Sendable, Equatable {
    public var x: Double
    public var y: Double
    public init(_ x: Double, _ y: Double) {
      self.x = x
      self.y = y
    }
  }

  public struct Series: Sendable {
    public var name: String
    public var points: [Point]
    public init(_ name: String, _ points: [Point]) {
      self.name = name
      self.points = points
    }
  }

  public var title: String
  public var xLabel: String
  public var yLabel: String
  public var series: [Series]
  public var width: Double = 640
  /// Height of the plot area; the legend adds rows below.
  public var plotHeight: Double = 220
  public var margin = (top: 30.0, right: 18.0, bottom: 40.0, left: 58.0)

  public init(title: String, xLabel: String, yLabel: String, series: [Series]) {
    self.title = title
    self.xLabel = xLabel
    self.yLabel = yLabel
    self.series = series
  }

  /// Whether any series has a point to draw.
  public var hasData: Bool { series.contains { !$0.points.isEmpty } }

  /// The x and y ticks. The x axis spans the data (from zero), with round ticks inside it; the y
  /// axis starts at zero (or below, for negative values) and ends at a round tick at or above the
  /// data. Integer data gets integer ticks.
  public var ticks: (x: [Double], y: [Double]) {
    let points = series.flatMap(\.points)
    let (xLower, xUpper) = xDomain
    let x = LinearScale.niceTicks(lower: xLower, upper: xUpper, count: 8).filter {
      $0 >= xLower - 1e-9 * abs(xUpper - xLower) && $0 <= xUpper + 1e-9 * abs(xUpper - xLower)
    }
    let ys = points.map(\.y)
    let integral = ys.allSatisfy { $0 == $0.rounded() }
    let y = LinearScale.niceTicks(
      lower: min(0, ys.min() ?? 0), upper: ys.max() ?? 1, count: 5, minimumStep: integral ? 1 : 0)
    return (x, y)
  }

  /// The data's x extent, from zero (or below); a point's worth when all x are equal.
  var xDomain: (lower: Double, upper: Double) {
    let xs = series.flatMap(\.points).map(\.x)
    let lower = min(0, xs.min() ?? 0)
    let upper = xs.max() ?? 1
    return upper > lower ? (lower, upper) : (lower, lower + 1)
  }

  /// The scales from data to pixels.
  public var scales: (x: LinearScale, y: LinearScale) {
    let yt = ticks.y
    let x = LinearScale(domain: xDomain, range: (margin.left, width - margin.right))
    let y = LinearScale(
      domain: (yt.first ?? 0, yt.last ?? 1), range: (margin.top + plotHeight, margin.top))
    return (x, y)
  }

  /// The `points` attribute of a series' polyline.
  public func polylinePoints(_ s: Series) -> String {
    let (x, y) = scales
    return s.points.map { "\(SVG.coordinate(x($0.x))),\(SVG.coordinate(y($0.y)))" }
      .joined(separator: " ")
  }

  /// Legend items of the series with points, laid out in rows under the plot: (series index, x,
  /// row).
  func legendLayout() -> [(index: Int, x: Double, row: Int)] {
    var out: [(Int, Double, Int)] = []
    var x = margin.left
    var row = 0
    for (i, s) in series.enumerated() where !s.points.isEmpty {
      let w = 22 + SVG.textWidth(s.name) + 16
      if x + w > width - margin.right, x > margin.left {
        row += 1
        x = margin.left
      }
      out.append((i, x, row))
      x += w
    }
    return out
  }

  public func svg() -> String {
    let top = margin.top
    let bottom = margin.top + plotHeight
    let left = margin.left
    let right = width - margin.right
    let c = SVG.coordinate
    guard hasData else {
      // A low empty frame: a page of charts without data should not be mostly blank.
      var out = SVG.open(width: width, height: top + 70, title: title, kind: "line-chart")
      out += "<rect class=\"frame\" x=\"\(c(left))\" y=\"\(c(top))\" width=\"\(c(right - left))\" "
      out += "height=\"60\"/>" + SVG.noData(x: (left + right) / 2, y: top + 35)
      return out + "</svg>"
    }
    let legend = legendLayout()
    let legendRows = (legend.map(\.row).max() ?? -1) + 1
    let height = bottom + margin.bottom + Double(legendRows) * 18
    var out = SVG.open(width: width, height: height, title: title, kind: "line-chart")
    let (xTicks, yTicks) = ticks
    let (x, y) = scales
    let xStep = xTicks.count > 1 ? xTicks[1] - xTicks[0] : 1
    let yStep = yTicks.count > 1 ? yTicks[1] - yTicks[0] : 1
    out += "<g class=\"grid\">"
    for t in yTicks {
      out += "<line x1=\"\(c(left))\" y1=\"\(c(y(t)))\" x2=\"\(c(right))\" y2=\"\(c(y(t)))\"/>"
    }
    out += "</g><g class=\"axis\">"
    out += "<line x1=\"\(c(left))\" y1=\"\(c(bottom))\" x2=\"\(c(right))\" y2=\"\(c(bottom))\"/>"
    out += "<line x1=\"\(c(left))\" y1=\"\(c(top))\" x2=\"\(c(left))\" y2=\"\(c(bottom))\"/>"
    for t in xTicks {
      out += "<line x1=\"\(c(x(t)))\" y1=\"\(c(bottom))\" x2=\"\(c(x(t)))\" y2=\"\(c(bottom + 4))\"/>"
      out += "<text x=\"\(c(x(t)))\" y=\"\(c(bottom + 16))\" text-anchor=\"middle\">"
      out += "\(SVG.tickLabel(t, step: xStep))</text>"
    }
    for t in yTicks {
      out += "<text x=\"\(c(left - 6))\" y=\"\(c(y(t) + 4))\" text-anchor=\"end\">"
      out += "\(SVG.tickLabel(t, step: yStep))</text>"
    }
    out += "<text class=\"axis-label\" x=\"\(c((left + right) / 2))\" y=\"\(c(bottom + 32))\" "
    out += "text-anchor=\"middle\">\(SVG.escape(xLabel))</text>"
    out += "<text class=\"axis-label\" transform=\"translate(14 \(c((top + bottom) / 2))) rotate(-90)\" "
    out += "text-anchor=\"middle\">\(SVG.escape(yLabel))</text></g>"
    for (i, s) in series.enumerated() where !s.points.isEmpty {
      let color = SVG.palette[i % SVG.palette.count]
      out += "<polyline class=\"series\" data-series=\"\(SVG.escape(s.name))\" fill=\"none\" "
      out += "\(SVG.stroke(i)) stroke-width=\"1.8\" stroke-linejoin=\"round\" "
      out += "points=\"\(polylinePoints(s))\"><title>\(SVG.escape(s.name))</title></polyline>"
      if s.points.count == 1, let p = s.points.first {
        out += "<circle cx=\"\(c(x(p.x)))\" cy=\"\(c(y(p.y)))\" r=\"3\" fill=\"\(color)\"/>"
      }
    }
    out += "<g class=\"legend\">"
    for item in legend {
      let ly = bottom + margin.bottom + Double(item.row) * 18 + 4
      out += "<line x1=\"\(c(item.x))\" y1=\"\(c(ly + 2))\" x2=\"\(c(item.x + 18))\" y2=\"\(c(ly + 2))\" "
      out += "\(SVG.stroke(item.index)) stroke-width=\"2.5\"/>"
      out += "<text x=\"\(c(item.x + 22))\" y=\"\(c(ly + 5))\">\(SVG.escape(series[item.index].name))</text>"
    }
    return out + "</g></svg>"
  }
}

/// A bar chart: one labelled bar per category, all bars of the chart in one path. Horizontal bars
/// (labels on the left) suit a few categories; vertical bars (labels slanted under the axis) fit
/// many categories across a wide chart.
public struct BarChart: Sendable {
  public struct Bar: Sendable, Equatable {
    public var label: String
    public var value: Double
    public init(_ label: String, _ value: Double) {
      self.label = label
      self.value = value
    }
  }

  public enum Orientation: Sendable {
    case horizontal, vertical
  }

  public var title: String
  public var bars: [Bar]
  public var orientation = Orientation.horizontal
  public var color = SVG.palette[0]
  public var width: Double = 640
  /// Height of a horizontal bar's row; of the plot area of vertical bars.
  public var rowHeight: Double = 16
  public var plotHeight: Double = 200
  /// Labels longer than this are cut with an ellipsis (the full label is the label's tooltip).
  public var maxLabelCharacters = 28
  /// Top of the bars (below the title and the value ticks).
  let top = 46.0

  public init(title: String, bars: [Bar], orientation: Orientation = .horizontal) {
    self.title = title
    self.bars = bars
    self.orientation = orientation
  }

  func label(_ text: String) -> String {
    text.count <= maxLabelCharacters ? text : String(text.prefix(maxLabelCharacters - 1)) + "…"
  }

  var longestLabel: Double { bars.map { SVG.textWidth(label($0.label)) }.max() ?? 0 }

  /// The value ticks, from zero to a round number at or above the largest value (whole numbers
  /// for whole values).
  public var ticks: [Double] {
    let integral = bars.allSatisfy { $0.value == $0.value.rounded() }
    return LinearScale.niceTicks(
      lower: 0, upper: bars.map(\.value).max() ?? 1, count: orientation == .horizontal ? 4 : 5,
      minimumStep: integral ? 1 : 0)
  }

  /// The scale from values to pixels: x for horizontal bars (room on the left for the labels and
  /// on the right for the value labels), y for vertical bars.
  public var scale: LinearScale {
    let top = ticks.last ?? 1
    switch orientation {
    case .horizontal:
      let left = min(width / 2, 14 + longestLabel)
      let valueRoom = SVG.textWidth(SVG.tickLabel(top, step: 1)) + 10
      return LinearScale(domain: (0, top), range: (left, width - 8 - valueRoom))
    case .vertical:
      return LinearScale(domain: (0, top), range: (self.top + plotHeight, self.top))
    }
  }

  /// Vertical bars: the left edge of the plot and the width of a bar's slot.
  var columns: (left: Double, slot: Double) {
    let left = 50.0
    return (left, (width - left - 10) / Double(max(1, bars.count)))
  }

  /// Slanted labels under vertical bars: their angle and the height they need.
  static let labelAngle = 60.0
  var labelHeight: Double { longestLabel * sin(Self.labelAngle * .pi / 180) + 16 }

  /// The `d` attribute of the bars' path: one closed rectangle per bar.
  public func barPath() -> String {
    let c = SVG.coordinate
    let v = scale
    switch orientation {
    case .horizontal:
      return bars.enumerated().map { i, b in
        let y = top + Double(i) * rowHeight + 2
        return "M\(c(v(0))) \(c(y))H\(c(v(max(0, b.value))))V\(c(y + rowHeight - 4))H\(c(v(0)))Z"
      }.joined()
    case .vertical:
      let (left, slot) = columns
      let gap = min(4, slot * 0.25)
      return bars.enumerated().map { i, b in
        let x = left + Double(i) * slot + gap / 2
        return "M\(c(x)) \(c(v(0)))V\(c(v(max(0, b.value))))H\(c(x + slot - gap))V\(c(v(0)))Z"
      }.joined()
    }
  }

  public func svg() -> String {
    let c = SVG.coordinate
    guard !bars.isEmpty else {
      var out = SVG.open(width: width, height: 90, title: title, kind: "bar-chart")
      out += "<rect class=\"frame\" x=\"8\" y=\"30\" width=\"\(c(width - 16))\" height=\"50\"/>"
      return out + SVG.noData(x: width / 2, y: 60) + "</svg>"
    }
    let ticks = ticks
    let v = scale
    let step = ticks.count > 1 ? ticks[1] - ticks[0] : 1
    let e = SVG.escape
    var body = ""
    let height: Double
    switch orientation {
    case .horizontal:
      let bottom = top + Double(bars.count) * rowHeight
      height = bottom + 10
      body += "<g class=\"grid\">"
      for t in ticks {
        body += "<line x1=\"\(c(v(t)))\" y1=\"\(c(top - 4))\" x2=\"\(c(v(t)))\" y2=\"\(c(bottom))\"/>"
      }
      body += "</g><g class=\"axis\">"
      for t in ticks {
        body += "<text x=\"\(c(v(t)))\" y=\"\(c(top - 8))\" text-anchor=\"middle\">"
        body += "\(SVG.tickLabel(t, step: step))</text>"
      }
      body += "<line x1=\"\(c(v(0)))\" y1=\"\(c(top - 4))\" x2=\"\(c(v(0)))\" y2=\"\(c(bottom))\"/>"
      for (i, b) in bars.enumerated() {
        let y = top + Double(i) * rowHeight + rowHeight / 2 + 4
        body += "<text x=\"\(c(v(0) - 6))\" y=\"\(c(y))\" text-anchor=\"end\"><title>\(e(b.label))</title>"
        body += "\(e(label(b.label)))</text>"
        body += "<text class=\"value\" x=\"\(c(v(max(0, b.value)) + 4))\" y=\"\(c(y))\">"
        body += "\(SVG.tickLabel(b.value, step: b.value == b.value.rounded() ? 1 : 0.1))</text>"
      }
    case .vertical:
      let (left, slot) = columns
      let bottom = top + plotHeight
      let right = width - 10
      height = bottom + labelHeight
      body += "<g class=\"grid\">"
      for t in ticks {
        body += "<line x1=\"\(c(left))\" y1=\"\(c(v(t)))\" x2=\"\(c(right))\" y2=\"\(c(v(t)))\"/>"
      }
      body += "</g><g class=\"axis\">"
      for t in ticks {
        body += "<text x=\"\(c(left - 6))\" y=\"\(c(v(t) + 4))\" text-anchor=\"end\">"
        body += "\(SVG.tickLabel(t, step: step))</text>"
      }
      body += "<line x1=\"\(c(left))\" y1=\"\(c(bottom))\" x2=\"\(c(right))\" y2=\"\(c(bottom))\"/>"
      for (i, b) in bars.enumerated() {
        let x = left + (Double(i) + 0.5) * slot
        body += "<text transform=\"translate(\(c(x + 3)) \(c(bottom + 10))) rotate(-\(c(Self.labelAngle)))\" "
        body += "text-anchor=\"end\"><title>\(e(b.label)): \(SVG.tickLabel(b.value, step: 0.1))</title>"
        body += "\(e(label(b.label)))</text>"
        let value = SVG.tickLabel(b.value, step: b.value == b.value.rounded() ? 1 : 0.1)
        if SVG.textWidth(value, fontSize: 9) <= slot {
          body += "<text class=\"value small\" x=\"\(c(x))\" y=\"\(c(v(max(0, b.value)) - 3))\" "
          body += "text-anchor=\"middle\">\(value)</text>"
        }
      }
    }
    var out = SVG.open(width: width, height: height, title: title, kind: "bar-chart")
    out += body + "</g><path class=\"series\" data-series=\"\(e(title))\" fill=\"\(color)\" "
    out += "d=\"\(barPath())\"/>"
    return out + "</svg>"
  }
}
