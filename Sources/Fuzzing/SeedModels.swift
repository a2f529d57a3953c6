import Generation
import IR
import Operators
import Symbolic
import Tensors

/// Hand-written seed models: small float32 blocks with the structure of real networks (ResNet,
/// MobileNetV2, a transformer encoder, LeNet, a U-Net decoder step) and seeded constant weights,
/// and low-bit blocks (an int8 conv block, a binary net block, a spike-driven attention block).
///
/// They seed fuzz campaigns and ship as `Corpus/seeds/<name>.dlsmith.json`, which must equal
/// `build().encoded()` byte for byte (checked by `SeedModelTests`). Weights are uniform in
/// ±1/sqrt(fan_in) (PyTorch's default initialisation bound), normalisation scales lie near 1,
/// batch-norm variances in a positive range matching the statistics of the layer before, so values
/// stay of order 1 through every block.
public enum SeedModels {
  public typealias Seed = (name: String, build: @Sendable () -> Graph)

  /// Every seed model, in a fixed order.
  public static let all: [Seed] = [
    ("resnet_basic_block", resnetBasicBlock),
    ("mobilenet_inverted_residual", mobilenetInvertedResidual),
    ("transformer_encoder_block", transformerEncoderBlock),
    ("lenet_like", lenetLike),
    ("unet_like_up", unetLikeUp),
    ("int8_conv_block", int8ConvBlock),
    ("binary_net_block", binaryNetBlock),
    ("spiking_attention_block", spikingAttentionBlock),
  ]

  public static var names: [String] { all.map(\.name) }

  /// The low-bit seed models and the low-bit backend that runs their optimized kernels.
  public static let lowBitBackends: [String: String] = [
    "int8_conv_block": "int8", "binary_net_block": "binary", "spiking_attention_block": "spiking",
  ]

  /// The float32 seed models (everything but the low-bit ones).
  public static var floatNames: [String] { names.filter { lowBitBackends[$0] == nil } }

  /// The seed model called `name`, built.
  public static func model(named name: String) -> Graph? { all.first { $0.name == name }?.build() }

  /// The file name a seed model ships under in `Corpus/seeds`.
  public static func fileName(_ name: String) -> String { "\(name).dlsmith.json" }

  // MARK: - Models

  /// x [1, 16, 12, 12] → conv 3x3 → bn → relu → conv 3x3 → bn → + x → relu.
  @Sendable public static func resnetBasicBlock() -> Graph {
    var b = SeedBuilder(seed: 0x5EED_0001)
    let x = b.input([1, 16, 12, 12])
    var h = b.conv2d(x, out: 16, kernel: 3, pad: 1)
    h = b.batchNorm(h)
    h = b("relu", h)
    h = b.conv2d(h, out: 16, kernel: 3, pad: 1)
    h = b.batchNorm(h)
    h = b("add", h, x)
    h = b("relu", h)
    return b.build(outputs: [h])
  }

  /// MobileNetV2 inverted residual: x [1, 8, 10, 10] → 1x1 expand to 32 → bn → relu6 → depthwise
  /// 3x3 (group 32) → bn → relu6 → 1x1 project to 8 → bn → + x.
  @Sendable public static func mobilenetInvertedResidual() -> Graph {
    var b = SeedBuilder(seed: 0x5EED_0002)
    let x = b.input([1, 8, 10, 10])
    var h = b.conv2d(x, out: 32, kernel: 1, pad: 0)
    h = b.batchNorm(h)
    h = b("clip", h, attributes: ["min": .float(0), "max": .float(6)])
    h = b.conv2d(h, out: 32, kernel: 3, pad: 1, group: depthwiseGroup)
    h = b.batchNorm(h)
    h = b("clip", h, attributes: ["min": .float(0), "max": .float(6)])
    h = b.conv2d(h, out: 8, kernel: 1, pad: 0)
    h = b.batchNorm(h)
    h = b("add", h, x)
    return b.build(outputs: [h])
  }

  /// The group of MobileNet's "depthwise" convolution: the largest the catalogue accepts.
  static let depthwiseGroup = 32

  /// Pre-norm (ViT / GPT-2 style) encoder block over x [1, 8, 32]: layer norm, Q/K/V projections,
  /// 4 heads of 8 with scaled dot-product attention, output projection, residual; layer norm, GELU
  /// MLP (32 → 64 → 32), residual.
  @Sendable public static func transformerEncoderBlock() -> Graph {
    let (tokens, model, heads, mlp) = (8, 32, 4, 64)
    let headDim = model / heads
    var b = SeedBuilder(seed: 0x5EED_0003)
    let x = b.input([1, tokens, model])
    let n1 = b.layerNorm(x, model)
    func heads4(_ v: ValueID) -> ValueID {
      let r = b("reshape", v, attributes: ["shape": .ints([1, tokens, heads, headDim])])
      return b("transpose", r, attributes: ["perm": .ints([0, 2, 1, 3])])
    }
    let q = heads4(b.linear(n1, model))
    let k = heads4(b.linear(n1, model))
    let v = heads4(b.linear(n1, model))
    let kt = b("transpose", k, attributes: ["perm": .ints([0, 1, 3, 2])])
    var scores = b("matmul", q, kt)
    scores = b("mul", scores, b.scalar(1 / Double(headDim).squareRoot()))
    let attention = b("softmax", scores, attributes: ["axis": .int(-1)])
    var context = b("matmul", attention, v)
    context = b("transpose", context, attributes: ["perm": .ints([0, 2, 1, 3])])
    context = b("reshape", context, attributes: ["shape": .ints([1, tokens, model])])
    let projected = b.linear(context, model)
    let r1 = b("add", projected, x)
    let n2 = b.layerNorm(r1, model)
    let up = b("gelu", b.linear(n2, mlp))
    let down = b.linear(up, model)
    let r2 = b("add", down, r1)
    return b.build(outputs: [r2])
  }

  /// LeNet-5 style classifier on x [1, 1, 16, 16]: conv 5x5 (pad 2) to 6 → relu → max pool 2 →
  /// conv 5x5 to 16 → relu → max pool 2 → flatten → gemm 64 → 32 → relu → gemm 32 → 10 → softmax.
  @Sendable public static func lenetLike() -> Graph {
    var b = SeedBuilder(seed: 0x5EED_0004)
    let x = b.input([1, 1, 16, 16])
    var h = b.conv2d(x, out: 6, kernel: 5, pad: 2, bias: true)
    h = b("relu", h)
    h = b.maxPool(h)
    h = b.conv2d(h, out: 16, kernel: 5, pad: 0, bias: true)
    h = b("relu", h)
    h = b.maxPool(h)
    h = b("flatten", h, attributes: ["axis": .int(1)])
    h = b.dense(h, 32)
    h = b("relu", h)
    h = b.dense(h, 10)
    h = b("softmax", h, attributes: ["axis": .int(-1)])
    return b.build(outputs: [h])
  }

  /// One U-Net decoder step: low-resolution features d [1, 16, 4, 4] upsampled by a stride-2
  /// transposed convolution to [1, 8, 8, 8], concatenated with the skip connection s [1, 8, 8, 8],
  /// then two conv 3x3 → bn → relu.
  @Sendable public static func unetLikeUp() -> Graph {
    var b = SeedBuilder(seed: 0x5EED_0005)
    let d = b.input([1, 16, 4, 4])
    let skip = b.input([1, 8, 8, 8])
    // ConvTranspose weights are [C_in, C_out, kh, kw]; fan-in per output cell is C_in.
    let w = b.weight([16, 8, 2, 2], fanIn: 16)
    var h = b(
      "conv_transpose2d", d, w,
      attributes: [
        "strides": .ints([2, 2]), "pads": .ints([0, 0, 0, 0]), "dilations": .ints([1, 1]),
        "output_padding": .ints([0, 0]), "group": .int(1),
      ])
    h = b("add", h, b.bias([1, 8, 1, 1], fanIn: 16))
    h = b("concat", h, skip, attributes: ["axis": .int(1)])
    for _ in 0..<2 {
      h = b.conv2d(h, out: 8, kernel: 3, pad: 1)
      h = b.batchNorm(h)
      h = b("relu", h)
    }
    return b.build(outputs: [h])
  }
}

// MARK: - Low-bit models

extension SeedModels {
  /// A ResNet-style float block (conv 3x3 → relu → conv 3x3 → + x → relu → max pool 2x2) quantized
  /// post-training by `Quantizer` (calibrated on its seeded inputs; ONNX requantization so the
  /// model exports to ONNX exactly): QuantizeLinear → QLinearConv (per-channel or per-tensor int8
  /// or int4 weights, int32 bias) → int8 clip → QLinearConv → QLinearAdd → clip → MaxPool (int8).
  @Sendable public static func int8ConvBlock() -> Graph {
    var b = SeedBuilder(seed: 0x5EED_0006)
    let x = b.input([1, 8, 10, 10])
    var h = b.conv2d(x, out: 8, kernel: 3, pad: 1)
    h = b("relu", h)
    h = b.conv2d(h, out: 8, kernel: 3, pad: 1)
    h = b("add", h, x)
    h = b("relu", h)
    h = b(
      "max_pool2d", h,
      attributes: [
        "kernel_shape": .ints([2, 2]), "strides": .ints([2, 2]), "pads": .ints([0, 0, 0, 0]),
        "dilations": .ints([1, 1]),
      ])
    var q = Quantizer()
    q.variants = [.onnx]
    q.powerOfTwoRate = 0
    return q.quantize(b.build(outputs: [h]), seed: 0x5EED_0006)!
  }

  /// A binary block in Larq/BiPer style, NHWC: x [1, 8, 8, 64] → sign + bitpack → BConv2D 3x3
  /// (BiPer square-wave weights sign(sin(4w)) packed from latent floats, one-padding, float output
  /// with a folded batch-norm multiplier and bias) → relu → bitpack → grouped BConv2D 3x3 (2 groups,
  /// zero padding) → flatten → bitpack → BDense to 10 logits.
  @Sendable public static func binaryNetBlock() -> Graph {
    var b = SeedBuilder(seed: 0x5EED_0007)
    let x = b.input([1, 8, 8, 64])
    func conv(_ h: ValueID, channels c: Int, out o: Int, group g: Int, padding: String) -> ValueID {
      let latent = b.constant([o, 3, 3, c / g], range: Interval(-1, 1))
      let w = b(
        "bitpack", latent, attributes: ["method": .string("biper"), "omega": .float(4), "groups": .int(1)])
      let k = Double(9 * c / g)
      let multiplier = b.constant([o], range: Interval(0.5 / k, 2 / k))
      let bias = b.constant([o], range: Interval(-0.1, 0.1))
      return b(
        "bconv2d", h, w, multiplier, bias,
        attributes: [
          "channels": .int(c), "strides": .ints([1, 1]), "pads": .ints([1, 1, 1, 1]),
          "dilations": .ints([1, 1]),
          "group": .int(g), "padding": .string(padding), "output": .string("f32"),
        ])
    }
    func pack(_ h: ValueID, groups: Int = 1) -> ValueID {
      b("bitpack", h, attributes: ["method": .string("sign"), "omega": .float(1), "groups": .int(groups)])
    }
    var h = conv(pack(x), channels: 64, out: 48, group: 1, padding: "one")
    h = b("relu", h)
    h = conv(pack(h, groups: 2), channels: 48, out: 32, group: 2, padding: "zero")
    h = b("reshape", h, attributes: ["shape": .ints([1, 8 * 8 * 32])])
    let w = b(
      "bitpack", b.constant([10, 8 * 8 * 32], range: Interval(-1, 1)),
      attributes: [
        "method": .string("sign"), "omega": .float(1), "groups": .int(1),
      ])
    let logits = b(
      "bdense", pack(h), w, b.constant([10], range: Interval(0.001, 0.01)),
      b.constant([10], range: Interval(-0.1, 0.1)),
      attributes: ["channels": .int(8 * 8 * 32), "output": .string("f32")])
    return b.build(outputs: [logits])
  }

  /// A spike-driven transformer block over T = 4 steps: input currents [4, 1, 3, 8, 8] → spiking
  /// conv 3x3 (8 channels) → tokens [4, 64, 8] → Q, K, V spiking linear layers (K with 4-level
  /// integer spikes as in the Quantized Spike-driven Transformer) → SDSA (masks and additions
  /// only) → spiking linear projection. Soft and hard resets, `>=` and `>` firing both appear.
  @Sendable public static func spikingAttentionBlock() -> Graph {
    var b = SeedBuilder(seed: 0x5EED_0008)
    let x = b.input([4, 1, 3, 8, 8], range: Interval(0, 2))
    func lif(_ reset: String, _ fire: String, levels: Int = 1) -> [String: AttributeValue] {
      [
        "tau_shift": .string("1"), "threshold": .float(0.5), "v_reset": .float(0), "reset": .string(reset),
        "fire": .string(fire), "levels": .string(String(levels)),
      ]
    }
    let w = b.weight([8, 3, 3, 3], fanIn: 27)
    var attrs = lif("hard", "geq")
    attrs["strides"] = .ints([1, 1])
    attrs["pads"] = .ints([1, 1, 1, 1])
    var h = b("spiking_conv2d", x, w, b.bias([8], fanIn: 27), attributes: attrs)
    h = b("reshape", h, attributes: ["shape": .ints([4, 1, 8, 64])])
    h = b("transpose", h, attributes: ["perm": .ints([0, 1, 3, 2])])
    let tokens = b("reshape", h, attributes: ["shape": .ints([4, 64, 8])])
    func linear(_ s: ValueID, _ attrs: [String: AttributeValue]) -> ValueID {
      let w = b.constant([8, 8], range: Interval(-0.6, 1))
      return b("spiking_linear", s, w, b.constant([8], range: Interval(0, 0.3)), attributes: attrs)
    }
    let q = linear(tokens, lif("hard", "geq"))
    let k = linear(tokens, lif("soft", "gt", levels: 4))
    let v = linear(tokens, lif("soft", "geq"))
    func heads(_ t: ValueID) -> ValueID { b("reshape", t, attributes: ["shape": .ints([4, 1, 64, 8])]) }
    var a = b("sdsa", heads(q), heads(k), heads(v), attributes: lif("hard", "gt"))
    a = b("reshape", a, attributes: ["shape": .ints([4, 64, 8])])
    let out = linear(a, lif("hard", "geq"))
    return b.build(outputs: [out])
  }
}

// MARK: - Builder

/// Builds a seed model: each node's output types come from its operator's shape rule, and each
/// constant gets the next seed of the model. Rule failures are programming errors in a seed model.
struct SeedBuilder {
  private var builder = GraphBuilder()
  private var nextSeed: UInt64
  var graph: Graph { builder.graph }

  init(seed: UInt64) { nextSeed = seed }

  mutating func input(_ shape: [Int], range: Interval = .unit) -> ValueID {
    builder.input(shape, .f32, range: range)
  }

  /// A seeded f32 constant uniform in `range`.
  mutating func constant(_ shape: [Int], range: Interval) -> ValueID {
    defer { nextSeed &+= 1 }
    return builder.constant(shape, .f32, seed: nextSeed, range: range)
  }

  /// A rank-0 f32 constant with the given value (rounded to f32).
  mutating func scalar(_ value: Double) -> ValueID {
    let v = Double(Float(value))
    return builder.constant([], .f32, seed: 0, range: Interval(v, v), data: [v])
  }

  /// Weights uniform in ±1/sqrt(fanIn).
  mutating func weight(_ shape: [Int], fanIn: Int) -> ValueID {
    let bound = 1 / Double(fanIn).squareRoot()
    return constant(shape, range: Interval(-bound, bound))
  }

  /// A bias, also uniform in ±1/sqrt(fanIn).
  mutating func bias(_ shape: [Int], fanIn: Int) -> ValueID { weight(shape, fanIn: fanIn) }

  /// Appends a node; returns its output ids.
  mutating func node(_ op: String, _ inputs: [ValueID], _ attributes: [String: AttributeValue]) -> [ValueID] {
    builder.node(op, inputs, attributes)
  }

  /// Appends a single-output node; returns its output id.
  mutating func callAsFunction(
    _ op: String, _ inputs: ValueID..., attributes: [String: AttributeValue] = [:]
  ) -> ValueID {
    builder.node(op, inputs, attributes)[0]
  }

  func shape(_ v: ValueID) -> [Int] { graph.types[v]!.shape }

  // MARK: Layers

  /// conv2d (square kernel, stride 1) with weights [out, C/group, k, k], optionally + bias.
  mutating func conv2d(
    _ x: ValueID, out: Int, kernel k: Int, pad p: Int, group: Int = 1, bias: Bool = false
  ) -> ValueID {
    let c = shape(x)[1]
    let fanIn = c / group * k * k
    let w = weight([out, c / group, k, k], fanIn: fanIn)
    let y = self(
      "conv2d", x, w,
      attributes: [
        "strides": .ints([1, 1]), "pads": .ints([p, p, p, p]), "dilations": .ints([1, 1]),
        "group": .int(group),
      ])
    return bias ? self("add", y, self.bias([1, out, 1, 1], fanIn: fanIn)) : y
  }

  /// Inference batch norm over channel dim 1 with scale near 1, small shift and mean, and variances
  /// in [0.05, 0.25] (the variance of a conv output with ±1/sqrt(fan_in) weights on unit inputs).
  mutating func batchNorm(_ x: ValueID) -> ValueID {
    let c = shape(x)[1]
    let scale = constant([c], range: Interval(0.8, 1.2))
    let shift = constant([c], range: Interval(-0.1, 0.1))
    let mean = constant([c], range: Interval(-0.05, 0.05))
    let variance = constant([c], range: Interval(0.05, 0.25))
    return self("batch_norm", x, scale, shift, mean, variance, attributes: ["epsilon": .float(1e-5)])
  }

  /// Layer norm over the last dim (of size `d`), scale near 1 and small shift.
  mutating func layerNorm(_ x: ValueID, _ d: Int) -> ValueID {
    let scale = constant([d], range: Interval(0.8, 1.2))
    let shift = constant([d], range: Interval(-0.1, 0.1))
    return self("layer_norm", x, scale, shift, attributes: ["axis": .int(-1), "epsilon": .float(1e-5)])
  }

  /// x [..., K] · W [K, N] + b [N] with matmul and add.
  mutating func linear(_ x: ValueID, _ n: Int) -> ValueID {
    let k = shape(x).last!
    let w = weight([k, n], fanIn: k)
    return self("add", self("matmul", x, w), bias([n], fanIn: k))
  }

  /// gemm with PyTorch Linear layout: x [M, K], W [N, K] (trans_b), bias [N].
  mutating func dense(_ x: ValueID, _ n: Int) -> ValueID {
    let k = shape(x)[1]
    let w = weight([n, k], fanIn: k)
    let c = bias([n], fanIn: k)
    return self(
      "gemm", x, w, c,
      attributes: ["alpha": .float(1), "beta": .float(1), "trans_a": .int(0), "trans_b": .int(1)])
  }

  /// 2x2 max pool, stride 2.
  mutating func maxPool(_ x: ValueID) -> ValueID {
    self(
      "max_pool2d", x,
      attributes: [
        "kernel_shape": .ints([2, 2]), "strides": .ints([2, 2]), "pads": .ints([0, 0, 0, 0]),
        "dilations": .ints([1, 1]),
      ])
  }

  func build(outputs: [ValueID]) -> Graph {
    var g = graph
    g.outputs = outputs
    return g
  }
}
