/// Spiking-neural-network kernels: LIF neurons run over time, a spiking linear layer and spike-driven
/// self-attention (SDSA), each as a plain reference (`Spiking.Reference`) and an event-driven fast path
/// (`Spiking.Optimized`) that agree bit for bit (`semantics.md` §3).
///
/// Conventions shared by every kernel here:
/// - **Layout is time-major.** An input of `[T, M]` holds time step `t` of neuron `j` at `t * M + j`, where
///   `M` is everything but time (for example `N·C·H·W`). Outputs have the same layout.
/// - **State is per call.** Every call starts with fresh state (float LIF: `V = vReset`; fixed-point LIF:
///   `u = v = 0`) and carries it only along `t` of one neuron. Calls never share state, and neurons in `M`
///   (including different samples of a batch folded into `M`) never interact. There is no `reset_net`.
/// - **Spikes are integers stored as `Double`** (`0...levels`); only the fixed-point LIF returns `Int32`.
/// - **Float operations are unfused IEEE-754 double operations in the order written** (no FMA, no
///   reassociation). Sums run in ascending index order from `+0.0`.
public enum Spiking: Sendable {
  /// What happens to the membrane of a neuron that fired.
  ///
  /// `.hard` sets it to `vReset` (SpikingJelly with a float `v_reset`; Lava sets 0). `.soft` subtracts
  /// the threshold once per emitted spike level (SpikingJelly with `v_reset=None`, snnTorch `subtract`,
  /// applied immediately, not one step later).
  public enum Reset: String, Sendable, Codable, CaseIterable {
    /// `V = vReset` after a spike.
    case hard
    /// `V = H − s·θ` after a spike of level `s`.
    case soft
  }

  /// The tie rule at the threshold.
  ///
  /// `.geq` fires when the membrane equals the threshold (SpikingJelly `H ≥ V_th`); `.gt` does not
  /// (snnTorch, Norse and Lava `v > vth`).
  public enum Fire: String, Sendable, Codable, CaseIterable {
    /// Fire when `H ≥ θ`.
    case geq
    /// Fire when `H > θ`.
    case gt
  }

  /// Parameters of the float LIF neuron: SpikingJelly `LIFNode` with `decay_input=True`, a dyadic time
  /// constant `τ = 2^tauShift`, and optional multi-level (integer) spikes.
  ///
  /// One time step of one neuron, given the input current `X` and the membrane `V` left by the previous
  /// step (`V = vReset` before the first step):
  /// ```
  /// H = V + (X − (V − vReset)) · 2^−tauShift     // IEEE double ops in exactly this order, no FMA
  /// fires = H ≥ θ  (.geq)   or   H > θ  (.gt)
  /// s = fires ? clamp(floor(fl(H / θ)), 1, levels) : 0      // levels == 1: s = fires ? 1 : 0
  /// V = s > 0 ? (reset == .hard ? vReset : H − Double(s) · θ) : H
  /// ```
  /// - `· 2^−tauShift` is exact scaling and gives the same bits as SpikingJelly's `/ tau` with
  ///   `tau = 2^tauShift` (both are the correctly rounded value of the same real number).
  /// - Multi-level spikes generalise QSD-Transformer's `Multispike`: the level is the floor of the IEEE
  ///   quotient `fl(H / θ)` (so the quotient's rounding decides a level near a multiple of `θ`), capped
  ///   at `levels`. For `θ > 0` a firing neuron has `fl(H / θ) ≥ 1`, so this is `min(levels, floor(H/θ))`;
  ///   the lower clamp to 1 only matters for `θ ≤ 0` or a NaN quotient (`H = θ = ∞`), where a firing
  ///   neuron emits level 1. `levels == 1` is exactly the binary neuron (and `H − 1.0·θ == H − θ`).
  ///   QSD's own `Multispike` rounds half up (`floor(4x + 0.5)/4`, T = 1) instead of flooring.
  /// - The reset is a select, not SpikingJelly's blend `S·vReset + (1 − S)·H` (or `H − S·θ`); the two
  ///   differ only when `H`, `vReset` or `θ` is infinite (the blend's `0·∞` makes NaN) or in the sign of
  ///   a zero.
  /// - NaN never fires: a NaN membrane stays NaN for the rest of the call (the neuron is dead).
  public struct LIF: Hashable, Sendable, Codable {
    /// `τ = 2^tauShift`; `1...1023` (SpikingJelly asserts `τ > 1`; `2^1023` is the largest finite τ).
    public var tauShift: Int
    /// The firing threshold `θ` (SpikingJelly `v_threshold`).
    public var threshold: Double
    /// The initial membrane and the hard-reset value (SpikingJelly `v_reset`).
    public var vReset: Double
    /// Hard or soft reset after a spike.
    public var reset: Reset
    /// The tie rule at `H == θ`.
    public var fire: Fire
    /// The largest spike level `D ≥ 1`; 1 is the binary neuron.
    public var levels: Int

    /// A float LIF neuron; the defaults are SpikingJelly's `LIFNode` (τ = 2, θ = 1, hard reset to 0, ≥).
    ///
    /// - Precondition: `1...1023 ~= tauShift` and `levels >= 1`.
    public init(
      tauShift: Int = 1, threshold: Double = 1, vReset: Double = 0, reset: Reset = .hard,
      fire: Fire = .geq, levels: Int = 1
    ) {
      self.tauShift = tauShift
      self.threshold = threshold
      self.vReset = vReset
      self.reset = reset
      self.fire = fire
      self.levels = levels
      check("Spiking.LIF")
    }

    /// `2^−tauShift`, exactly.
    var decay: Double { Double(sign: .plus, exponent: -tauShift, significand: 1) }

    /// Traps on parameters outside the documented ranges (the fields are mutable, so kernels re-check).
    func check(_ caller: String) {
      precondition((1...1023).contains(tauShift), "\(caller): tauShift \(tauShift) not in 1...1023")
      precondition(levels >= 1, "\(caller): levels \(levels) < 1")
    }
  }

  /// Parameters of the fixed-point LIF neuron, bit-accurate with Lava's `PyLifModelBitAcc` (Loihi 1).
  ///
  /// Integers only, `Int64` intermediates; state `u` (current) and `v` (voltage) start at 0. One step
  /// with input `a` (`Int32`):
  /// ```
  /// u = wrap24(trunc0(u · (4096 − du)) + (a << 6))
  /// v = clamp(trunc0(v · (4096 − dv)) + u + bias, −2^23 + 1, 2^23 − 1)
  /// s = v > (vth << 6)   (.gt, Lava)    or   v ≥ (vth << 6)   (.geq)
  /// if s { v = 0 }                                           // hard reset; u is never reset
  /// ```
  /// - `trunc0(x) = sign(x) · (|x| >> 12)`: division by 4096 rounding toward zero (Lava's
  ///   `np.sign(x) * np.right_shift(np.abs(x), 12)`), so `trunc0(−786240) = −191`, not `−192`.
  /// - `wrap24(x)` is Lava's wrap, which is *not* two's complement: `x > 2^23` becomes `x − 2^24` and
  ///   `x ≤ −2^23` becomes `x + 2^24`, so `u` lives in `(−2^23, 2^23]` and `u = 2^23` is kept. Here it is
  ///   the full residue of `x` modulo `2^24` in that range, which equals Lava's single subtraction for
  ///   every Lava input (int16 `a`) and stays defined for any `Int32` `a`.
  /// - `du` and `dv` are the *effective* decay constants in `0...4096`: `du` here is Lava's
  ///   `du + ds_offset` (`ds_offset = 1`), so Lava's `du = 0` is `du = 1` here; `dv` is Lava's
  ///   `dv + dm_offset` with `dm_offset = 0`, the same number. `du = 0` means no decay, 4096 full decay.
  /// - `bias` is Lava's effective bias `bias_mant << bias_exp` (or `>> −bias_exp`), added unshifted.
  ///   Magnitudes above `2^25` act as `±2^25`, which cannot change the clamped `v` (no overflow).
  /// - `vth << 6` is `vth · 64` (Lava `np.left_shift`, negative `vth` allowed); `vth` outside
  ///   `±2^18` acts as `±2^18`, whose shifted value is outside the clamp range, so the result is exact.
  /// - Order per step, as in Lava's `run_spk`: update `u`, then `v` with the new `u`, then fire, then reset.
  public struct FixedLIF: Hashable, Sendable, Codable {
    /// Effective current decay in `0...4096` (Lava `du + 1`); the factor is `4096 − du`.
    public var du: Int
    /// Effective voltage decay in `0...4096` (Lava `dv`); the factor is `4096 − dv`.
    public var dv: Int
    /// Threshold mantissa; the voltage is compared with `vth << 6` (Lava `vth`, u17 on Loihi).
    public var vth: Int
    /// Effective bias added to `v` every step (Lava `bias_mant · 2^bias_exp`).
    public var bias: Int
    /// The tie rule at `v == vth << 6` (Lava uses `.gt`).
    public var fire: Fire

    /// A fixed-point LIF neuron; the defaults are Lava's `LIF` process defaults (`du = 0` there, so 1
    /// here; `dv = 0`, `vth = 10`, zero bias, `>`).
    ///
    /// - Precondition: `0...4096 ~= du` and `0...4096 ~= dv`.
    public init(du: Int = 1, dv: Int = 0, vth: Int = 10, bias: Int = 0, fire: Fire = .gt) {
      self.du = du
      self.dv = dv
      self.vth = vth
      self.bias = bias
      self.fire = fire
      check("Spiking.FixedLIF")
    }

    /// `2^23`: the 24-bit state bound.
    static let uvMax: Int64 = 1 << 23

    /// The bias actually added: `bias` clamped to `±2^25` (exactness argued in the type's doc).
    var effectiveBias: Int64 { Int64(min(max(bias, -(1 << 25)), 1 << 25)) }

    /// The compared threshold `vth << 6`, with `vth` clamped to `±2^18` first.
    var effectiveThreshold: Int64 { Int64(min(max(vth, -(1 << 18)), 1 << 18)) << 6 }

    /// Traps on parameters outside the documented ranges.
    func check(_ caller: String) {
      precondition((0...4096).contains(du), "\(caller): du \(du) not in 0...4096")
      precondition((0...4096).contains(dv), "\(caller): dv \(dv) not in 0...4096")
    }
  }

  /// A float LIF run with its state after every step, for oracles that compare whole traces rather
  /// than spikes alone (`semantics.md` §3.4c): a one-ulp difference in the membrane shows here long
  /// before it flips a spike. Both arrays are `[T, M]` like the input.
  ///
  /// The charged membrane is not stored; it is `H[t] = V[t−1] + (X[t] − (V[t−1] − vReset)) · 2^−tauShift`
  /// with `V[−1] = vReset`, so a near-tie check (`|H − θ| < ε`) can recompute it.
  public struct Trace: Hashable, Sendable {
    /// Spike levels `s[t]` (`0...levels`).
    public var spikes: [Double]
    /// The membrane after the reset, `V[t]`: the state step `t + 1` starts from.
    public var membrane: [Double]
  }

  /// A fixed-point LIF run with its state after every step; all three arrays are `[T, M]` like the input.
  public struct FixedTrace: Hashable, Sendable {
    /// Spikes `0`/`1`.
    public var spikes: [Int32]
    /// The current `u[t]` after the wrap, in `(−2^23, 2^23]` (`u` is never reset).
    public var current: [Int32]
    /// The voltage `v[t]` after the clamp and the reset (0 where `spikes[t] == 1`): the state step
    /// `t + 1` starts from.
    public var voltage: [Int32]
  }

  /// `M` for a time-major buffer of `count` elements over `steps` steps.
  static func neurons(_ count: Int, steps: Int, _ caller: String) -> Int {
    precondition(steps >= 0, "\(caller): steps \(steps) < 0")
    if steps == 0 {
      precondition(count == 0, "\(caller): \(count) elements for 0 steps")
      return 0
    }
    precondition(count % steps == 0, "\(caller): \(count) elements not divisible by \(steps) steps")
    return count / steps
  }

  /// Traps unless `sizes` are all non-negative.
  static func checkSizes(_ sizes: [Int], _ caller: String) {
    precondition(sizes.allSatisfy { $0 >= 0 }, "\(caller): negative size in \(sizes)")
  }

  /// The plain definitions: one neuron at a time, dense loops, nothing skipped.
  ///
  /// These are the living definition of the semantics stated on `Spiking`, `LIF` and `FixedLIF`.
  public enum Reference: Sendable {}

  /// Event-driven kernels that return exactly the bits of `Reference` for every input, including NaN,
  /// ±∞ and −0.0 (see each function for why).
  public enum Optimized: Sendable {}
}

// MARK: - Reference kernels

extension Spiking.Reference {
  /// Runs the float LIF over time: `x` is `[T, M]` input currents, the result `[T, M]` spike levels
  /// (`0...p.levels` as `Double`), step by step as documented on `Spiking.LIF`, from `V = vReset`.
  ///
  /// - Precondition: `steps >= 0` divides `x.count` (`x` is empty when `steps == 0`); `p` is valid.
  public static func lif(_ x: [Double], steps: Int, _ p: Spiking.LIF) -> [Double] {
    lifTrace(x, steps: steps, p).spikes
  }

  /// `lif` with the membrane `V[t]` after the reset of every step.
  ///
  /// - Precondition: as `lif`.
  public static func lifTrace(_ x: [Double], steps: Int, _ p: Spiking.LIF) -> Spiking.Trace {
    p.check("Spiking.Reference.lif")
    let m = Spiking.neurons(x.count, steps: steps, "Spiking.Reference.lif")
    var trace = Spiking.Trace(
      spikes: [Double](repeating: 0, count: x.count), membrane: [Double](repeating: 0, count: x.count))
    let decay = p.decay
    for j in 0..<m {
      var v = p.vReset
      for t in 0..<steps {
        let k = t * m + j
        let h = v + (x[k] - (v - p.vReset)) * decay
        let fires = p.fire == .geq ? h >= p.threshold : h > p.threshold
        var level = 0
        if fires {
          let quotient = (h / p.threshold).rounded(.down)
          level = quotient >= Double(p.levels) ? p.levels : (quotient >= 1 ? Int(quotient) : 1)
        }
        if level > 0 {
          v = p.reset == .hard ? p.vReset : h - Double(level) * p.threshold
        } else {
          v = h
        }
        trace.spikes[k] = Double(level)
        trace.membrane[k] = v
      }
    }
    return trace
  }

  /// Runs the fixed-point LIF over time: `a` is `[T, M]` inputs, the result `[T, M]` spikes `0`/`1`,
  /// step by step as documented on `Spiking.FixedLIF`, from `u = v = 0`.
  ///
  /// - Precondition: `steps >= 0` divides `a.count`; `p` is valid.
  public static func lifFixed(_ a: [Int32], steps: Int, _ p: Spiking.FixedLIF) -> [Int32] {
    lifFixedTrace(a, steps: steps, p).spikes
  }

  /// `lifFixed` with the current and the voltage (after the reset) of every step.
  ///
  /// - Precondition: as `lifFixed`.
  public static func lifFixedTrace(_ a: [Int32], steps: Int, _ p: Spiking.FixedLIF) -> Spiking.FixedTrace {
    p.check("Spiking.Reference.lifFixed")
    let m = Spiking.neurons(a.count, steps: steps, "Spiking.Reference.lifFixed")
    var trace = Spiking.FixedTrace(
      spikes: [Int32](repeating: 0, count: a.count), current: [Int32](repeating: 0, count: a.count),
      voltage: [Int32](repeating: 0, count: a.count))
    let uvMax = Spiking.FixedLIF.uvMax
    let bias = p.effectiveBias
    let threshold = p.effectiveThreshold
    // Division by 2^12 rounding toward zero, literally as Lava writes it.
    func trunc0(_ x: Int64) -> Int64 { x < 0 ? -((-x) >> 12) : x >> 12 }
    // The representative of x mod 2^24 in (−2^23, 2^23].
    func wrap24(_ x: Int64) -> Int64 {
      var r = x % (2 * uvMax)  // in (−2^24, 2^24), sign of x
      if r > uvMax { r -= 2 * uvMax }
      if r <= -uvMax { r += 2 * uvMax }
      return r
    }
    for j in 0..<m {
      var u: Int64 = 0
      var v: Int64 = 0
      for t in 0..<steps {
        let k = t * m + j
        u = wrap24(trunc0(u * Int64(4096 - p.du)) + (Int64(a[k]) << 6))
        v = trunc0(v * Int64(4096 - p.dv)) + u + bias
        v = min(max(v, -uvMax + 1), uvMax - 1)
        let fires = p.fire == .gt ? v > threshold : v >= threshold
        if fires { v = 0 }
        trace.spikes[k] = fires ? 1 : 0
        trace.current[k] = Int32(u)
        trace.voltage[k] = Int32(v)
      }
    }
    return trace
  }

  /// A spiking linear layer: currents from integer spikes, then the float LIF over time.
  ///
  /// `s` is `[T, N, I]` input spikes (any doubles; meant to be `0...D`), `weight` is `[O, I]`, `bias`
  /// is `[O]`; the result is `[T, N, O]` output spike levels. For every `t`, `n`, `o`:
  /// ```
  /// acc = +0.0
  /// for i in 0..<I { acc = acc + weight[o, i] · s[t, n, i] }   // ascending i, every i, zeros included
  /// X[t, n, o] = acc + bias[o]
  /// ```
  /// then `lif(X, steps: T, p)` with one neuron per `(n, o)`. Dense: an inactive input still adds
  /// `weight · 0`, which is `±0` for a finite weight and NaN for an infinite or NaN weight, so such a
  /// weight poisons its output neuron (NaN current, NaN membrane, no spikes from then on).
  ///
  /// - Precondition: all sizes `>= 0`, `s.count == T·N·I`, `weight.count == O·I`, `bias.count == O`.
  public static func linearLIF(
    _ s: [Double], weight: [Double], bias: [Double], steps: Int, n: Int, inputs: Int, outputs: Int,
    _ p: Spiking.LIF
  ) -> [Double] {
    let caller = "Spiking.Reference.linearLIF"
    Spiking.checkSizes([steps, n, inputs, outputs], caller)
    precondition(s.count == steps * n * inputs, "\(caller): \(s.count) spikes ≠ T·N·I")
    precondition(weight.count == outputs * inputs, "\(caller): \(weight.count) weights ≠ O·I")
    precondition(bias.count == outputs, "\(caller): \(bias.count) biases ≠ O")
    var x = [Double](repeating: 0, count: steps * n * outputs)
    for row in 0..<(steps * n) {
      for o in 0..<outputs {
        var acc = 0.0
        for i in 0..<inputs { acc += weight[o * inputs + i] * s[row * inputs + i] }
        x[row * outputs + o] = acc + bias[o]
      }
    }
    return lif(x, steps: steps, p)
  }

  /// Spike-driven self-attention (Spike-driven Transformer V1): `Q ⊗ SN(SUM_tokens(K ⊗ V))`.
  ///
  /// `q`, `k`, `v` are `[T, N, L, D]` spikes (meant to be 0/1); the result is `[T, N, L, D]`:
  /// ```
  /// kv[t, n, d] = +0.0 + k[t,n,0,d]·v[t,n,0,d] + k[t,n,1,d]·v[t,n,1,d] + …   // ascending l
  /// m = lif(kv, steps: T, p)               // kv is [T, N·D]: one neuron per (n, d), state over t
  /// out[t, n, l, d] = q[t, n, l, d] · m[t, n, d]
  /// ```
  /// With `p.levels > 1` the mask is multi-level and scales `q`. An infinite or NaN `k` or `v` paired
  /// with a zero poisons `kv` (`0·∞ = NaN`) exactly as in `linearLIF`.
  ///
  /// - Precondition: all sizes `>= 0` and each tensor has `T·N·L·D` elements.
  public static func sdsa(
    q: [Double], k: [Double], v: [Double], steps: Int, n: Int, tokens: Int, dim: Int, _ p: Spiking.LIF
  ) -> [Double] {
    let caller = "Spiking.Reference.sdsa"
    Spiking.checkSizes([steps, n, tokens, dim], caller)
    let count = steps * n * tokens * dim
    precondition(q.count == count && k.count == count && v.count == count, "\(caller): sizes ≠ T·N·L·D")
    var kv = [Double](repeating: 0, count: steps * n * dim)
    for row in 0..<(steps * n) {
      for d in 0..<dim {
        var acc = 0.0
        for l in 0..<tokens {
          let index = (row * tokens + l) * dim + d
          acc += k[index] * v[index]
        }
        kv[row * dim + d] = acc
      }
    }
    let mask = lif(kv, steps: steps, p)
    var out = [Double](repeating: 0, count: count)
    for row in 0..<(steps * n) {
      for l in 0..<tokens {
        for d in 0..<dim {
          let index = (row * tokens + l) * dim + d
          out[index] = q[index] * mask[row * dim + d]
        }
      }
    }
    return out
  }
}
