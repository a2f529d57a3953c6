import Foundation

/// What kind of finding a run produced.
public enum FindingKind: String, Codable, Sendable, CaseIterable {
  case crash, exit, error, hang, oom, mismatch, unstable
}

/// The identity of a bug: a versioned canonical tuple and its SHA-256.
///
/// `state` by kind: crash `sig=SIGSEGV`; exit `exit=3`; error the normalized first line of the
/// message; hang and oom the stage; mismatch (and unstable) the sorted, de-duplicated operator
/// multiset of the (minimized) model plus the output dtype and the discrepancy kind. Normalization
/// replaces hex addresses with `0xADDR`, integers of two or more digits with `N`, `%123` value ids
/// with `%N`, and collapses whitespace, so the same bug with other numbers lands in one bucket.
public struct Signature: Codable, Sendable, Hashable {
  public static let version = 1
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

  public static func normalize(_ message: String) -> String {
    let firstLine =
      message.split(separator: "\n", omittingEmptySubsequences: true).first.map(String.init) ?? ""
    var s = firstLine
    let rules: [(String, String)] = [
      ("0x[0-9a-fA-F]+", "0xADDR"), ("%[0-9]+", "%N"), ("[0-9]{2,}", "N"), ("\\s+", " "),
    ]
    for (pattern, replacement) in rules {
      s = s.replacingOccurrences(of: pattern, with: replacement, options: .regularExpression)
    }
    return s.trimmingCharacters(in: .whitespaces)
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
