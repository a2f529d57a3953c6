/// Event-driven spiking kernels. Each returns exactly the bits of its `Spiking.Reference` counterpart.
///
/// Why skipping inactive inputs is exact. The reference adds every product `w · s`; this path adds only
/// those with `s ≠ 0` (for SDSA: `k ≠ 0` and `v ≠ 0`), in the same ascending order. A skipped product is
/// `±0` when the other factor is finite, and adding `±0` to an accumulator leaves a nonzero value
/// unchanged and a zero a zero; so after every term the two accumulators are equal (`==`) and can
/// differ at most in the sign of a zero (`+0 + −0 = +0`). That relation survives every later operation:
/// adding the same term or bias, and the LIF step `V + (X − (V − vReset)) · 2^−k`, `H − s·θ` and the
/// selects, because none of them divides by state (the only division, `H / θ`, happens when `H ≥ θ` or
/// `H > θ`, and a zero `H` gives a zero or NaN quotient either way, which both clamp to level 1).
/// Comparisons see `+0 == −0`, so the spikes are identical, and spikes are the only output.
///
/// A skipped product is NaN instead when the other factor is ±∞ or NaN (`0 · ∞`). Such factors are
/// found once per call (non-finite weights; non-finite `k`/`v`) and the affected accumulator is set to
/// NaN, which the reference reaches too since NaN absorbs every later addition. NaN payloads can differ,
/// but a NaN current only ever yields "no spike" and a NaN membrane, so the spikes still agree.
extension Spiking.Optimized {
  // MARK: - LIF

  /// The float LIF of `Spiking.Reference.lif`, vectorized across the `M` neurons of each time step.
  ///
  /// Same arithmetic per element, so the same bits; the binary neuron (`levels == 1`) runs a branch-free
  /// loop per (fire rule, reset) pair, multi-level spikes a scalar loop with the division.
  ///
  /// - Precondition: as `Spiking.Reference.lif`.
  public static func lif(_ x: [Double], steps: Int, _ p: Spiking.LIF) -> [Double] {
    runLIF(x, steps: steps, p, recording: false).spikes
  }

  /// `lif` with the membrane after every step; equal (bit for bit) to `Spiking.Reference.lifTrace`.
  ///
  /// - Precondition: as `Spiking.Reference.lif`.
  public static func lifTrace(_ x: [Double], steps: Int, _ p: Spiking.LIF) -> Spiking.Trace {
    runLIF(x, steps: steps, p, recording: true)
  }

  /// The float LIF over time; copies the membrane after each step when `recording`.
  private static func runLIF(_ x: [Double], steps: Int, _ p: Spiking.LIF, recording: Bool) -> Spiking.Trace {
    p.check("Spiking.Optimized.lif")
    let m = Spiking.neurons(x.count, steps: steps, "Spiking.Optimized.lif")
    var spikes = [Double](repeating: 0, count: x.count)
    var record = [Double](repeating: 0, count: recording ? x.count : 0)
    guard m > 0 else { return Spiking.Trace(spikes: spikes, membrane: record) }
    var membrane = [Double](repeating: p.vReset, count: m)
    x.withUnsafeBufferPointer { xb in
      spikes.withUnsafeMutableBufferPointer { ob in
        record.withUnsafeMutableBufferPointer { rb in
          membrane.withUnsafeMutableBufferPointer { vb in
            guard let xs = xb.baseAddress, let os = ob.baseAddress, let vs = vb.baseAddress else { return }
            for t in 0..<steps {
              step(p, current: xs + t * m, membrane: vs, spikes: os + t * m, count: m)
              if recording, let records = rb.baseAddress { (records + t * m).update(from: vs, count: m) }
            }
          }
        }
      }
    }
    return Spiking.Trace(spikes: spikes, membrane: record)
  }

  /// One time step of `count` float LIF neurons: reads `current`, updates `membrane`, writes `spikes`.
  static func step(
    _ p: Spiking.LIF, current: UnsafePointer<Double>, membrane: UnsafeMutablePointer<Double>,
    spikes: UnsafeMutablePointer<Double>, count: Int
  ) {
    let geq = p.fire == .geq
    let hard = p.reset == .hard
    if p.levels == 1 {
      // Literal flags after inlining, so each combination gets its own select-only loop.
      switch (geq, hard) {
      case (true, true): binaryStep(p, geq: true, hard: true, current, membrane, spikes, count)
      case (true, false): binaryStep(p, geq: true, hard: false, current, membrane, spikes, count)
      case (false, true): binaryStep(p, geq: false, hard: true, current, membrane, spikes, count)
      case (false, false): binaryStep(p, geq: false, hard: false, current, membrane, spikes, count)
      }
      return
    }
    let vReset = p.vReset
    let threshold = p.threshold
    let decay = p.decay
    let top = Double(p.levels)
    for j in 0..<count {
      let v = membrane[j]
      let h = v + (current[j] - (v - vReset)) * decay
      if geq ? h >= threshold : h > threshold {
        // The level as a Double: floor(fl(h/θ)) clamped to [1, levels] (NaN quotient → 1).
        let quotient = (h / threshold).rounded(.down)
        let level = quotient >= top ? top : (quotient >= 1 ? quotient : 1)
        spikes[j] = level
        membrane[j] = hard ? vReset : h - level * threshold
      } else {
        spikes[j] = 0
        membrane[j] = h
      }
    }
  }

  /// The binary neuron's step with the fire rule and reset fixed, written as selects to vectorize.
  @inline(__always)
  private static func binaryStep(
    _ p: Spiking.LIF, geq: Bool, hard: Bool, _ current: UnsafePointer<Double>,
    _ membrane: UnsafeMutablePointer<Double>, _ spikes: UnsafeMutablePointer<Double>, _ count: Int
  ) {
    let vReset = p.vReset
    let threshold = p.threshold
    let decay = p.decay
    for j in 0..<count {
      let v = membrane[j]
      let h = v + (current[j] - (v - vReset)) * decay
      let fires = geq ? h >= threshold : h > threshold
      spikes[j] = fires ? 1 : 0
      membrane[j] = fires ? (hard ? vReset : h - threshold) : h
    }
  }

  /// The fixed-point LIF of `Spiking.Reference.lifFixed`, vectorized across the `M` neurons.
  ///
  /// Same integer results by construction: `trunc0(x)` is computed as `(x + ((x >> 63) & 4095)) >> 12`
  /// (adding 4095 before an arithmetic shift rounds a negative quotient toward zero) and the wrap as
  /// `((x + 2^23 − 1) & (2^24 − 1)) − (2^23 − 1)`, the same residue in `(−2^23, 2^23]`.
  ///
  /// - Precondition: as `Spiking.Reference.lifFixed`.
  public static func lifFixed(_ a: [Int32], steps: Int, _ p: Spiking.FixedLIF) -> [Int32] {
    runFixed(a, steps: steps, p, recording: false).spikes
  }

  /// `lifFixed` with the state after every step; equal to `Spiking.Reference.lifFixedTrace`.
  ///
  /// - Precondition: as `Spiking.Reference.lifFixed`.
  public static func lifFixedTrace(_ a: [Int32], steps: Int, _ p: Spiking.FixedLIF) -> Spiking.FixedTrace {
    runFixed(a, steps: steps, p, recording: true)
  }

  /// The fixed-point LIF over time; stores `u` and `v` after each step when `recording`.
  private static func runFixed(
    _ a: [Int32], steps: Int, _ p: Spiking.FixedLIF, recording: Bool
  ) -> Spiking.FixedTrace {
    p.check("Spiking.Optimized.lifFixed")
    let m = Spiking.neurons(a.count, steps: steps, "Spiking.Optimized.lifFixed")
    let recorded = recording ? a.count : 0
    var out = [Int32](repeating: 0, count: a.count)
    var currents = [Int32](repeating: 0, count: recorded)
    var voltages = [Int32](repeating: 0, count: recorded)
    guard m > 0 else { return Spiking.FixedTrace(spikes: out, current: currents, voltage: voltages) }
    var current = [Int64](repeating: 0, count: m)
    var voltage = [Int64](repeating: 0, count: m)
    let factorU = Int64(4096 - p.du)
    let factorV = Int64(4096 - p.dv)
    let bias = p.effectiveBias
    let threshold = p.effectiveThreshold
    let geq = p.fire == .geq
    let low: Int64 = Spiking.FixedLIF.uvMax - 1
    let mask: Int64 = 2 * Spiking.FixedLIF.uvMax - 1
    a.withUnsafeBufferPointer { ab in
      out.withUnsafeMutableBufferPointer { ob in
        current.withUnsafeMutableBufferPointer { ub in
          voltage.withUnsafeMutableBufferPointer { vb in
            guard let input = ab.baseAddress, let spikes = ob.baseAddress, let u = ub.baseAddress,
              let v = vb.baseAddress
            else { return }
            for t in 0..<steps {
              let base = t * m
              for j in 0..<m {
                let pu = u[j] * factorU
                let decayedU = (pu + ((pu >> 63) & 4095)) >> 12
                let newU = ((decayedU + (Int64(input[base + j]) << 6) + low) & mask) - low
                let pv = v[j] * factorV
                let decayedV = (pv + ((pv >> 63) & 4095)) >> 12
                let newV = min(max(decayedV + newU + bias, -low), low)
                let fires = geq ? newV >= threshold : newV > threshold
                spikes[base + j] = fires ? 1 : 0
                u[j] = newU
                v[j] = fires ? 0 : newV
              }
              if recording {
                for j in 0..<m {
                  currents[base + j] = Int32(u[j])
                  voltages[base + j] = Int32(v[j])
                }
              }
            }
          }
        }
      }
    }
    return Spiking.FixedTrace(spikes: out, current: currents, voltage: voltages)
  }

  // MARK: - Spiking linear layer

  /// Outputs per weight panel. A transposed panel `[I, 16]` (128 KiB for `I = 1024`) stays in L2 while
  /// every `(t, n)` row reads it, and its 16 accumulators stay in registers.
  static let panelWidth = 16

  /// The spiking linear layer of `Spiking.Reference.linearLIF`, event-driven.
  ///
  /// Once per call, list the active inputs of every `(t, n)` row (`s ≠ 0`, so `−0.0` is inactive and
  /// NaN is active) in ascending order, with their spike values. Then, for each panel of 16 outputs:
  /// transpose `weight[o0..<o0+16, :]` to `[I, 16]` (a contiguous column slice per input) and list its
  /// non-finite weights; for every `(t, n)` row in time order, sum `weight · s` over the active inputs
  /// in ascending order from `+0.0` (16 register accumulators), set to NaN the accumulators that the
  /// reference poisons with `0 · ∞` (a listed weight whose input is inactive), add the bias, and run one
  /// vectorized LIF step on the panel's neurons. Output neurons never interact, so going panel by panel
  /// changes no value. Bit-exactness is argued on `Spiking.Optimized`.
  ///
  /// - Precondition: as `Spiking.Reference.linearLIF`.
  public static func linearLIF(
    _ s: [Double], weight: [Double], bias: [Double], steps: Int, n: Int, inputs: Int, outputs: Int,
    _ p: Spiking.LIF
  ) -> [Double] {
    let caller = "Spiking.Optimized.linearLIF"
    p.check(caller)
    Spiking.checkSizes([steps, n, inputs, outputs], caller)
    precondition(s.count == steps * n * inputs, "\(caller): \(s.count) spikes ≠ T·N·I")
    precondition(weight.count == outputs * inputs, "\(caller): \(weight.count) weights ≠ O·I")
    precondition(bias.count == outputs, "\(caller): \(bias.count) biases ≠ O")
    let rows = steps * n
    var out = [Double](repeating: 0, count: rows * outputs)
    guard rows > 0, outputs > 0 else { return out }
    // Row r's active inputs are active[start[r]..<start[r + 1]] (ascending) with spikes values[…],
    // packed so that the hot loop reads both sequentially.
    var start = [Int](repeating: 0, count: rows + 1)
    var active: [Int] = []
    var values: [Double] = []
    active.reserveCapacity(s.count / 4)
    values.reserveCapacity(s.count / 4)
    for row in 0..<rows {
      for i in 0..<inputs where s[row * inputs + i] != 0 {
        active.append(i)
        values.append(s[row * inputs + i])
      }
      start[row + 1] = active.count
    }
    // The panel's weights whose product with a zero spike is NaN: (input, output within the panel).
    var poisons: [(input: Int, output: Int)] = []
    let width = min(panelWidth, outputs)
    let panel = UnsafeMutablePointer<Double>.allocate(capacity: inputs * width)
    defer { panel.deallocate() }
    let acc = UnsafeMutablePointer<Double>.allocate(capacity: width)
    defer { acc.deallocate() }
    let membrane = UnsafeMutablePointer<Double>.allocate(capacity: n * outputs)
    membrane.initialize(repeating: p.vReset, count: n * outputs)
    defer { membrane.deallocate() }
    weight.withUnsafeBufferPointer { wb in
      bias.withUnsafeBufferPointer { bb in
        out.withUnsafeMutableBufferPointer { ob in
          active.withUnsafeBufferPointer { ab in
            values.withUnsafeBufferPointer { vb in
              guard let b = bb.baseAddress, let o = ob.baseAddress else { return }
              for o0 in stride(from: 0, to: outputs, by: width) {
                let count = min(width, outputs - o0)
                poisons.removeAll(keepingCapacity: true)
                if let w = wb.baseAddress,
                  !transpose(w + o0 * inputs, rows: count, columns: inputs, into: panel)
                {
                  for j in 0..<count {
                    for i in 0..<inputs where !w[(o0 + j) * inputs + i].isFinite { poisons.append((i, j)) }
                  }
                }
                for row in 0..<rows {
                  if let act = ab.baseAddress, let value = vb.baseAddress {
                    let first = start[row]
                    accumulate(acc, panel, act + first, value + first, start[row + 1] - first, count)
                  } else {
                    acc.update(repeating: 0, count: count)  // nothing is active anywhere
                  }
                  for (i, j) in poisons where s[row * inputs + i] == 0 { acc[j] = .nan }
                  for j in 0..<count { acc[j] = acc[j] + b[o0 + j] }
                  step(
                    p, current: acc, membrane: membrane + (row % n) * outputs + o0,
                    spikes: o + row * outputs + o0, count: count)
                }
              }
            }
          }
        }
      }
    }
    return out
  }

  /// Whether no element is ±∞ or NaN, as a branch-free integer reduction: an all-ones exponent
  /// plus `2^52` carries into bit 63.
  static func allFinite(_ xs: [Double]) -> Bool {
    xs.withUnsafeBufferPointer { xb in
      var carry: UInt64 = 0
      for x in xb { carry |= (x.bitPattern & 0x7FF0_0000_0000_0000) &+ (1 << 52) }
      return carry >> 63 == 0
    }
  }

  /// `acc[j] = +0.0 + columns[i₀ · width + j] · s₀ + columns[i₁ · width + j] · s₁ + …` for the active
  /// inputs `i_k = act[k]` with spikes `s_k = value[k]`, `k < count`, added one by one in that
  /// (ascending) order.
  ///
  /// Sixteen outputs at a time stay in registers (eight `SIMD2` lanes, each its own chain of
  /// `a = a + c · s`) for the whole active list, so each term costs one column load; `SIMD2` arithmetic
  /// is lane-wise IEEE multiply and add, the reference's operations in the reference's order.
  @inline(__always)
  private static func accumulate(
    _ acc: UnsafeMutablePointer<Double>, _ columns: UnsafePointer<Double>, _ act: UnsafePointer<Int>,
    _ value: UnsafePointer<Double>, _ count: Int, _ width: Int
  ) {
    typealias Pair = SIMD2<Double>
    var j0 = 0
    while j0 &+ 16 <= width {
      var a0 = Pair()
      var a1 = Pair()
      var a2 = Pair()
      var a3 = Pair()
      var a4 = Pair()
      var a5 = Pair()
      var a6 = Pair()
      var a7 = Pair()
      for k in 0..<count {
        let s = Pair(repeating: value[k])
        let c = UnsafeRawPointer(columns + (act[k] &* width &+ j0))
        a0 = a0 + c.loadUnaligned(fromByteOffset: 0, as: Pair.self) * s
        a1 = a1 + c.loadUnaligned(fromByteOffset: 16, as: Pair.self) * s
        a2 = a2 + c.loadUnaligned(fromByteOffset: 32, as: Pair.self) * s
        a3 = a3 + c.loadUnaligned(fromByteOffset: 48, as: Pair.self) * s
        a4 = a4 + c.loadUnaligned(fromByteOffset: 64, as: Pair.self) * s
        a5 = a5 + c.loadUnaligned(fromByteOffset: 80, as: Pair.self) * s
        a6 = a6 + c.loadUnaligned(fromByteOffset: 96, as: Pair.self) * s
        a7 = a7 + c.loadUnaligned(fromByteOffset: 112, as: Pair.self) * s
      }
      let out = UnsafeMutableRawPointer(acc + j0)
      out.storeBytes(of: a0, toByteOffset: 0, as: Pair.self)
      out.storeBytes(of: a1, toByteOffset: 16, as: Pair.self)
      out.storeBytes(of: a2, toByteOffset: 32, as: Pair.self)
      out.storeBytes(of: a3, toByteOffset: 48, as: Pair.self)
      out.storeBytes(of: a4, toByteOffset: 64, as: Pair.self)
      out.storeBytes(of: a5, toByteOffset: 80, as: Pair.self)
      out.storeBytes(of: a6, toByteOffset: 96, as: Pair.self)
      out.storeBytes(of: a7, toByteOffset: 112, as: Pair.self)
      j0 &+= 16
    }
    for j in j0..<width {
      var a = 0.0
      for k in 0..<count { a = a + columns[act[k] &* width &+ j] * value[k] }
      acc[j] = a
    }
  }

  /// Writes the transpose of the row-major `[rows, columns]` matrix at `source` to `destination`
  /// (`[columns, rows]`), eight source rows at a time so that every pass writes whole cache lines, and
  /// returns whether every element is finite (checked on the way, see `allFinite`).
  private static func transpose(
    _ source: UnsafePointer<Double>, rows: Int, columns: Int, into destination: UnsafeMutablePointer<Double>
  ) -> Bool {
    var carry: UInt64 = 0
    var r0 = 0
    while r0 &+ 8 <= rows {
      let s0 = source + r0 &* columns
      for c in 0..<columns {
        let d = destination + (c &* rows &+ r0)
        for r in 0..<8 {
          let x = s0[r &* columns &+ c]
          carry |= (x.bitPattern & 0x7FF0_0000_0000_0000) &+ (1 << 52)
          d[r] = x
        }
      }
      r0 &+= 8
    }
    while r0 < rows {
      let s0 = source + r0 &* columns
      for c in 0..<columns {
        let x = s0[c]
        carry |= (x.bitPattern & 0x7FF0_0000_0000_0000) &+ (1 << 52)
        destination[c &* rows &+ r0] = x
      }
      r0 &+= 1
    }
    return carry >> 63 == 0
  }

  // MARK: - Spike-driven self-attention

  /// The SDSA of `Spiking.Reference.sdsa`, event-driven.
  ///
  /// Per `(t, n)` the `kv` column sums receive only the products where both `k ≠ 0` and `v ≠ 0`, in
  /// ascending token order; when the call holds a non-finite `k` or `v`, a zero paired with one sets
  /// that `kv` to NaN as the reference's `0 · ∞` does. The mask comes from `Optimized.lif`, and the
  /// output is `q · mask` for every element (so `q`'s zeros, signs and NaNs pass through as in the
  /// reference). Bit-exactness is argued on `Spiking.Optimized`.
  ///
  /// - Precondition: as `Spiking.Reference.sdsa`.
  public static func sdsa(
    q: [Double], k: [Double], v: [Double], steps: Int, n: Int, tokens: Int, dim: Int, _ p: Spiking.LIF
  ) -> [Double] {
    let caller = "Spiking.Optimized.sdsa"
    p.check(caller)
    Spiking.checkSizes([steps, n, tokens, dim], caller)
    let count = steps * n * tokens * dim
    precondition(q.count == count && k.count == count && v.count == count, "\(caller): sizes ≠ T·N·L·D")
    var out = [Double](repeating: 0, count: count)
    guard count > 0 else {
      return out
    }
    let finite = allFinite(k) && allFinite(v)
    var kv = [Double](repeating: 0, count: steps * n * dim)
    var poisoned = [Bool](repeating: false, count: dim)
    k.withUnsafeBufferPointer { kb in
      v.withUnsafeBufferPointer { vb in
        kv.withUnsafeMutableBufferPointer { kvb in
          guard let ks = kb.baseAddress, let vs = vb.baseAddress, let sums = kvb.baseAddress else { return }
          for row in 0..<(steps * n) {
            let acc = sums + row * dim
            for l in 0..<tokens {
              let kRow = ks + (row * tokens + l) * dim
              let vRow = vs + (row * tokens + l) * dim
              if finite {
                for d in 0..<dim where kRow[d] != 0 {
                  let value = vRow[d]
                  if value != 0 { acc[d] = acc[d] + kRow[d] * value }
                }
              } else {
                for d in 0..<dim {
                  let key = kRow[d]
                  let value = vRow[d]
                  if key != 0 && value != 0 {
                    acc[d] = acc[d] + key * value
                  } else if !(key.isFinite && value.isFinite) {
                    poisoned[d] = true
                  }
                }
              }
            }
            if !finite {
              for d in 0..<dim where poisoned[d] {
                acc[d] = .nan
                poisoned[d] = false
              }
            }
          }
        }
      }
    }
    let mask = lif(kv, steps: steps, p)
    q.withUnsafeBufferPointer { qb in
      mask.withUnsafeBufferPointer { mb in
        out.withUnsafeMutableBufferPointer { ob in
          guard let qs = qb.baseAddress, let ms = mb.baseAddress, let os = ob.baseAddress else { return }
          for row in 0..<(steps * n) {
            let m = ms + row * dim
            for l in 0..<tokens {
              let base = (row * tokens + l) * dim
              for d in 0..<dim { os[base + d] = qs[base + d] * m[d] }
            }
          }
        }
      }
    }
    return out
  }
}
