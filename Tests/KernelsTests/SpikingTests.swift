import Kernels
import Tensors
import Testing

@Suite struct SpikingTests {}

// MARK: - Helpers

extension SpikingTests {
  typealias LIF = Spiking.LIF
  typealias Ref = Spiking.Reference
  typealias Opt = Spiking.Optimized

  /// Bit patterns, so that −0.0 and NaN payloads count as differences.
  static func bits(_ xs: [Double]) -> [UInt64] { xs.map(\.bitPattern) }

  /// A dyadic value `k/8` for `k` in `range` (exact ties with dyadic thresholds are common).
  static func dyadic(_ rng: inout SplitMix64, _ range: ClosedRange<Int>) -> Double {
    Double(rng.int(in: range)) / 8
  }

  /// Random LIF parameters: thresholds on the input grid (ties), sometimes arbitrary, rarely ≤ 0.
  static func randomLIF(_ rng: inout SplitMix64, levels: Int? = nil) -> LIF {
    let thresholds: [Double] = [0.25, 0.5, 0.75, 1, 1, 1.5, 2, 3]
    var threshold = rng.pick(thresholds)
    if rng.chance(0.2) { threshold = 0.1 + 2 * rng.unit() }
    if rng.chance(0.03) { threshold = rng.pick([0, -0.0, -0.5]) }
    return LIF(
      tauShift: rng.int(in: 1...4), threshold: threshold, vReset: rng.pick([0, 0, -0.0, 0.25, -0.5]),
      reset: rng.pick(Spiking.Reset.allCases), fire: rng.pick(Spiking.Fire.allCases),
      levels: levels ?? rng.int(in: 1...4))
  }

  /// `count` spikes at `rate`, each active one a level in `1...levels`; sometimes −0.0 for inactive.
  static func randomSpikes(_ rng: inout SplitMix64, count: Int, rate: Double, levels: Int) -> [Double] {
    (0..<count).map { _ in
      rng.chance(rate) ? Double(rng.int(in: 1...levels)) : (rng.chance(0.05) ? -0.0 : 0)
    }
  }
}

// MARK: - Hand-computed traces

extension SpikingTests {
  @Test func thresholdTieFiresForGeqOnly() {
    // τ = 2, θ = 1, vReset = 0, x = [2, 2].
    // t0: H = 0 + (2 − (0 − 0)) · 0.5 = 1.0 == θ → .geq fires, .gt does not.
    //   .geq hard: V = 0;  .geq soft: V = 1 − 1 = 0;  .gt (either): V = H = 1.
    // t1 (.geq): H = 0 + (2 − 0) · 0.5 = 1 → fires again.
    // t1 (.gt):  H = 1 + (2 − 1) · 0.5 = 1.5 > 1 → fires (hard V = 0, soft V = 0.5).
    for reset in Spiking.Reset.allCases {
      let geq = LIF(tauShift: 1, threshold: 1, reset: reset, fire: .geq)
      let gt = LIF(tauShift: 1, threshold: 1, reset: reset, fire: .gt)
      #expect(Ref.lif([2, 2], steps: 2, geq) == [1, 1])
      #expect(Ref.lif([2, 2], steps: 2, gt) == [0, 1])
      #expect(Opt.lif([2, 2], steps: 2, geq) == [1, 1])
      #expect(Opt.lif([2, 2], steps: 2, gt) == [0, 1])
      #expect(Ref.lifTrace([2, 2], steps: 2, gt).membrane == [1, reset == .hard ? 0 : 0.5])
      #expect(Opt.lifTrace([2, 2], steps: 2, gt).membrane == [1, reset == .hard ? 0 : 0.5])
    }
  }

  @Test func softResetCarriesTheRemainder() {
    // τ = 2, θ = 1, .geq, x = [3, 1.5].
    // t0: H = 0 + 3 · 0.5 = 1.5 → spike. soft: V = 1.5 − 1 = 0.5; hard: V = 0.
    // t1 soft: H = 0.5 + (1.5 − 0.5) · 0.5 = 1.0 → spike (the remainder reached θ).
    // t1 hard: H = 0 + 1.5 · 0.5 = 0.75 → no spike.
    let soft = LIF(tauShift: 1, threshold: 1, reset: .soft)
    let hard = LIF(tauShift: 1, threshold: 1, reset: .hard)
    #expect(Ref.lif([3, 1.5], steps: 2, soft) == [1, 1])
    #expect(Ref.lif([3, 1.5], steps: 2, hard) == [1, 0])
    #expect(Ref.lifTrace([3, 1.5], steps: 2, soft).membrane == [0.5, 0])
    #expect(Opt.lif([3, 1.5], steps: 2, soft) == [1, 1])
    #expect(Opt.lif([3, 1.5], steps: 2, hard) == [1, 0])
  }

  @Test func multiLevelSpikes() {
    // θ = 1, τ = 2, D = 4, soft. x = 5: H = 2.5 = 2.5θ → floor(2.5) = 2, V = 2.5 − 2·1 = 0.5.
    // then x = 0: H = 0.5 + (0 − 0.5) · 0.5 = 0.25 → 0.
    let soft4 = LIF(tauShift: 1, threshold: 1, reset: .soft, levels: 4)
    #expect(Ref.lif([5, 0], steps: 2, soft4) == [2, 0])
    #expect(Ref.lifTrace([5, 0], steps: 2, soft4).membrane == [0.5, 0.25])
    // Cap at D: x = [20, 12]. t0: H = 10 → min(4, 10) = 4, soft V = 10 − 4 = 6.
    // t1: H = 6 + (12 − 6) · 0.5 = 9 → 4, V = 5.  Hard: t1 H = 0 + 12 · 0.5 = 6 → 4.
    #expect(Ref.lif([20, 12], steps: 2, soft4) == [4, 4])
    #expect(Ref.lifTrace([20, 12], steps: 2, soft4).membrane == [6, 5])
    let hard4 = LIF(tauShift: 1, threshold: 1, reset: .hard, levels: 4)
    #expect(Ref.lif([20, 12], steps: 2, hard4) == [4, 4])
    // θ = 0.5: x = 2.5 → H = 1.25 = 2.5θ → 2, soft V = 1.25 − 2·0.5 = 0.25.
    // Exactly 2θ with .gt: H = 1.0 > 0.5 fires and floor(2.0) = 2 (the tie rule is only at θ).
    let half = LIF(tauShift: 1, threshold: 0.5, reset: .soft, fire: .gt, levels: 4)
    #expect(Ref.lif([2.5], steps: 1, half) == [2])
    #expect(Ref.lifTrace([2.5], steps: 1, half).membrane == [0.25])
    #expect(Ref.lif([2], steps: 1, half) == [2])
    // D = 1 is the binary neuron: H = 10 gives 1 and soft V = 10 − 1 = 9.
    let binary = LIF(tauShift: 1, threshold: 1, reset: .soft, levels: 1)
    #expect(Ref.lif([20], steps: 1, binary) == [1])
    #expect(Ref.lifTrace([20], steps: 1, binary).membrane == [9])
    for p in [soft4, hard4, half, binary] {
      #expect(Opt.lif([5, 0], steps: 2, p) == Ref.lif([5, 0], steps: 2, p))
      #expect(Opt.lif([20, 12], steps: 2, p) == Ref.lif([20, 12], steps: 2, p))
    }
  }

  @Test func stateIsPerCallAndPerNeuron() {
    // [T = 3, M = 2]: neuron 0 gets 2 every step (fires every step), neuron 1 gets [0, 1, 1]:
    // H = 0, then 0 + 1 · 0.5 = 0.5, then 0.5 + (1 − 0.5) · 0.5 = 0.75 → never fires.
    let p = LIF()
    let x: [Double] = [2, 0, 2, 1, 2, 1]
    let expected: [Double] = [1, 0, 1, 0, 1, 0]
    #expect(Ref.lif(x, steps: 3, p) == expected)
    #expect(Ref.lif(x, steps: 3, p) == expected)  // a second call starts from V = vReset again
    #expect(Opt.lif(x, steps: 3, p) == expected)
    #expect(Opt.lif(x, steps: 3, p) == expected)
    // Each column alone gives the same spikes: neurons in M do not interact.
    #expect(Ref.lif([2, 2, 2], steps: 3, p) == [1, 1, 1])
    #expect(Ref.lif([0, 1, 1], steps: 3, p) == [0, 0, 0])
    // A batch folded into M ([T, N·O]) of the linear layer: sample 1 alone equals sample 1 in the batch.
    let w: [Double] = [1, 0.5, -1, 2]  // O = 2, I = 2
    let s: [Double] = [1, 0, 1, 1, 0, 1, 1, 1]  // T = 2, N = 2, I = 2
    let both = Ref.linearLIF(s, weight: w, bias: [0, 0], steps: 2, n: 2, inputs: 2, outputs: 2, p)
    let second = Ref.linearLIF(
      [1, 1, 1, 1], weight: w, bias: [0, 0], steps: 2, n: 1, inputs: 2, outputs: 2, p)
    #expect([both[2], both[3], both[6], both[7]] == second)
    #expect(Opt.linearLIF(s, weight: w, bias: [0, 0], steps: 2, n: 2, inputs: 2, outputs: 2, p) == both)
  }

  @Test func tauTwoAndFour() {
    // x = [2, 2, 2], θ = 1, .geq, hard.
    // τ = 2: t0 H = 2 · 0.5 = 1 → spike, V = 0; same every step → [1, 1, 1].
    // τ = 4: t0 H = 2 · 0.25 = 0.5; t1 H = 0.5 + (2 − 0.5) · 0.25 = 0.875;
    //        t2 H = 0.875 + (2 − 0.875) · 0.25 = 0.875 + 0.28125 = 1.15625 → spike.
    let tau2 = LIF(tauShift: 1)
    let tau4 = LIF(tauShift: 2)
    #expect(Ref.lif([2, 2, 2], steps: 3, tau2) == [1, 1, 1])
    #expect(Ref.lif([2, 2, 2], steps: 3, tau4) == [0, 0, 1])
    #expect(Ref.lifTrace([2, 2, 2], steps: 3, tau4).membrane == [0.5, 0.875, 0])
    #expect(Opt.lif([2, 2, 2], steps: 3, tau4) == [0, 0, 1])
    // vReset = 0.5 (also the initial V): H = 0.5 + (1.5 − (0.5 − 0.5)) · 0.5 = 1.25 → spike, V = 0.5.
    // x = 0.5: H = 0.5 + (0.5 − 0) · 0.5 = 0.75 → no spike.
    let shifted = LIF(tauShift: 1, vReset: 0.5)
    #expect(Ref.lif([1.5, 1.5, 0.5], steps: 3, shifted) == [1, 1, 0])
    #expect(Ref.lifTrace([1.5, 1.5, 0.5], steps: 3, shifted).membrane == [0.5, 0.5, 0.75])
    #expect(Opt.lif([1.5, 1.5, 0.5], steps: 3, shifted) == [1, 1, 0])
  }

  @Test func fixedPointTrace() {
    // du = 1 (factor 4095), dv = 0 (factor 4096: no decay), vth = 131071 (vth << 6 = 8388544), bias −5.
    // t0: a = −3 → a << 6 = −192. u = trunc0(0) − 192 = −192. v = 0 − 192 − 5 = −197.
    // t1: a = 200000 → 12800000. trunc0(−192 · 4095 = −786240) = −(786240 >> 12) = −191 (floor: −192).
    //     u = −191 + 12800000 = 12799809 > 2^23 → 12799809 − 2^24 = −3977407 (24-bit wrap).
    //     v = trunc0(−197 · 4096) = −197; −197 − 3977407 − 5 = −3977609.
    // t2: a = −10000 → −640000. trunc0(−3977407 · 4095 = −16287481665) = −3976435 (|x| / 4096 =
    //     3976435.95, floor would be −3976436). u = −3976435 − 640000 = −4616435.
    //     v = −3977609 − 4616435 − 5 = −8594049 → clamp to −2^23 + 1 = −8388607. No spikes.
    let p = Spiking.FixedLIF(du: 1, dv: 0, vth: 131071, bias: -5, fire: .gt)
    let trace = Ref.lifFixedTrace([-3, 200000, -10000], steps: 3, p)
    #expect(trace.current == [-192, -3_977_407, -4_616_435])
    #expect(trace.voltage == [-197, -3_977_609, -8_388_607])
    #expect(trace.spikes == [0, 0, 0])
    #expect(Opt.lifFixedTrace([-3, 200000, -10000], steps: 3, p) == trace)

    // Positive clamp: same neuron with vth = 131072 (vth << 6 = 2^23: v can never exceed it).
    // t1: a = 131071 → 8388544; u = −191 + 8388544 = 8388353 (≤ 2^23, kept);
    //     v = −197 + 8388353 − 5 = 8388151.
    // t2: a = 1 → 64; trunc0(8388353 · 4095) = 8386305 (8388353 − 2047.94); u = 8386305 + 64 = 8386369;
    //     v = 8388151 + 8386369 − 5 = 16774515 → clamp to 2^23 − 1 = 8388607.
    var high = p
    high.vth = 131072
    let second = Ref.lifFixedTrace([-3, 131071, 1], steps: 3, high)
    #expect(second.current == [-192, 8_388_353, 8_386_369])
    #expect(second.voltage == [-197, 8_388_151, 8_388_607])
    #expect(second.spikes == [0, 0, 0])
    #expect(Opt.lifFixedTrace([-3, 131071, 1], steps: 3, high) == second)
    // With vth = 131071 (8388544) the clamped 8388607 fires and v resets to 0; t1's 8388151 does not.
    let fired = Ref.lifFixedTrace([-3, 131071, 1], steps: 3, p)
    #expect(fired.spikes == [0, 0, 1])
    #expect(fired.voltage == [-197, 8_388_151, 0])
    #expect(Opt.lifFixedTrace([-3, 131071, 1], steps: 3, p) == fired)

    // Lava's wrap keeps u = 2^23 (x > 2^23 wraps, x = 2^23 does not); du = 0: no decay; dv = 4096:
    // v forgets itself. t0: a = 131072 → u = 2^23 = 8388608, v = clamp(8388608) = 8388607 > 6400 spike.
    // t1: a = 0 → u = 8388608 again, spike. t2: a = 100 → u = 8388608 + 6400 = 8395008 → −8382208.
    let edge = Spiking.FixedLIF(du: 0, dv: 4096, vth: 100, bias: 0)
    let third = Ref.lifFixedTrace([131072, 0, 100], steps: 3, edge)
    #expect(third.current == [8_388_608, 8_388_608, -8_382_208])
    #expect(third.voltage == [0, 0, -8_382_208])
    #expect(third.spikes == [1, 1, 0])
    #expect(Opt.lifFixedTrace([131072, 0, 100], steps: 3, edge) == third)

    // Tie at the threshold: a = 100 → u = 6400, v = 6400 == 100 << 6: .gt silent, .geq fires.
    var tie = Spiking.FixedLIF(du: 0, dv: 0, vth: 100, bias: 0, fire: .gt)
    #expect(Ref.lifFixed([100], steps: 1, tie) == [0])
    #expect(Opt.lifFixed([100], steps: 1, tie) == [0])
    tie.fire = .geq
    #expect(Ref.lifFixed([100], steps: 1, tie) == [1])
    #expect(Opt.lifFixed([100], steps: 1, tie) == [1])
  }

  @Test func sdsaHandExample() {
    // T = 2, N = 1, L = 2, D = 3; LIF τ = 2, θ = 1, hard, .geq.
    // t0: K ⊙ V = [[1,1,0]⊙[1,1,1], [1,0,1]⊙[1,1,0]] = [[1,1,0],[1,0,0]] → kv = [2, 1, 0].
    //     H = kv · 0.5 = [1, 0.5, 0] → m = [1, 0, 0], V = [0, 0.5, 0].
    // t1: K ⊙ V = [[0,1,1]⊙[0,1,1], [0,1,1]⊙[1,1,1]] = [[0,1,1],[0,1,1]] → kv = [0, 2, 2].
    //     H = [0, 0.5 + (2 − 0.5) · 0.5 = 1.25, 0 + 2 · 0.5 = 1] → m = [0, 1, 1].
    // out = Q ⊙ m per token.
    let k: [Double] = [1, 1, 0, 1, 0, 1, 0, 1, 1, 0, 1, 1]
    let v: [Double] = [1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1]
    let q: [Double] = [1, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1]
    let expected: [Double] = [1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]
    let p = LIF()
    #expect(Ref.sdsa(q: q, k: k, v: v, steps: 2, n: 1, tokens: 2, dim: 3, p) == expected)
    #expect(Opt.sdsa(q: q, k: k, v: v, steps: 2, n: 1, tokens: 2, dim: 3, p) == expected)
  }

  @Test func linearHandExample() {
    // I = 3, O = 2, T = 2, N = 1; W = [[1, −0.5, 2], [0.25, 1, −1]], bias = [0.5, 0].
    // t0: s = [1, 0, 2]: X0 = (0 + 1·1 + (−0.5)·0 + 2·2) + 0.5 = 5.5; X1 = (0.25 + 0 − 2) + 0 = −1.75.
    //     LIF τ = 2, θ = 1, levels 4, soft: H0 = 2.75 → 2, V0 = 0.75; H1 = −0.875 → 0.
    // t1: s = [0, 1, 0]: X0 = −0.5 + 0.5 = 0; X1 = 1.
    //     H0 = 0.75 + (0 − 0.75) · 0.5 = 0.375 → 0; H1 = −0.875 + (1 + 0.875) · 0.5 = 0.0625 → 0.
    let w: [Double] = [1, -0.5, 2, 0.25, 1, -1]
    let s: [Double] = [1, 0, 2, 0, 1, 0]
    let p = LIF(tauShift: 1, threshold: 1, reset: .soft, levels: 4)
    let expected: [Double] = [2, 0, 0, 0]
    let bias: [Double] = [0.5, 0]
    #expect(Ref.linearLIF(s, weight: w, bias: bias, steps: 2, n: 1, inputs: 3, outputs: 2, p) == expected)
    #expect(Opt.linearLIF(s, weight: w, bias: bias, steps: 2, n: 1, inputs: 3, outputs: 2, p) == expected)
  }

  @Test func linearSumsInAscendingInputOrder() {
    // One output, six inputs all spiking, W = [1, 2^−53, 2^−53, 2^−53, 2^−53, −1], bias 0, θ = 2^−60, .gt.
    // Ascending: 1 + 2^−53 is a tie between 1 and 1 + 2^−52 and rounds to even (1), four times; then
    // 1 − 1 = 0 and 0 + bias 0 = 0, so H = 0 → no spike. The exact sum 2^−51 (or any order that adds
    // the small weights first) would give H = 2^−52 > θ → a spike.
    let w: [Double] = [1, 0x1p-53, 0x1p-53, 0x1p-53, 0x1p-53, -1]
    let s = [Double](repeating: 1, count: 6)
    let p = LIF(tauShift: 1, threshold: 0x1p-60, fire: .gt)
    #expect(Ref.linearLIF(s, weight: w, bias: [0], steps: 1, n: 1, inputs: 6, outputs: 1, p) == [0])
    #expect(Opt.linearLIF(s, weight: w, bias: [0], steps: 1, n: 1, inputs: 6, outputs: 1, p) == [0])
    let reversed = Array(w.reversed())  // −1 first: −1 + 4·2^−53 is exact, + 1 = 2^−51 → spike
    #expect(Ref.linearLIF(s, weight: reversed, bias: [0], steps: 1, n: 1, inputs: 6, outputs: 1, p) == [1])
    #expect(Opt.linearLIF(s, weight: reversed, bias: [0], steps: 1, n: 1, inputs: 6, outputs: 1, p) == [1])
  }

  @Test func emptyShapes() {
    let p = LIF()
    #expect(Ref.lif([], steps: 0, p).isEmpty)
    #expect(Opt.lif([], steps: 3, p).isEmpty)
    #expect(Opt.lifFixed([], steps: 2, Spiking.FixedLIF()).isEmpty)
    // I = 0: the current is the bias alone (X = 0.0 + 2 = 2 → spike every step).
    let noInputs = Opt.linearLIF([], weight: [], bias: [2], steps: 2, n: 1, inputs: 0, outputs: 1, p)
    #expect(noInputs == [1, 1])
    #expect(Ref.linearLIF([], weight: [], bias: [2], steps: 2, n: 1, inputs: 0, outputs: 1, p) == noInputs)
    #expect(Opt.sdsa(q: [], k: [], v: [], steps: 2, n: 1, tokens: 0, dim: 3, p).isEmpty)
  }
}

// MARK: - Randomized Reference vs Optimized

extension SpikingTests {
  @Test func randomLIFMatches() {
    var rng = SplitMix64(seed: 0x5EED_0001)
    for trial in 0..<400 {
      let p = Self.randomLIF(&rng)
      let steps = rng.int(in: 1...6)
      let m = rng.int(in: 1...40)
      var x = (0..<(steps * m)).map { _ in Self.dyadic(&rng, -16...40) }
      if trial % 4 == 0 { x = x.map { $0 + (rng.unit() - 0.5) * 0x1p-40 } }  // near-ties
      if trial % 10 == 0 {
        for _ in 0..<3 { x[rng.int(in: 0...(x.count - 1))] = rng.pick([.infinity, -.infinity, .nan, -0.0]) }
      }
      let ref = Ref.lifTrace(x, steps: steps, p)
      let opt = Opt.lifTrace(x, steps: steps, p)
      #expect(Self.bits(opt.spikes) == Self.bits(ref.spikes), "trial \(trial) \(p)")
      #expect(Self.bits(opt.membrane) == Self.bits(ref.membrane), "trial \(trial) \(p)")
      #expect(Self.bits(Opt.lif(x, steps: steps, p)) == Self.bits(ref.spikes))
      #expect(Self.bits(Ref.lif(x, steps: steps, p)) == Self.bits(ref.spikes))
    }
  }

  @Test func randomLinearLIFMatches() {
    var rng = SplitMix64(seed: 0x5EED_0002)
    let rates = [0, 0.1, 0.5, 1]
    for trial in 0..<400 {
      let p = Self.randomLIF(&rng)
      let steps = rng.int(in: 1...6)
      let n = rng.int(in: 1...3)
      let inputs = rng.int(in: 1...24)
      let outputs = rng.int(in: 1...40)  // > 16: several weight panels and the 16-wide register path
      let rate = rates[trial % rates.count]
      let s = Self.randomSpikes(&rng, count: steps * n * inputs, rate: rate, levels: p.levels)
      var weight = (0..<(outputs * inputs)).map { _ in
        rng.chance(0.7) ? Self.dyadic(&rng, -12...12) : (rng.unit() - 0.5) * 3
      }
      if trial % 5 == 4 {
        // Cancellation: sums through ±2^52 round away halves, so any other summation order than
        // ascending i changes currents by whole units, and spikes with them.
        let values: [Double] = [0x1p52, -0x1p52, 0.5, -0.5, 0.25, 1, -1, 0.75, 1.5]
        weight = weight.map { _ in rng.pick(values) }
      }
      for i in weight.indices where rng.chance(0.05) { weight[i] = rng.pick([0, -0.0]) }
      let bias = (0..<outputs).map { _ in rng.chance(0.3) ? rng.pick([0, -0.0]) : Self.dyadic(&rng, -8...8) }
      let ref = Ref.linearLIF(
        s, weight: weight, bias: bias, steps: steps, n: n, inputs: inputs, outputs: outputs, p)
      let opt = Opt.linearLIF(
        s, weight: weight, bias: bias, steps: steps, n: n, inputs: inputs, outputs: outputs, p)
      #expect(Self.bits(opt) == Self.bits(ref), "trial \(trial) \(p)")
    }
  }

  @Test func linearWithNonFiniteWeightsMatches() {
    // 0 · ∞ = NaN: an inactive input with an infinite or NaN weight kills its output neuron in the dense
    // reference; the event-driven kernel must reproduce that.
    var rng = SplitMix64(seed: 0x5EED_0003)
    var killed = 0
    for trial in 0..<300 {
      let p = Self.randomLIF(&rng, levels: rng.int(in: 1...3))
      let steps = rng.int(in: 1...5)
      let n = rng.int(in: 1...2)
      let inputs = rng.int(in: 1...10)
      let outputs = rng.int(in: 1...36)
      var s = Self.randomSpikes(&rng, count: steps * n * inputs, rate: 0.4, levels: p.levels)
      if rng.chance(0.1) { s[rng.int(in: 0...(s.count - 1))] = rng.pick([.infinity, .nan]) }
      var weight = (0..<(outputs * inputs)).map { _ in Self.dyadic(&rng, -12...12) }
      for _ in 0..<rng.int(in: 0...2) {
        weight[rng.int(in: 0...(weight.count - 1))] = rng.pick([.infinity, -.infinity, .nan])
      }
      let bias = (0..<outputs).map { _ in Self.dyadic(&rng, -4...8) }
      let ref = Ref.linearLIF(
        s, weight: weight, bias: bias, steps: steps, n: n, inputs: inputs, outputs: outputs, p)
      let opt = Opt.linearLIF(
        s, weight: weight, bias: bias, steps: steps, n: n, inputs: inputs, outputs: outputs, p)
      #expect(Self.bits(opt) == Self.bits(ref), "trial \(trial)")
      let dense = Ref.linearLIF(
        s, weight: weight.map { $0.isFinite ? $0 : 0 }, bias: bias, steps: steps, n: n, inputs: inputs,
        outputs: outputs, p)
      if dense != ref { killed += 1 }
    }
    #expect(killed > 10)  // the poisoning path was exercised
  }

  @Test func randomSDSAMatches() {
    var rng = SplitMix64(seed: 0x5EED_0004)
    let rates = [0, 0.1, 0.5, 1]
    for trial in 0..<400 {
      let p = Self.randomLIF(&rng)
      let steps = rng.int(in: 1...6)
      let n = rng.int(in: 1...2)
      let tokens = rng.int(in: 1...8)
      let dim = rng.int(in: 1...8)
      let count = steps * n * tokens * dim
      let rate = rates[trial % rates.count]
      let q = Self.randomSpikes(&rng, count: count, rate: 0.5, levels: 1)
      var k = Self.randomSpikes(&rng, count: count, rate: rate, levels: 1)
      var v = Self.randomSpikes(&rng, count: count, rate: rates[(trial / 4) % rates.count], levels: 1)
      if trial % 10 == 0 {
        k[rng.int(in: 0...(count - 1))] = rng.pick([.infinity, .nan])
        v[rng.int(in: 0...(count - 1))] = rng.pick([-.infinity, .nan])
      }
      let ref = Ref.sdsa(q: q, k: k, v: v, steps: steps, n: n, tokens: tokens, dim: dim, p)
      let opt = Opt.sdsa(q: q, k: k, v: v, steps: steps, n: n, tokens: tokens, dim: dim, p)
      #expect(Self.bits(opt) == Self.bits(ref), "trial \(trial) \(p)")
    }
  }

  @Test func randomFixedLIFMatches() {
    var rng = SplitMix64(seed: 0x5EED_0005)
    for trial in 0..<400 {
      let p = Spiking.FixedLIF(
        du: rng.chance(0.2) ? rng.pick([0, 1, 4095, 4096]) : rng.int(in: 0...4096),
        dv: rng.chance(0.2) ? rng.pick([0, 1, 4095, 4096]) : rng.int(in: 0...4096),
        vth: rng.chance(0.1) ? rng.int(in: -(1 << 20)...(1 << 20)) : rng.int(in: 0...131071),
        bias: rng.chance(0.1) ? rng.int(in: -(1 << 30)...(1 << 30)) : rng.int(in: -4096...4095) << 3,
        fire: rng.pick(Spiking.Fire.allCases))
      let steps = rng.int(in: 1...6)
      let m = rng.int(in: 1...24)
      let a: [Int32] = (0..<(steps * m)).map { _ in
        switch rng.int(in: 0...3) {
        case 0: Int32(rng.int(in: -32768...32767))
        case 1: Int32(rng.int(in: -300...300))
        case 2: Int32(rng.int(in: 120000...140000)) * (rng.chance(0.5) ? 1 : -1)
        default: Int32(truncatingIfNeeded: rng.next())
        }
      }
      let trace = Ref.lifFixedTrace(a, steps: steps, p)
      #expect(Opt.lifFixedTrace(a, steps: steps, p) == trace, "trial \(trial) \(p)")
      #expect(Opt.lifFixed(a, steps: steps, p) == trace.spikes)
      #expect(Ref.lifFixed(a, steps: steps, p) == trace.spikes)
      #expect(trace.current.allSatisfy { $0 > -(1 << 23) && $0 <= 1 << 23 })
      #expect(trace.voltage.allSatisfy { $0 >= -(1 << 23) + 1 && $0 <= (1 << 23) - 1 })
    }
  }
}
