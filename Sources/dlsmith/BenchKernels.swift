import ArgumentParser
import Backends
import Foundation
import Kernels
import Operators
import Tensors

struct BenchKernels: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "kernels",
    abstract:
      "Kernel throughput as ratios against a baseline measured in the same run (one thread): fast float32 matmul/conv2d vs raw cblas_sgemm, int8 GEMM vs sgemm and binary conv vs float32 conv on every low-bit path the CPU supports, event-driven vs dense LIF.",
    discussion:
      "Each figure is the best of repeated runs lasting at least --seconds. Integer ops count 2 per multiply-accumulate, like FLOPs. The avx2 int8 GEMM is also compared with sgemm on OpenBLAS's Haswell (AVX2) kernel, timed in a child process started with OPENBLAS_CORETYPE=Haswell (the variable is read when OpenBLAS loads); the core names are printed."
  )

  @Option(help: "Minimum measuring time per figure, in seconds.") var seconds: Double = 0.3
  @Flag(help: "Print the low-bit paths (supported, default) and exit without measuring.") var paths = false
  /// Child mode for the AVX2 baseline: time `cblas_sgemm` at size³ and print `core`, `config` and
  /// `seconds` lines (see `avx2Baseline`).
  @Option(help: .hidden) var sgemmBaseline: Int?

  struct Case {
    let name: String
    let op: String
    let attributes: Attributes
    let inputs: [[Int]]
    let gemm: (m: Int, n: Int, k: Int)
  }

  static func conv(_ n: Int, _ c: Int, _ hw: Int, _ o: Int, _ k: Int, pad: Int, stride: Int = 1) -> Case {
    let out = (hw + 2 * pad - k) / stride + 1
    return Case(
      name: "conv2d N\(n) C\(c) \(hw)x\(hw) O\(o) k\(k) s\(stride)", op: "conv2d",
      attributes: Attributes([
        "strides": .ints([stride, stride]), "pads": .ints([pad, pad, pad, pad]), "dilations": .ints([1, 1]),
        "group": .int(1),
      ]),
      inputs: [[n, c, hw, hw], [o, c, k, k]], gemm: (o, n * out * out, c * k * k))
  }

  static let cases: [Case] = [
    Case(
      name: "matmul 256x256x256", op: "matmul", attributes: Attributes(), inputs: [[256, 256], [256, 256]],
      gemm: (256, 256, 256)),
    Case(
      name: "matmul 512x512x512", op: "matmul", attributes: Attributes(), inputs: [[512, 512], [512, 512]],
      gemm: (512, 512, 512)),
    Case(
      name: "matmul batch 8x128x64x128", op: "matmul", attributes: Attributes(),
      inputs: [[8, 128, 64], [8, 64, 128]], gemm: (8 * 128, 128, 64)),
    conv(1, 64, 56, 64, 3, pad: 1), conv(1, 128, 28, 128, 3, pad: 1), conv(1, 256, 14, 256, 3, pad: 1),
    conv(8, 32, 32, 64, 3, pad: 1), conv(1, 64, 56, 128, 1, pad: 0),
    conv(1, 32, 64, 64, 3, pad: 1, stride: 2),
  ]

  func best(_ body: () -> Void) -> Double {
    body()  // warm-up
    var bestTime = Double.infinity
    let clock = ContinuousClock()
    let start = clock.now
    repeat {
      let t0 = clock.now
      body()
      bestTime = Swift.min(bestTime, (clock.now - t0) / .seconds(1))
    } while (clock.now - start) / .seconds(1) < seconds
    return bestTime
  }

  /// The supported low-bit paths and the process default.
  static var pathsLine: String {
    "low-bit paths: \(LowBitPath.supported.map(\.description).joined(separator: ", ")) supported; "
      + "default \(LowBitPath.processDefault) (DLSMITH_LOWBIT_PATH overrides it)"
  }

  func run() throws {
    if paths {
      print(Self.pathsLine)
      return
    }
    BLAS.useSingleThread()
    if let size = sgemmBaseline {
      guard size > 0 else { throw ValidationError("--sgemm-baseline must be > 0") }
      var rng = SplitMix64(seed: 2)
      let a = (0..<(size * size)).map { _ in Float(rng.int(in: -128...127)) }
      let b = (0..<(size * size)).map { _ in Float(rng.int(in: -127...127)) }
      let t = best { _ = BLAS.sgemm(a, b, m: size, n: size, k: size) }
      print("core \(BLAS.coreName)")
      print("config \(BLAS.config)")
      print("seconds \(t)")
      return
    }
    var rng = SplitMix64(seed: 1)
    print("shape                                   fast GFLOPS   sgemm GFLOPS   ratio")
    for c in Self.cases {
      guard let kernel = FastKernels.table[c.op] else { throw ToolError("no fast kernel for \(c.op)") }
      let inputs = c.inputs.map { s in
        FastTensor(floats: (0..<s.reduce(1, *)).map { _ in Float(rng.unit() * 2 - 1) }, shape: s)
      }
      let (m, n, k) = c.gemm
      let a = (0..<(m * k)).map { _ in Float(rng.unit()) }
      let b = (0..<(k * n)).map { _ in Float(rng.unit()) }
      let flops = 2.0 * Double(m) * Double(n) * Double(k)
      let fast = best { _ = kernel(c.attributes, inputs) }
      let raw = best { _ = BLAS.sgemm(a, b, m: m, n: n, k: k) }
      let gf = flops / fast / 1e9
      let gr = flops / raw / 1e9
      let label = c.name.padding(toLength: 40, withPad: " ", startingAt: 0)
      print(label + String(format: "%10.1f %14.1f %7.2f", gf, gr, gf / gr))
    }
    lowBit(&rng)
  }

  /// The environment variable that makes a DYNAMIC_ARCH OpenBLAS use one kernel family. It is read
  /// when the library loads, so a baseline with another family runs in a child process.
  static let coreTypeVariable = "OPENBLAS_CORETYPE"

  /// `cblas_sgemm` at size³ on OpenBLAS's Haswell (AVX2) kernels: this executable rerun as
  /// `bench kernels --sgemm-baseline SIZE` with `OPENBLAS_CORETYPE=Haswell`, which prints the core
  /// OpenBLAS really loaded and the best time (same `--seconds`).
  func avx2Baseline(size: Int) -> Result<(core: String, seconds: Double), ToolError> {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: selfExecutable())
    p.arguments = ["bench", "kernels", "--sgemm-baseline", String(size), "--seconds", String(seconds)]
    var environment = ProcessInfo.processInfo.environment
    environment[Self.coreTypeVariable] = "Haswell"
    p.environment = environment
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = FileHandle.nullDevice
    do { try p.run() } catch { return .failure(ToolError("cannot rerun \(selfExecutable()): \(error)")) }
    let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    var fields: [String: String] = [:]
    for line in stdout.split(separator: "\n") {
      let parts = line.split(separator: " ", maxSplits: 1)
      if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
    }
    guard p.terminationStatus == 0, let core = fields["core"], let t = fields["seconds"].flatMap(Double.init),
      t > 0
    else {
      let why = stderr.split(separator: "\n").last.map(String.init) ?? "exit status \(p.terminationStatus)"
      return .failure(ToolError("the child process failed: \(why)"))
    }
    return .success((core, t))
  }

  /// The low-bit kernels against their float baselines, once per low-bit path this CPU supports (the
  /// baseline is measured once per shape, in the same run).
  func lowBit(_ rng: inout SplitMix64) {
    let paths = LowBitPath.supported
    print("\n" + Self.pathsLine)

    print(
      "\nint8 GEMM (int8 data offset to int16 operands, int32 accumulation: gemmS16) vs two cblas_sgemm baselines"
    )
    print("  native: OpenBLAS as loaded in this process (core \(BLAS.coreName))")
    print(
      "  AVX2:   OpenBLAS restricted to its Haswell (AVX2) kernel, in a child process with "
        + "\(Self.coreTypeVariable)=Haswell (for the avx2 path)")
    func right(_ text: String, _ width: Int) -> String {
      String(repeating: " ", count: Swift.max(0, width - text.count)) + text
    }
    print(
      "shape".padding(toLength: 21, withPad: " ", startingAt: 0) + "path      "
        + "kernel".padding(toLength: 22, withPad: " ", startingAt: 0)
        + right("int8 GOPS", 11) + right("native GFLOPS", 16) + right("ratio", 8) + right("AVX2 GFLOPS", 14)
        + right("ratio", 8))
    var childCores: [String] = []
    for size in [256, 512, 1024] {
      let (m, n, k) = (size, size, size)
      let a = (0..<(m * k)).map { _ in Int16(rng.int(in: -128...127)) }
      let b = (0..<(k * n)).map { _ in Int16(rng.int(in: -127...127)) }
      var c = [Int32](repeating: 0, count: m * n)
      let fa = a.map(Float.init)
      let fb = b.map(Float.init)
      let ops = 2.0 * Double(m * n) * Double(k)
      let f = best { _ = BLAS.sgemm(fa, fb, m: m, n: n, k: k) }
      for path in paths {
        // The AVX2 baseline is measured just before the avx2 kernel, so both see about the same load.
        var avx2: (core: String, seconds: Double)?
        if path == .avx2 {
          switch avx2Baseline(size: size) {
          case .success(let r):
            avx2 = r
            childCores.append(r.core)
          case .failure(let e): print("AVX2 baseline for \(size)^3 unavailable: \(e.description)")
          }
        }
        var kernel = Quant.Optimized.GEMMKernel.swiftS16
        let q = best {
          LowBitPath.withPath(path) {
            a.withUnsafeBufferPointer { pa in
              b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                  kernel = Quant.Optimized.gemmS16(
                    pa.baseAddress!, pb.baseAddress!, pc.baseAddress!, m: m, k: k, n: n)
                }
              }
            }
          }
        }
        let label = "gemm \(m)x\(n)x\(k)".padding(toLength: 21, withPad: " ", startingAt: 0)
        var againstAVX2 = right("-", 14) + right("-", 8)
        if let h = avx2?.seconds {
          againstAVX2 = String(format: "%14.1f %7.2f", ops / h / 1e9, h / q)
        }
        print(
          label + path.description.padding(toLength: 10, withPad: " ", startingAt: 0)
            + kernel.rawValue.padding(toLength: 22, withPad: " ", startingAt: 0)
            + String(format: "%11.1f %15.1f %7.2f", ops / q / 1e9, ops / f / 1e9, f / q) + againstAVX2)
      }
    }
    if !childCores.isEmpty {
      print("AVX2 baseline: the child processes reported OpenBLAS core \(childCores.joined(separator: ", "))")
      if let other = childCores.first(where: { $0.lowercased() != "haswell" }) {
        print(
          "warning: a child ran OpenBLAS core \(other), not Haswell (\(Self.coreTypeVariable) is honoured "
            + "only by a DYNAMIC_ARCH build): its column is not an AVX2 baseline")
      }
    }

    print("\nbinary conv2d (XOR-popcount, packed NHWC) vs float32 conv2d (fast backend, im2col + sgemm)")
    print("shape                        path       binary ms      float ms   speed-up")
    guard let floatConv = FastKernels.table["conv2d"] else { return }
    for (hw, c, o) in [(56, 256, 256), (28, 512, 512), (14, 256, 256)] {
      let shape = Binary.Conv2DShape(
        n: 1, h: hw, w: hw, c: c, o: o, kh: 3, kw: 3, strideH: 1, strideW: 1, padTop: 1, padLeft: 1,
        padBottom: 1, padRight: 1, dilationH: 1, dilationW: 1, groups: 1, padding: .one)
      let input = (0..<(hw * hw * Binary.words(c))).map { _ in UInt32(truncatingIfNeeded: rng.next()) }
      let filter = (0..<(o * 9 * Binary.words(c))).map { _ in UInt32(truncatingIfNeeded: rng.next()) }
      let x = FastTensor(
        floats: (0..<(c * hw * hw)).map { _ in Float(rng.unit() * 2 - 1) }, shape: [1, c, hw, hw])
      let w = FastTensor(
        floats: (0..<(o * c * 9)).map { _ in Float(rng.unit() * 2 - 1) }, shape: [o, c, 3, 3])
      let attrs = Attributes([
        "strides": .ints([1, 1]), "pads": .ints([1, 1, 1, 1]), "dilations": .ints([1, 1]), "group": .int(1),
      ])
      let fl = best { _ = floatConv(attrs, [x, w]) }
      for path in paths {
        let bin = best {
          LowBitPath.withPath(path) {
            _ = Binary.Optimized.conv2d(input: input, filter: filter, shape: shape)
          }
        }
        let label = "conv 3x3 \(hw)x\(hw) C\(c) O\(o)".padding(toLength: 29, withPad: " ", startingAt: 0)
        print(
          label + path.description.padding(toLength: 8, withPad: " ", startingAt: 0)
            + String(format: "%12.2f %13.2f %10.1fx", bin * 1e3, fl * 1e3, fl / bin))
      }
    }

    print(
      "\nspiking linear + LIF, T=8, N=16, 1024 -> 1024: event-driven vs dense, by input spike rate "
        + "(path: portable; the spiking kernels have no dispatched path)")
    print("spike rate                              event ms       dense ms   speed-up")
    let (t, n, i, o) = (8, 16, 1024, 1024)
    let weight = (0..<(o * i)).map { _ in rng.unit() * 0.2 - 0.1 }
    let bias = (0..<o).map { _ in rng.unit() * 0.1 }
    let p = Spiking.LIF(tauShift: 1, threshold: 1, vReset: 0, reset: .soft, fire: .geq, levels: 1)
    for rate in [0.01, 0.1, 0.3] {
      let s = (0..<(t * n * i)).map { _ in rng.chance(rate) ? 1.0 : 0.0 }
      let ev = best {
        _ = Spiking.Optimized.linearLIF(
          s, weight: weight, bias: bias, steps: t, n: n, inputs: i, outputs: o, p)
      }
      let de = best {
        _ = Spiking.Reference.linearLIF(
          s, weight: weight, bias: bias, steps: t, n: n, inputs: i, outputs: o, p)
      }
      let label = String(format: "%.0f%%", rate * 100).padding(toLength: 40, withPad: " ", startingAt: 0)
      print(label + String(format: "%9.2f %13.2f %10.1fx", ev * 1e3, de * 1e3, de / ev))
    }
  }
}
