"""Standalone: relax.transform.FuseTransposeMatmul (TVM 0.27.0.post1) crashes when the
permute_dims result is also returned from the function (a second use outside the matmul)."""
import tvm
from tvm import relax
from tvm.script import relax as R


@tvm.script.ir_module
class Mod:
    @R.function
    def main(x: R.Tensor((4, 16), "float32"), w: R.Tensor((12, 16), "float32")):
        with R.dataflow():
            wt = R.permute_dims(w, [1, 0])
            y = R.matmul(x, wt)
            out = (y, wt)
            R.output(out)
        return out


try:
    relax.transform.FuseTransposeMatmul()(Mod)
    print("no crash")
except Exception as e:  # 0.27.0.post1: AttributeError: 'TupleType' object has no attribute 'dtype'
    print(f"{type(e).__name__}: {e}")
