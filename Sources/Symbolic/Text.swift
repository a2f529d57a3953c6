// The one text syntax of `Dim` and `Constraint`, used by `dlsmith ops`, rule files and JSON.
//
//   expr  := term (('+' | '-') term)*
//   term  := unary (('*' | '/' | '%') unary)*        // '/' and '%' are floor division / modulo
//   unary := '-' unary | INT | NAME | ('min' | 'max') '(' expr ',' expr ')' | '(' expr ')'
//   pred  := conj ('||' conj)* ;  conj := atom ('&&' atom)*
//   atom  := 'true' | 'false' | '!' atom | expr CMP expr | '(' pred ')'
//
// Printing inserts only the parentheses that precedence requires, and parsing rebuilds the value
// through the folding constructors, so `Dim(parsing: d.description) == d` for folded expressions.

extension Dim: CustomStringConvertible {
  private var precedence: Int {
    switch self {
    case .constant(let v): return v < 0 ? 2 : 3
    case .symbol, .min, .max: return 3
    case .add, .sub: return 1
    case .mul, .floorDiv, .mod: return 2
    }
  }

  private func wrapped(_ d: Dim, below p: Int) -> String {
    d.precedence < p ? "(\(d))" : d.description
  }

  public var description: String {
    switch self {
    case .constant(let v): return String(v)
    case .symbol(let s): return s
    case .add(let a, let b): return "\(wrapped(a, below: 1)) + \(wrapped(b, below: 2))"
    case .sub(let a, let b): return "\(wrapped(a, below: 1)) - \(wrapped(b, below: 2))"
    case .mul(let a, let b): return "\(wrapped(a, below: 2)) * \(wrapped(b, below: 3))"
    case .floorDiv(let a, let b): return "\(wrapped(a, below: 2)) / \(wrapped(b, below: 3))"
    case .mod(let a, let b): return "\(wrapped(a, below: 2)) % \(wrapped(b, below: 3))"
    case .min(let a, let b): return "min(\(a), \(b))"
    case .max(let a, let b): return "max(\(a), \(b))"
    }
  }
}

extension Constraint: CustomStringConvertible {
  public var description: String {
    switch self {
    case .constant(let b): return b ? "true" : "false"
    case .compare(let c, let l, let r): return "\(l) \(c.rawValue) \(r)"
    case .and(let ps):
      return ps.map { if case .or = $0 { return "(\($0))" } else { return "\($0)" } }
        .joined(separator: " && ")
    case .or(let ps): return ps.map(\.description).joined(separator: " || ")
    case .not(let p):
      if case .compare = p { return "!(\(p))" }
      if case .constant = p { return "!\(p)" }
      return "!(\(p))"
    }
  }
}

/// A parse error with the offending position.
public struct SymbolicParseError: Error, CustomStringConvertible, Sendable {
  public let text: String
  public let offset: Int
  public let message: String
  public var description: String { "cannot parse '\(text)' at offset \(offset): \(message)" }
}

struct SymbolicParser {
  let chars: [Character]
  let text: String
  var pos = 0

  init(_ text: String) {
    self.text = text
    self.chars = Array(text)
  }

  func fail(_ m: String) -> SymbolicParseError { .init(text: text, offset: pos, message: m) }

  mutating func skipSpace() { while pos < chars.count, chars[pos].isWhitespace { pos += 1 } }

  mutating func accept(_ s: String) -> Bool {
    skipSpace()
    let cs = Array(s)
    guard pos + cs.count <= chars.count, Array(chars[pos..<pos + cs.count]) == cs else {
      return false
    }
    // A keyword must not run into a following name character.
    if let last = cs.last, last.isLetter, pos + cs.count < chars.count,
      Self.isNameChar(chars[pos + cs.count])
    {
      return false
    }
    pos += cs.count
    return true
  }

  mutating func expect(_ s: String) throws(SymbolicParseError) {
    if !accept(s) { throw fail("expected '\(s)'") }
  }

  static func isNameChar(_ c: Character) -> Bool {
    c.isLetter || c.isNumber || c == "_" || c == "." || c == "@"
  }

  var atEnd: Bool {
    mutating get {
      skipSpace()
      return pos == chars.count
    }
  }

  mutating func expr() throws(SymbolicParseError) -> Dim {
    var lhs = try term()
    while true {
      if accept("+") {
        lhs = lhs + (try term())
      } else if peekMinusOperator(), accept("-") {
        lhs = lhs - (try term())
      } else {
        return lhs
      }
    }
  }

  /// A '-' that is not the start of '->' or similar.
  mutating func peekMinusOperator() -> Bool {
    skipSpace()
    return pos < chars.count && chars[pos] == "-"
  }

  mutating func term() throws(SymbolicParseError) -> Dim {
    var lhs = try unary()
    while true {
      if accept("*") {
        lhs = lhs * (try unary())
      } else if accept("/") {
        lhs = lhs / (try unary())
      } else if accept("%") {
        lhs = lhs % (try unary())
      } else {
        return lhs
      }
    }
  }

  mutating func unary() throws(SymbolicParseError) -> Dim {
    skipSpace()
    guard pos < chars.count else { throw fail("unexpected end") }
    if accept("-") { return -(try unary()) }
    if accept("(") {
      let e = try expr()
      try expect(")")
      return e
    }
    for (kw, make) in [("min", Dim.minimum), ("max", Dim.maximum)] where accept(kw) {
      try expect("(")
      let a = try expr()
      try expect(",")
      let b = try expr()
      try expect(")")
      return make(a, b)
    }
    let c = chars[pos]
    if c.isNumber {
      var s = ""
      while pos < chars.count, chars[pos].isNumber {
        s.append(chars[pos])
        pos += 1
      }
      guard let v = Int(s) else { throw fail("integer out of range") }
      return .constant(v)
    }
    if c.isLetter || c == "_" || c == "@" {
      var s = ""
      while pos < chars.count, Self.isNameChar(chars[pos]) {
        s.append(chars[pos])
        pos += 1
      }
      return .symbol(s)
    }
    throw fail("unexpected '\(c)'")
  }

  mutating func predicate() throws(SymbolicParseError) -> Constraint {
    var terms = [try conjunction()]
    while accept("||") { terms.append(try conjunction()) }
    return .any(terms)
  }

  mutating func conjunction() throws(SymbolicParseError) -> Constraint {
    var terms = [try atom()]
    while accept("&&") { terms.append(try atom()) }
    return .all(terms)
  }

  mutating func atom() throws(SymbolicParseError) -> Constraint {
    if accept("true") { return .constant(true) }
    if accept("false") { return .constant(false) }
    skipSpace()
    if pos < chars.count, chars[pos] == "!", pos + 1 >= chars.count || chars[pos + 1] != "=" {
      pos += 1
      return !(try atom())
    }
    let start = pos
    // Try `expr CMP expr` first; on failure, a parenthesized predicate.
    if let lhs = try? expr() {
      for c in [Comparison.eq, .ne, .le, .ge, .lt, .gt] where accept(c.rawValue) {
        return .comparing(c, lhs, try expr())
      }
    }
    pos = start
    try expect("(")
    let p = try predicate()
    try expect(")")
    return p
  }
}

extension Dim {
  /// Parses the text syntax (see `description`).
  public init(parsing text: String) throws(SymbolicParseError) {
    var p = SymbolicParser(text)
    let d = try p.expr()
    guard p.atEnd else { throw p.fail("trailing text") }
    self = d
  }
}

extension Constraint {
  /// Parses the text syntax (see `description`).
  public init(parsing text: String) throws(SymbolicParseError) {
    var p = SymbolicParser(text)
    let d = try p.predicate()
    guard p.atEnd else { throw p.fail("trailing text") }
    self = d
  }
}

// MARK: - Codable as text

extension Dim: Codable {
  public init(from decoder: any Decoder) throws {
    let c = try decoder.singleValueContainer()
    if let v = try? c.decode(Int.self) {
      self = .constant(v)
      return
    }
    self = try Dim(parsing: c.decode(String.self))
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.singleValueContainer()
    if case .constant(let v) = self { try c.encode(v) } else { try c.encode(description) }
  }
}

extension Constraint: Codable {
  public init(from decoder: any Decoder) throws {
    let c = try decoder.singleValueContainer()
    self = try Constraint(parsing: c.decode(String.self))
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.singleValueContainer()
    try c.encode(description)
  }
}
