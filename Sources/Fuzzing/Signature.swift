import Foundation

/// What kind of finding a run produced.
public enum FindingKind: String, Codable, Sendable, CaseIterable {
  case crash, exit, error, hang, oom, mismatch, unstable
  /// Independent implementations side with the target against our reference (`Triage`): a defect
  /// of DLSmith, kept apart from target bugs.
  case referenceDisagreement = "reference-disagreement"

  /// Whether this kind claims a bug in the target.
  public var isTargetBug: Bool { self != .unstable && self != .referenceDisagreement }
}

/// The identity of a bug: a versioned canonical tuple and its SHA-256.
///
/// `state` by kind: crash `sig=SIGSEGV`; exit `exit=3`; error `op=<ONNX op> <normalized message>`
/// (the operator the message blames, or the one localization found; see `normalize`); hang and oom
/// the stage; mismatch (and unstable), after triage (`Triage.signed`): `op=<culprit> dtype=<d>
/// class=<c>` when one node alone reproduces it (the dtype the target computes it in), else
/// `op=<node producing the wrong output> after=<families of the nodes it needs> class=<c>`, or
/// `op=<node> after=*` when it fails behind any computed input (any class: one rewrite of the node
/// can give wrong shapes or wrong values), `after=const` when it fails only on inputs folded from
/// constants (`Reducer.needsConstants`), `after=any` for wrong values from a node that only moves
/// elements (shape and indexing families). A wrong shape at a node that only reshapes its input
/// (`Judge.onlyReshapes`) names the reshape operator.
/// Operators are named as the target knows them: ONNX types for targets that receive ONNX. Before
/// triage a mismatch is `ops=<sorted operators of the model> dtype=<d> class=<c>`. One wrong
/// kernel gives one bucket whatever bystanders the models carry.
///
/// Version 3: operators of ONNX targets by ONNX type, culprit dtypes as computed, `after=*` without
/// a class.
public struct Signature: Codable, Sendable, Hashable {
  public static let version = 3
  public var v: Int = Signature.version
  public var kind: FindingKind
  public var stage: String
  public var backend: String
  public var state: String

  public init(kind: FindingKind, stage: String, backend: String, state: String) {
    self.kind = kind
    self.stage = stage
    self.backend = backend
    self.state = state
  }

  /// Canonical JSON: sorted keys, no whitespace.
  public var canonical: String {
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return String(decoding: (try? enc.encode(self)) ?? Data(), as: UTF8.self)
  }

  public var hash: String { SHA256.hex(Array(canonical.utf8)) }
  /// The bucket folder name.
  public var short: String { String(hash.prefix(16)) }

  /// One-line human title.
  public var title: String {
    if state.hasPrefix(Signature.equivalentFormPrefix) {
      return "\(backend) disagrees with itself on an equivalent form: "
        + state.dropFirst(Signature.equivalentFormPrefix.count)
    }
    return "\(kind.rawValue) in \(backend) \(stage): \(state)"
  }

  /// The state prefix of an equivalent-form mismatch (`--equivalence`): `equivalent-form
  /// rewrite=<kind> dtype=<d> class=<c>`.
  public static let equivalentFormPrefix = "equivalent-form "

  /// The crash state of an error message: its meaningful line with everything that varies
  /// between instances of one cause replaced by placeholders.
  ///
  /// The line: for a Python traceback the last line naming an exception; otherwise the first line
  /// that says more than where it was raised (OpenVINO's "Exception from src/...:105:" and
  /// "Check 'false' failed at ..." headers and its conversion-report banners are skipped), prefixed
  /// by the exception type, with the next line appended when it ends in ":" (and names no failed
  /// check). Then, in order: file paths (with line numbers) become `PATH`, hex addresses `0xADDR`,
  /// node names in parentheses `node (X)`, ONNX type names `tensor(T)`, the arguments of TVM Relax
  /// calls `R.add(...)`, quoted words `'X'` (quoted text with spaces, such as a
  /// failed check's expression, is kept), shapes and lists of numbers (`{1,2}`, `[2, 3]`, `(2.3.1)`)
  /// `[S]`, `%12` value ids `%N`, identifiers with digits (`v12`, `n0_Add`, `input.5`, `float32`,
  /// `Reshape_15792`) `ID`, every other number `N`; whitespace collapses. Golden tests:
  /// `Tests/FuzzingTests/Fixtures/error-messages.json` (real messages of onnxruntime, OpenVINO, TVM
  /// and onnx.reference, three variants per cause).
  public static func normalize(_ message: String) -> String {
    let lines = message.split(whereSeparator: \.isNewline).map {
      $0.trimmingCharacters(in: .whitespaces)
    }.filter { !$0.isEmpty }
    guard let first = lines.first else { return "" }
    let exceptionPattern = "^[A-Za-z_.]*(Error|Exception|Fail|NotImplemented)[A-Za-z]*:"
    var line: String
    if first.contains("Traceback (most recent call last)") {
      line = lines.last { $0.range(of: exceptionPattern, options: .regularExpression) != nil } ?? lines.last!
    } else {
      let prefix = first.range(of: exceptionPattern, options: .regularExpression).map { String(first[$0]) }
      func isNoise(_ l: String) -> Bool {
        let t = substitute(l, [(pathPattern, "PATH"), (exceptionPattern, "")]).trimmingCharacters(
          in: .whitespaces)
        return t.range(
          of:
            "^(Exception from PATH:?|Check 'false' failed at PATH:?|FrontEnd API failed with .*:|Model wasn't fully converted.*|-- .* with a message:)$",
          options: .regularExpression) != nil
      }
      let rest = lines.filter { !isNoise($0) }
      line = rest.first ?? first
      if line.hasSuffix(":"), !line.contains("Check '"), rest.count > 1 { line += " " + rest[1] }
      if line != first, let prefix, !line.hasPrefix(prefix) { line = prefix + " " + line }
    }
    return substitute(
      line,
      [
        (pathPattern, "PATH"),
        ("0x[0-9a-fA-F]+", "0xADDR"),
        ("[Nn]ode \\([^)]*\\)", "node (X)"),
        ("<Node\\(([A-Za-z0-9_]+)\\): [^>]*>", "<Node($1): X>"),
        ("While validating node '([A-Za-z0-9]+::)?([A-Za-z0-9_]+) [^']*'", "While validating node '$2 X'"),
        ("tensor\\([a-z0-9]+\\)", "tensor(T)"),
        ("(R\\.[a-z_.]+)\\((?:[^()]|\\([^()]*\\))*\\)", "$1(...)"),
        ("'[^' ]*'", "'X'"),
        ("\"[^\" ]*\"", "'X'"),
        ("[\\[{(] *-?[0-9]+( *[,x.] *-?[0-9]+)* *,? *[\\]})]", "[S]"),
        ("[\\[{(] *[\\]})]", "[S]"),
        ("%[0-9]+", "%N"),
        ("\\b[A-Za-z_][A-Za-z_.]*[0-9][A-Za-z0-9_.]*", "ID"),
        ("-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?", "N"),
        ("\\s+", " "),
      ]
    ).trimmingCharacters(in: .whitespaces)
  }

  static let pathPattern = "(/?[A-Za-z0-9_.+-]+)?(/[A-Za-z0-9_.+-]+)+\\.[A-Za-z]+(:[0-9]+)?"

  static func substitute(_ text: String, _ rules: [(String, String)]) -> String {
    var s = text
    for (pattern, replacement) in rules {
      s = s.replacingOccurrences(of: pattern, with: replacement, options: .regularExpression)
    }
    return s
  }

  /// The ONNX operator type an error message blames, if it names one: onnxruntime's "running
  /// Reshape node" and "Op (Reshape)", OpenVINO's "<Node(Reshape): ...>" and "[CPU] Reshape node",
  /// onnx.reference's "(binary operator 'Add')". TVM names its own operators (`relax.add`), which
  /// are not taken.
  public static func blamedOperator(_ message: String) -> String? {
    let patterns = [
      "while running ([A-Za-z0-9_]+) node", "Op \\(([A-Za-z0-9_]+)\\)", "Optype \\(([A-Za-z0-9_]+)\\)",
      "<Node\\(([A-Za-z0-9_]+)\\)", "\\[CPU\\] ([A-Z][A-Za-z0-9]+) node", "binary operator '([A-Za-z0-9_]+)'",
      "operator ''([A-Za-z0-9_]+)''", "While validating node '[A-Za-z0-9]+::([A-Za-z0-9_]+) ",
    ]
    for p in patterns {
      guard let r = message.range(of: p, options: .regularExpression) else { continue }
      let match = String(message[r])
      let re = try? NSRegularExpression(pattern: p)
      if let m = re?.firstMatch(in: match, range: NSRange(match.startIndex..., in: match)),
        m.numberOfRanges > 1, let g = Range(m.range(at: 1), in: match)
      {
        return String(match[g])
      }
    }
    return nil
  }

  /// The first word of an error message's crash state (`normalize`: node and value names are gone)
  /// that is one of `operators` (ONNX operator types), when no pattern of `blamedOperator`
  /// matches: onnxruntime's "Unexpected data type for Clip 'min' input" from inside FuseReluClip
  /// names Clip this way (words are split at every character that is not a letter or digit, so
  /// `FuseReluClip` is one word).
  public static func mentionedOperator(_ message: String, among operators: Set<String>) -> String? {
    normalize(message).split { !$0.isLetter && !$0.isNumber }.lazy.map(String.init).first(
      where: operators.contains)
  }

  public static func signalName(_ s: Int32) -> String {
    switch s {
    case SIGSEGV: return "SIGSEGV"
    case SIGABRT: return "SIGABRT"
    case SIGBUS: return "SIGBUS"
    case SIGFPE: return "SIGFPE"
    case SIGILL: return "SIGILL"
    case SIGKILL: return "SIGKILL"
    case SIGTERM: return "SIGTERM"
    case SIGTRAP: return "SIGTRAP"
    default: return "signal \(s)"
    }
  }
}
