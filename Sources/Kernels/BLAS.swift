import CBLAS
import Tensors

/// Thin, safe wrappers over OpenBLAS (the only BLAS importer in the package).
public enum BLAS {
  /// Uses one BLAS thread: on a 2-core machine the other core belongs to a worker or to Z3.
  public static func useSingleThread() { openblas_set_num_threads(1) }

  /// The kernel family OpenBLAS chose when it loaded (`openblas_get_corename`, e.g. `Haswell`,
  /// `SkylakeX`, `Cooperlake`). A DYNAMIC_ARCH build picks it from cpuid, or from the environment
  /// variable `OPENBLAS_CORETYPE`, read once when the library loads.
  public static var coreName: String { String(cString: openblas_get_corename()) }

  /// OpenBLAS's build configuration (`openblas_get_config`, e.g. `OpenBLAS 0.3.21 DYNAMIC_ARCH …`).
  public static var config: String { String(cString: openblas_get_config()) }

  /// Row-major `C = A(m×k) · B(k×n)` in float32.
  public static func sgemm(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int) -> [Float] {
    precondition(a.count == m * k && b.count == k * n, "sgemm: operand sizes do not match m, n, k")
    var c = [Float](repeating: 0, count: m * n)
    if m == 0 || n == 0 { return c }
    if k == 0 { return c }
    a.withUnsafeBufferPointer { pa in
      b.withUnsafeBufferPointer { pb in
        c.withUnsafeMutableBufferPointer { pc in
          cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1,
            pa.baseAddress, Int32(k), pb.baseAddress, Int32(n), 0, pc.baseAddress, Int32(n))
        }
      }
    }
    return c
  }
}
