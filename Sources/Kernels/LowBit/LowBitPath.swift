import CLowBit

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// The instruction-set path the optimized low-bit kernels take, chosen at run time (like XNNPACK,
/// gemmlowp and Larq Compute Engine), so one binary runs everywhere.
///
/// | path | int8 GEMM / conv (`Quant.Optimized`) | binary conv / dense (`Binary.Optimized`) |
/// |---|---|---|
/// | `portable` | Swift `SIMD8<Int16>` `pmaddwd`-shaped kernel (baseline x86-64) | Swift SWAR popcount or byte tables |
/// | `avx2` | C, `vpmaddwd` on int16, 6×16 tile | C, `vpshufb` nibble-table popcount: filter nibbles index one of 16 tables chosen by the pixel nibble, 4 pixels × 64 filters tile |
/// | `avx512` | C, `vpdpbusd` (AVX-512 VNNI) on u8×s8, 8×32 tile; the `avx2` kernel when an operand row or column spans more than 256 values | C, `vpopcntq` (AVX512_VPOPCNTDQ), 4×4 tile |
///
/// `avx512` needs AVX-512 F, BW, VL, VNNI and VPOPCNTDQ together. Every path computes exactly the bits
/// of the reference kernels (see the comments in `Sources/CLowBit`). The spiking kernels have no
/// dispatched path.
///
/// The path in force is `LowBitPath.current`: the one `withPath` set for the running code, else the
/// process default, which is `DLSMITH_LOWBIT_PATH` (`portable`, `avx2` or `avx512`, read once) if set,
/// else the best path the CPU supports. A requested path the CPU lacks is lowered to the best one it
/// has below it, with a warning on stderr (for the environment variable) or as documented by `withPath`.
public enum LowBitPath: Int, CaseIterable, Comparable, Sendable, CustomStringConvertible {
  /// Plain Swift, baseline x86-64 (SSE2) or any other architecture.
  case portable = 0
  /// AVX2 kernels.
  case avx2 = 1
  /// AVX-512 (F, BW, VL, VNNI, VPOPCNTDQ) kernels.
  case avx512 = 2

  /// `portable`, `avx2` or `avx512`.
  public var description: String {
    switch self {
    case .portable: "portable"
    case .avx2: "avx2"
    case .avx512: "avx512"
    }
  }

  /// Parses a path name as printed by `description`.
  public init?(name: String) {
    guard let path = Self.allCases.first(where: { $0.description == name }) else { return nil }
    self = path
  }

  public static func < (lhs: LowBitPath, rhs: LowBitPath) -> Bool { lhs.rawValue < rhs.rawValue }

  /// Whether this CPU (and OS) can run the path; `portable` always can.
  public var isSupported: Bool { Self.supported.contains(self) }

  /// The paths this machine can run, ascending (always starting with `portable`).
  public static let supported: [LowBitPath] = allCases.filter {
    lowbit_cpu_supports(Int32($0.rawValue)) != 0
  }

  /// The best path this machine can run.
  public static var best: LowBitPath { supported.last ?? .portable }

  /// The process default: `DLSMITH_LOWBIT_PATH` if set (lowered to a supported path), else `best`.
  public static let processDefault: LowBitPath = {
    guard let raw = getenv("DLSMITH_LOWBIT_PATH") else { return best }
    let name = String(cString: raw)
    guard let requested = LowBitPath(name: name) else {
      warn("DLSMITH_LOWBIT_PATH=\(name) is not portable, avx2 or avx512; using \(best)")
      return best
    }
    let path = requested.lowered
    if path != requested {
      warn("DLSMITH_LOWBIT_PATH=\(name): this CPU lacks it; using \(path)")
    }
    return path
  }()

  /// Writes `warning: <message>` to standard error.
  private static func warn(_ message: String) {
    var line = "warning: \(message)\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
  }

  /// The best supported path at or below this one.
  public var lowered: LowBitPath { Self.supported.last { $0 <= self } ?? .portable }

  @TaskLocal static var override: LowBitPath?

  /// The path the optimized low-bit kernels take in the running code.
  public static var current: LowBitPath { override ?? processDefault }

  /// Runs `body` with the low-bit kernels on `path` (in this task and the tasks it creates; other
  /// tasks are unaffected, so parallel tests can each force their own path).
  ///
  /// - Precondition: `path.isSupported` (a kernel running an unsupported path would crash on an
  ///   illegal instruction).
  public static func withPath<R>(_ path: LowBitPath, _ body: () throws -> R) rethrows -> R {
    precondition(path.isSupported, "LowBitPath.withPath: this CPU cannot run the \(path) path")
    return try $override.withValue(path, operation: body)
  }
}
