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
      "GFLOPS of the fast backend's matmul and conv2d next to raw cblas_sgemm on the equivalent GEMM (one thread).",
    discussion:
      "Each figure is the best of repeated runs lasting at least --seconds; the ratio is fast / raw sgemm measured in the same run."
  )

  @Option(help: "Minimum measuring time per figure, in seconds.") var seconds: Double = 0.3

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

  func run() throws {
    BLAS.useSingleThread()
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
  }
}
