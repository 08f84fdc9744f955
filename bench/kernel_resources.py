"""Compile the Triton kernels of `core.nn_triton` (and `core.walk_triton`) for NVIDIA GPUs without
one, and report their registers, spills and occupancy.

Triton compiles ahead of time for any target (its wheel bundles ``ptxas`` and ``cuobjdump``),
so this runs on a CPU-only machine: it catches what Triton's CPU interpreter (which the unit
tests use) accepts but the GPU compiler rejects, and shows register pressure, which sets how
many programs an SM keeps resident to hide memory latency. Default targets: sm_90 (H100/H200)
and sm_87 (Jetson AGX Orin). Kernels are compiled as `nn_triton.nn_search` launches them at
D = 24 (MASt3R's descriptor width) with the module's block sizes.

    python bench/kernel_resources.py [--arch 90,87,80] [--json out.json]

Prints one row per (target, kernel variant): registers per thread, stack bytes per thread
(where ptxas spills registers: 0 = no spill), shared memory, resident warps per SM,
occupancy, and the tensor-core (MMA) instructions in the PTX: the TF32 screen must have them,
the IEEE search none. Exit status 1 if a kernel fails to compile, 3 if this Triton's
ahead-of-time API differs (written for the ``ASTSource`` of Triton 3.0-3.1, ``constants``, and
the later one, ``constexprs``). ``TRITON_INTERPRET`` must be unset (the interpreter has no
compiler); this script unsets it. Occupancy: registers are allocated per warp in units of 256;
an SM holds 65536 registers, at most 32 programs and 64 warps (48 on sm_86/sm_87/sm_89), as
CUDA's occupancy calculator counts.
"""

from __future__ import annotations

import argparse
import inspect
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Tuple

os.environ.pop("TRITON_INTERPRET", None)  # before triton is imported
os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")  # Triton's default, stated (no warning)

from benchlib import write_json  # noqa: E402

D = 24
_PTR, _I32, _F32 = "*fp32", "i32", "fp32"
# argument name -> Triton signature type, as nn_search passes them
_TYPES = dict(src_ptr=_PTR, tgt_ptr=_PTR, bad_ptr="*u8", qidx_ptr="*i64", nq_ptr="*i64",
              tn_ptr=_PTR, lb_ptr=_PTR, up_ptr=_PTR, pval_ptr=_PTR, pidx_ptr="*i32",
              n_src=_I32, n_t=_I32, n_qmax=_I32, n_split=_I32, chunk=_I32, screen_c=_F32,
              q0=_I32, n_qc=_I32, out_ptr="*i64", n_out=_I32,
              # core.walk_triton's kernels (walk.FUSED_ROUNDS), as walk._FusedWalk passes them
              xy1_ptr="*i64", xy2_ptr="*i64", act_ptr="*i1", c12_ptr="*i64", c21_ptr="*i64",
              new2_ptr="*i64", go_ptr="*i1", q_ptr="*i64", cnt_ptr="*i32", n_p=_I32, n1=_I32,
              n2=_I32)


class AotApiError(RuntimeError):
    """This Triton's ahead-of-time compile API is not the one this script speaks."""


def variants(nt) -> List[Dict[str, Any]]:
    """(label, kernel, constexprs, used by default) of every kernel nn_search can launch, and
    of the fused walk round's (``module`` walk_triton)."""
    from mast3r_ros.core import walk_triton as wt

    dp = max(16, 1 << (D - 1).bit_length())
    blk = dict(D=D, DP=dp, BQ=nt.BLOCK_Q, BT=nt.BLOCK_T)
    return [
        dict(label="target norms", kernel="_target_norm_kernel", default=True,
             consts=dict(D=D, DP=dp, BT=nt.BLOCK_R)),
        dict(label="TF32 screen", kernel="_screen_kernel", default=True,
             consts=dict(blk, HAS_BAD=True)),
        dict(label="search, screened", kernel="_nn_partial_kernel", default=True,
             consts=dict(blk, HAS_BAD=True, USE_DOT=True, SCREEN=True)),
        dict(label="search, IEEE (no screen)", kernel="_nn_partial_kernel", default=False,
             consts=dict(blk, HAS_BAD=True, USE_DOT=True, SCREEN=False)),
        dict(label="search, fma loop", kernel="_nn_partial_kernel", default=False,
             consts=dict(blk, HAS_BAD=True, USE_DOT=False, SCREEN=False)),
        dict(label="reduce", kernel="_nn_reduce_kernel", default=True,
             consts=dict(BR=nt.BLOCK_R)),
        # the fused walk round's two kernels (off by default: walk.FUSED_ROUNDS)
        dict(label="walk round, between", kernel="_walk_mid_kernel", default=False,
             module="walk_triton", consts=dict(BP=wt.BLOCK_P)),
        dict(label="walk round, after", kernel="_walk_step_kernel", default=False,
             module="walk_triton", consts=dict(BP=wt.BLOCK_P, FINISH=True)),
    ]


def occupancy(regs: int, num_warps: int, arch: int) -> Dict[str, Any]:
    max_warps = 48 if arch in (86, 87, 89) else 64
    per_warp = -(-max(regs, 1) * 32 // 256) * 256
    blocks = min(65536 // (per_warp * num_warps), 32, max_warps // num_warps)
    return {"resident_warps": blocks * num_warps,
            "occupancy": blocks * num_warps / max_warps}


def _ast_source(triton, ast_source, fn, consts: Dict[str, Any]):
    """The kernel as Triton's ahead-of-time compiler takes it. Recent Triton: every argument in
    the signature (constexprs typed "constexpr") and ``constexprs`` keyed by argument-index
    tuples. Triton 3.0-3.1 (3.1 is what pip's CUDA torch 2.5 brings, e.g. on a ROS 2 Jazzy
    machine): only the runtime arguments in the signature and ``constants`` keyed by name, as its
    own `JITFunction.run` builds them. Another API raises AotApiError (not a kernel error)."""
    try:
        if "constexprs" not in inspect.signature(ast_source).parameters and \
                (3, 0) <= _release(triton.__version__) < (3, 2):
            return ast_source(fn=fn, constants=dict(consts),
                              signature={n: _TYPES[n] for n in fn.arg_names if n not in consts})
        sig = {n: ("constexpr" if n in consts else _TYPES[n]) for n in fn.arg_names}
        return ast_source(fn=fn, signature=sig,
                          constexprs={(fn.arg_names.index(k),): c for k, c in consts.items()})
    except TypeError as e:  # another Triton's ahead-of-time API: not a kernel error
        raise AotApiError(f"triton {triton.__version__}: {e}") from e


def _release(version: str) -> Tuple[int, int]:
    m = re.match(r"(\d+)\.(\d+)", version)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def compile_all(archs: List[int]) -> List[Dict[str, Any]]:
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from mast3r_ros.core import nn_triton as nt
    from mast3r_ros.core import walk_triton

    cuobjdump = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "cuobjdump"
    rows = []
    for arch in archs:
        for v in variants(nt):
            mod = walk_triton if v.get("module") == "walk_triton" else nt
            fn = getattr(mod, v["kernel"])
            consts = v["consts"]
            src = _ast_source(triton, ASTSource, fn, consts)
            row: Dict[str, Any] = {"arch": f"sm_{arch}", "kernel": v["kernel"],
                                   "variant": v["label"], "default": v["default"],
                                   "num_warps": mod.NUM_WARPS}
            try:
                k = triton.compile(src, target=GPUTarget("cuda", arch, 32),
                                   options={"num_warps": mod.NUM_WARPS})
            except Exception as e:  # noqa: BLE001  Triton's compile errors have many types
                row["error"] = f"{type(e).__name__}: {str(e).strip().splitlines()[-1][:300]}"
                rows.append(row)
                continue
            # tensor-core instructions in the PTX: the screen must use TF32 MMA (its speed), the
            # IEEE search none (its exactness: a TF32 product there would change indices)
            mma = re.findall(r"\b(?:w?gmma|mma\.sync)\.[\w.]+", k.asm["ptx"])
            row.update(mma_instructions=len(mma),
                       tf32_mma_instructions=sum(".tf32" in m for m in mma))
            with tempfile.TemporaryDirectory() as d:
                cubin = Path(d) / "k.cubin"
                cubin.write_bytes(k.asm["cubin"])
                out = subprocess.run([str(cuobjdump), "--dump-resource-usage", str(cubin)],
                                     capture_output=True, text=True, check=True).stdout
            res = dict((m.group(1), int(m.group(2)))
                       for m in re.finditer(r"(REG|LOCAL|SHARED|STACK):(\d+)", out))
            # ptxas puts spilled registers in the stack frame (STACK); LOCAL is static local data
            row.update(registers=res["REG"], spill_bytes=res["STACK"] + res["LOCAL"],
                       shared_bytes=res["SHARED"], **occupancy(res["REG"], mod.NUM_WARPS, arch))
            rows.append(row)
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    p.add_argument("--arch", default="90,87",
                   help="compute capabilities, comma-separated (90 H100/H200, 87 Jetson Orin, "
                        "80 A100, 89 L4/RTX 40)")
    p.add_argument("--json", help="also write the rows here")
    args = p.parse_args(argv)
    try:
        archs = [int(a) for a in args.arch.split(",")]
    except ValueError:
        print(f"error: --arch wants integers like 90,87, got {args.arch!r}", file=sys.stderr)
        return 2
    from mast3r_ros.core.matching.backend import _triton_error

    if _triton_error() is not None:
        print(f"error: this needs Triton >= 3.0 (pip install -e '.[triton]' in the checkout): "
              f"{_triton_error()}", file=sys.stderr)
        return 2
    try:
        rows = compile_all(archs)
    except AotApiError as e:
        print(f"error: cannot compile ahead of time with this Triton ({e})", file=sys.stderr)
        return 3
    print(f"{'target':<7} {'kernel variant':<27}{'regs':>5}{'spill B':>8}{'shared B':>9}"
          f"{'warps/SM':>9}{'occup.':>8}{'MMA (TF32)':>12}")
    for r in rows:
        name = r["variant"] + ("" if r["default"] else " *")
        if "error" in r:
            print(f"{r['arch']:<7} {name:<27} COMPILE ERROR {r['error']}")
            continue
        print(f"{r['arch']:<7} {name:<27}{r['registers']:>5}{r['spill_bytes']:>8}"
              f"{r['shared_bytes']:>9}{r['resident_warps']:>9}{100 * r['occupancy']:>7.0f}%"
              f"{r['mma_instructions']:>6} ({r['tf32_mma_instructions']})")
    print("* not used by default (TF32_SCREEN / USE_DOT switched off, walk.FUSED_ROUNDS on); "
          "MMA: tensor-core instructions in the PTX (TF32 ones in brackets)")
    if args.json:
        write_json(args.json, {"d": D, "rows": rows})
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
