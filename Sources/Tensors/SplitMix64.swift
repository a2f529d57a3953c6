/// The project's one seeded pseudo-random generator (SplitMix64, Steele et al. 2014).
///
/// Passed explicitly (`inout`) everywhere randomness is needed, so that a seed determines a model
/// byte for byte in any process. Never use `SystemRandomNumberGenerator` in generation.
public struct SplitMix64: RandomNumberGenerator, Sendable {
  public private(set) var state: UInt64

  public init(seed: UInt64) { state = seed }

  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// A generator for a named sub-stream, so adding draws in one place does not shift another.
  public func derived(_ salt: UInt64) -> SplitMix64 {
    var g = SplitMix64(seed: state ^ (salt &* 0xD6E8_FEB8_6659_FD93))
    _ = g.next()
    return g
  }

  /// Uniform double in [0, 1) with 53 random bits.
  public mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }

  /// Uniform integer in a closed range, without modulo bias (Lemire's method via the stdlib).
  public mutating func int(in range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }

  public mutating func chance(_ p: Double) -> Bool { unit() < p }

  public mutating func pick<T>(_ xs: [T]) -> T {
    precondition(!xs.isEmpty)
    return xs[int(in: 0...(xs.count - 1))]
  }
}

/// A 64-bit hash of text that is the same in every process (FNV-1a; Swift's `Hasher` is seeded per
/// process): seeds and sample choices derived from names.
public func stableHash(_ text: String) -> UInt64 {
  var h: UInt64 = 0xcbf2_9ce4_8422_2325
  for b in text.utf8 {
    h ^= UInt64(b)
    h = h &* 0x100_0000_01b3
  }
  return h
}
