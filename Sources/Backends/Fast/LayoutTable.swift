import Kernels
import Operators
import Tensors

extension FastKernels {
  /// Data movement (shape and indexing ops) for every fast dtype: values are moved, never
  /// converted, so results equal the reference exactly.
  static let layout: [OperatorSpec.ID: FastKernel] = [
    "reshape": { a, t in [Fast.reshape(t[0], to: a.ints("shape"))] },
    "flatten": { a, t in
      let r = t[0].shape.count
      let axis = a.int("axis")
      return [Fast.flatten(t[0], axis: axis < 0 ? axis + r : axis)]
    },
    "transpose": { a, t in [Fast.transpose(t[0], perm: a.ints("perm"))] },
    "squeeze": { a, t in [Fast.squeeze(t[0], axes: a.ints("axes"))] },
    "unsqueeze": { a, t in [Fast.unsqueeze(t[0], axis: axis(a, "axis", rank: t[0].shape.count + 1))] },
    "concat": { a, t in [Fast.concat(t, axis: axis(a, "axis", rank: t[0].shape.count))] },
    "split": { a, t in
      guard let parts = Int(a.string("num_outputs")) else { preconditionFailure("split: bad num_outputs") }
      return Fast.split(t[0], axis: axis(a, "axis", rank: t[0].shape.count), parts: parts)
    },
    "slice": { a, t in
      [
        Fast.slice(
          t[0], axis: axis(a, "axis", rank: t[0].shape.count), start: a.int("start"), end: a.int("end"),
          step: a.int("step"))
      ]
    },
    "pad": { a, t in
      var value = 0.0
      if case .float(let v)? = a["value"] { value = v }
      guard let mode = Reference.PadMode(rawValue: a.string("mode")) else {
        preconditionFailure("pad: unknown mode \(a.string("mode"))")
      }
      return [Fast.pad(t[0], begin: a.ints("pads_begin"), end: a.ints("pads_end"), mode: mode, value: value)]
    },
    "expand": { a, t in [Fast.expand(t[0], to: a.ints("shape"))] },
    "tile": { a, t in [Fast.tile(t[0], repeats: a.ints("repeats"))] },
    "gather": { a, t in [Fast.gather(t[0], t[1], axis: axis(a, "axis", rank: t[0].shape.count))] },
  ]

  /// An axis attribute normalized for `rank` (negative counts from the back).
  private static func axis(_ a: Attributes, _ name: String, rank: Int) -> Int {
    guard let axis = Shape.axis(a.int(name), rank: rank) else {
      preconditionFailure("axis \(a.int(name)) out of range for rank \(rank)")
    }
    return axis
  }
}
