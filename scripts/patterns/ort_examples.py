"""Concrete instances of the patterns in ort.json, for verify_ort.py.

Per pattern name: the shape of "x" ("xdtype" when x is not of the pattern's dtype; "xrange" for its
random values; "xprod": x is produced by that ONNX op from a graph input, i.e. an intermediate value,
as it is when grafted mid-model), values of attributes the pattern leaves free ("attrs" by node
index), shapes of fresh operands the pattern does not pin ("shapes" by "node.operand"), operand
dtypes ("dt", e.g. i8 weights of a DequantizeLinear), value ranges ("ranges"), and per-near-miss
overrides ("nm"). Each is one valid solution of what the generator would solve freely.
"""

X3 = {"x": [2, 3, 4]}
XN = {"x": [2, 3, 4], "xprod": "Neg"}
CONV = {"x": [1, 4, 6, 6], "shapes": {"0.1": [6, 4, 3, 3]}}
CONV1D = {"x": [1, 4, 7], "shapes": {"0.1": [6, 4, 3]}}
NCHWC = {"x": [1, 16, 8, 8], "shapes": {"0.1": [16, 16, 3, 3], "1.1": [16, 16, 3, 3]}}
GEMM = {"x": [5, 3], "nm": {"f64_not_fused": {}}}

EXAMPLES = {
    "ort.relu_clip": X3,
    "ort.noop_add_zero": XN, "ort.noop_sub_zero": XN,
    "ort.noop_mul_one": XN, "ort.noop_div_one": XN,
    "ort.div_mul": {"x": [2, 3, 4], "xrange": (0.5, 2.0)},
    "ort.cast_same_type": X3,
    "ort.expand_noop": XN,
    "ort.unsqueeze_initializer": {"x": [2, 3, 4], "shapes": {"0.0": [3, 4]}},
    "ort.not_where": {"x": [2, 3, 4], "xdtype": "bool"},
    "ort.gemm_transpose_a": {"x": [5, 3]},
    "ort.gemm_transpose_b_const": {"x": [5, 3], "shapes": {"0.0": [4, 3]}},
    "ort.conv_add_bias": CONV, "ort.conv_add_bias_4d": CONV, "ort.conv_mul_scale": CONV, "ort.conv_bn": CONV,
    "ort.conv1d_bn": CONV1D,
    "ort.pad_conv": CONV,
    "ort.pad_avgpool": {"x": [1, 2, 4, 4]},
    "ort.matmul_bn": {"x": [5, 3]},
    "ort.matmul_reshape_bn": {"x": [5, 3], "attrs": {"1": {"shape": [5, 4, 1]}}},
    "ort.double_qdq": {"x": [2, 3, 4], "ranges": {"0.1": (0.01, 0.01), "1.1": (0.01, 0.01), "2.1": (0.01, 0.01),
                                                 "3.1": (0.01, 0.01)}},
    "ort.cse_leaky_relu": X3,
    "ort.constant_sharing_cse": X3,
    "ort.const_fold_unary": {"x": [2, 3, 4], "shapes": {"0.0": [3, 4]}},
    "ort.const_fold_binary": {"x": [2, 3, 4], "shapes": {"0.0": [3, 4], "0.1": [3, 4]}},
    "ort.matmul_add_gemm": {"x": [5, 3]},
    "ort.reshape_reshape": {"x": [2, 3, 4], "attrs": {"0": {"shape": [6, 4]}, "1": {"shape": [4, 6]}}},
    "ort.gelu_erf": X3, "ort.gelu_erf_half_first": X3,
    "ort.layer_norm": {"x": [2, 3, 8]},
    "ort.transpose_cancel": X3, "ort.transpose_unary": X3, "ort.transpose_binary": X3,
    "ort.transpose_reduce_sum": X3, "ort.transpose_softmax": X3,
    "ort.transpose_concat": {"x": [2, 3, 4], "shapes": {"1.1": [3, 4, 2]}},
    "ort.transpose_pad": X3, "ort.transpose_slice": X3, "ort.transpose_argmax": X3, "ort.transpose_cast": X3,
    "ort.transpose_unsqueeze": X3,
    "ort.qdq_propagation_transpose": X3,
    # extended
    "ort.conv_relu": CONV, "ort.conv_clip": CONV, "ort.conv_leaky_relu": CONV, "ort.conv_sigmoid": CONV,
    "ort.conv_tanh": CONV, "ort.conv_hard_sigmoid": CONV, "ort.conv1d_relu": CONV1D,
    "ort.gemm_relu": GEMM, "ort.gemm_leaky_relu": GEMM, "ort.gemm_sigmoid": GEMM, "ort.gemm_tanh": GEMM,
    "ort.gemm_elu": GEMM, "ort.gemm_hard_sigmoid": GEMM,
    "ort.fast_gelu_mul": X3, "ort.fast_gelu_pow": {"x": [2, 3, 4], "xrange": (0.1, 2.0)},
    "ort.quick_gelu": X3, "ort.quick_gelu_silu": X3,
    "ort.bias_gelu": X3, "ort.bias_gelu_from_erf": X3,
    "ort.simplified_layer_norm": {"x": [2, 3, 8], "xrange": (0.1, 2.0)},
    "ort.skip_layer_norm": {"x": [2, 3, 8]},
    "ort.matmul_scale_input": {"x": [2, 3, 8], "shapes": {"1.1": [2, 8, 5]}},
    "ort.matmul_scale_output": {"x": [2, 3, 8], "shapes": {"0.1": [2, 8, 5]}},
    "ort.matmul_transpose_a": {"x": [2, 8, 3], "shapes": {"1.1": [2, 8, 5]},
                               "nm": {"perm_moves_batch": {"x": [8, 2, 3], "shapes": {"1.1": [2, 3, 5]}}}},
    "ort.matmul_transpose_b": {"x": [2, 3, 8], "shapes": {"0.0": [2, 5, 8]},
                               "nm": {"perm_moves_batch": {"shapes": {"0.0": [8, 2, 5]}}}},
    "ort.gather_slice_to_split": {"x": [3, 2, 4]},
    "ort.qdq_matmul": {"x": [3, 8], "dt": {"2.0": "i8"}, "shapes": {"2.0": [8, 5]}},
    "ort.qdq_gemm": {"x": [3, 8], "dt": {"2.0": "i8"}, "shapes": {"2.0": [8, 5], "3.2": [5]}},
    "ort.qdq_conv": {"x": [1, 4, 6, 6], "dt": {"2.0": "i8"}, "shapes": {"2.0": [6, 4, 3, 3]}},
    "ort.qdq_add": {"x": [2, 3, 8], "shapes": {"2.0": [2, 3, 8]}},
    "ort.qdq_mul": {"x": [2, 3, 8], "shapes": {"2.0": [2, 3, 8]}},
    "ort.qdq_concat": {"x": [2, 3, 8], "shapes": {"2.0": [2, 3, 8]}},
    "ort.qdq_sigmoid": {"x": [2, 3, 8]}, "ort.qdq_leaky_relu": {"x": [2, 3, 8]}, "ort.qdq_softmax": {"x": [2, 3, 8]},
    "ort.qdq_avg_pool2d": {"x": [1, 4, 6, 6]}, "ort.qdq_global_avg_pool": {"x": [1, 4, 6, 6]},
    "ort.qdq_max_pool2d_drop": {"x": [1, 4, 6, 6]},
    "ort.qdq_transpose_drop": {"x": [2, 3, 8]},
    "ort.qdq_reshape_drop": {"x": [2, 3, 8], "attrs": {"2": {"shape": [6, 8]}}},
    "ort.clip_quantize": {"x": [2, 3, 8], "xrange": (-2.0, 8.0), "xprod": "Neg"},
    "ort.relu_quantize": {"x": [2, 3, 8]},
    # layout
    "ort.nchwc_conv": {"x": [1, 16, 8, 8], "shapes": {"0.1": [16, 16, 3, 3]},
                       "nm": {"group_two": {"shapes": {"0.1": [16, 8, 3, 3]}}}},
    "ort.nchwc_conv_relu": NCHWC, "ort.nchwc_conv_sum_relu": NCHWC,
    "ort.nchwc_maxpool": {"x": [1, 16, 8, 8]}, "ort.nchwc_global_avgpool": {"x": [1, 16, 8, 8]},
    "ort.conv_add_relu": {"x": [1, 4, 6, 6], "shapes": {"0.1": [6, 2, 3, 3]},
                          "nm": {"group_one_nchwc": {"shapes": {"0.1": [6, 4, 3, 3]}}}},
    "ort.nhwc_qlinear_conv": {"x": [1, 4, 6, 6], "shapes": {"1.3": [6, 4, 3, 3]}, "dt": {"1.3": "i8", "1.5": "i8"},
                              "ranges": {"1.5": (0, 0), "1.6": (0.001, 0.002)}},
}
