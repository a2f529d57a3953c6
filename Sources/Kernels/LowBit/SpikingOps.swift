import Tensors

/// Tensor-level spiking operators over `Spiking`'s kernels. Time is the leading dimension `T` of
/// every spiking tensor; each call starts from a fresh state (V = v_reset), so samples never share
/// state. `optimized` selects the event-driven kernels (`Spiking.Optimized`), which must agree with
/// the dense reference bit for bit.
public enum SpikingOps {
  /// LIF over `x` `[T, ...]` (float membrane, dyadic tau).
  public static func lif(_ x: Tensor, _ p: Spiking.LIF, optimized: Bool) -> Tensor {
    let t = x.shape[0]
    let s =
      optimized
      ? Spiking.Optimized.lif(x.storage, steps: t, p) : Spiking.Reference.lif(x.storage, steps: t, p)
    return Tensor(dtype: x.dtype, shape: x.shape, storage: s)
  }

  /// Fixed-point (bit-accurate) LIF over integer input currents `[T, ...]`; spikes 0/1 as i32.
  public static func lifFixed(_ x: Tensor, _ p: Spiking.FixedLIF, optimized: Bool) -> Tensor {
    let a = x.storage.map { Int32(truncatingIfNeeded: Int64($0)) }
    let t = x.shape[0]
    let s =
      optimized ? Spiking.Optimized.lifFixed(a, steps: t, p) : Spiking.Reference.lifFixed(a, steps: t, p)
    return Tensor(dtype: .i32, shape: x.shape, storage: s.map(Double.init))
  }

  /// Spiking linear block: currents `W s[t] + b` then LIF: s `[T, N, I]`, w `[O, I]`, b `[O]`.
  public static func linear(_ s: Tensor, _ w: Tensor, _ b: Tensor, _ p: Spiking.LIF, optimized: Bool)
    -> Tensor
  {
    let (t, n, i) = (s.shape[0], s.shape[1], s.shape[2])
    let o = w.shape[0]
    let out =
      optimized
      ? Spiking.Optimized.linearLIF(
        s.storage, weight: w.storage, bias: b.storage, steps: t, n: n, inputs: i, outputs: o, p)
      : Spiking.Reference.linearLIF(
        s.storage, weight: w.storage, bias: b.storage, steps: t, n: n, inputs: i, outputs: o, p)
    return Tensor(dtype: s.dtype, shape: [t, n, o], storage: out)
  }

  /// Spiking conv block: `conv2d(s[t]) + b` for every step (float64 reference convolution over the
  /// folded `[T*N, C, H, W]` batch), then LIF over T. s `[T, N, C, H, W]`, w `[O, C, KH, KW]`.
  public static func conv2d(
    _ s: Tensor, _ w: Tensor, _ b: Tensor, strides: [Int], pads: [Int], _ p: Spiking.LIF, optimized: Bool
  ) -> Tensor {
    let (t, n) = (s.shape[0], s.shape[1])
    let folded = Tensor(dtype: s.dtype, shape: [t * n] + Array(s.shape[2...]), storage: s.storage)
    var currents = Reference.conv(folded, w, strides: strides, pads: pads, dilations: [1, 1], group: 1)
    let o = w.shape[0]
    let plane = currents.shape[2] * currents.shape[3]
    for i in 0..<currents.count { currents.storage[i] += b.storage[(i / plane) % o] }
    let shaped = Tensor(
      dtype: s.dtype, shape: [t, n] + Array(currents.shape[1...]), storage: currents.storage)
    return lif(shaped, p, optimized: optimized)
  }

  /// Spike-driven self-attention (SDSA V1): q, k, v `[T, N, L, D]` -> `Q ⊗ SN(Σ_l K ⊗ V)`.
  public static func sdsa(_ q: Tensor, _ k: Tensor, _ v: Tensor, _ p: Spiking.LIF, optimized: Bool) -> Tensor
  {
    let (t, n, l, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
    let out =
      optimized
      ? Spiking.Optimized.sdsa(q: q.storage, k: k.storage, v: v.storage, steps: t, n: n, tokens: l, dim: d, p)
      : Spiking.Reference.sdsa(q: q.storage, k: k.storage, v: v.storage, steps: t, n: n, tokens: l, dim: d, p)
    return Tensor(dtype: q.dtype, shape: q.shape, storage: out)
  }
}
