/// Fast-backend kernels: float32 / wrapping-integer loops over `FastTensor` storage.
///
/// Each family file adds its kernels in an `extension Fast`. Kernels take plain parameters (no
/// `Attributes`: the Backends tables decode those) and compute in the tensor's own type, never
/// through float64.
public enum Fast {}
