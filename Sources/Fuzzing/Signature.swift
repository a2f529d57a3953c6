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
/// the stage; mismatch (and unstable) `op=<culprit> dtype=<d> class=<c>` when one node alone
/// reproduces it (the culprit found by localization), else `ops=<sorted operators of the minimized
/// model> dtype=<d> class=<c>` (a pass over several nodes: the fused group). One wrong kernel
/// gives one bucket whatever bystanders the models carry.
public struct Signature: Codable, Sendable, Hashable {
  public static let version = 2
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
  public var title: String { "\(kind.rawValue) in \(backend) \(stage): \(state)" }

  /// The crash state of an error message: its meaningful line with everything that varies
  /// between instances of one cause replaced by placeholders.
  ///
  /// The line is the first non-empty one, except for a Python traceback (the last line naming an
  /// exception) and a line that only announces more (ending in `:`; the next one is taken too).
  /// Then, in order: file paths (with line numbers) become `PATH`, hex addresses `0xADDR`, quoted
  /// names `'X'`, shapes and lists of numbers (`{1,2}`, `[2, 3]`, `(1, 4)`) `[S]`, `%12` value ids
  /// `%N`, every other number `N`; whitespace collapses. Golden tests:
  /// `Tests/FuzzingTests/Fixtures/error-messages.json` (real messages of onnxruntime, OpenVINO, TVM
  /// and onnx.reference, several variants per cause).
  public static func normalize(_ message: String) -> String {
    let lines = message.split(whereSeparator: \.isNewline).map {
      $0.trimmingCharacters(in: .whitespaces)
    }.filter { !$0.isEmpty }
    var line = lines.first ?? ""
    if line.hasPrefix("Traceback") || line.contains("Traceback (most recent call last)") {
      line =
        lines.last {
          $0.range(of: "^[A-Za-z_.]*(Error|Exception)[A-Za-z]*:", options: .regularExpression) != nil
        }
        ?? lines.last ?? line
    } else if line.hasSuffix(":"), lines.count > 1 {
      line += " " + lines[1]
    }
    var s = line
    let rules: [(String, String)] = [
      ("(/?[A-Za-z0-9_.+-]+)?(/[A-Za-z0-9_.+-]+)+\\.[A-Za-z]+(:[0-9]+)?", "PATH"),
      ("0x[0-9a-fA-F]+", "0xADDR"),
      ("'[^']*'", "'X'"),
      ("\"[^\"]*\"", "'X'"),
      ("[\\[{(] *-?[0-9]+( *[,x] *-?[0-9]+)* *,? *[\\]})]", "[S]"),
      ("[\\[{(] *[\\]})]", "[S]"),
      ("%[0-9]+", "%N"),
      ("-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?", "N"),
      ("\\s+", " "),
    ]
    for (pattern, replacement) in rules {
      s = s.replacingOccurrences(of: pattern, with: replacement, options: .regularExpression)
    }
    return s.trimmingCharacters(in: .whitespaces)
  }

  /// The ONNX operator type an error message blames, if it names one: onnxruntime's "running
  /// Reshape node", OpenVINO's "[Reshape]" or "node of type Reshape", TVM's "op.reshape" is not
  /// taken (it is TVM's own operator).
  public static func blamedOperator(_ message: String) -> String? {
    let patterns = [
      "while running ([A-Za-z0-9_]+) node", "Node \\(([A-Za-z0-9_]+)\\)",
      "[Nn]ode of type:? *'?([A-Za-z0-9_]+)",
      "Op type: *'?([A-Za-z0-9_]+)", "[Oo]p_type[ =:]+'?([A-Za-z0-9_]+)",
      "for operator '?([A-Z][A-Za-z0-9_]+)",
      "\\[CPU\\] ([A-Z][A-Za-z0-9]+) node",
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
