"""bench/bench_retrieval_threads.py's pieces on tiny inputs: old and new agree, every variant
is timed (the figures themselves are not checked)."""

from mast3r_test_utils import bench_script

from mast3r_ros.core import blas_threads


def test_bench_pieces_agree_and_leave_the_limit_in_place():
    bench = bench_script("bench_retrieval_threads")
    before = blas_threads._controller()
    check = bench.check_same(300, 16)
    assert check["same_indices"] and check["blas_1_bit_equal"]
    res = bench.retrieval_case(300, 16, 2)
    assert set(res) == {"search_old", "search_new", "blas", "blas_1", "einsum", "torch",
                        "rows"}
    assert all(v["median_ms"] > 0 for v in res.values())
    sift = bench.sift_case(50, 1)
    assert set(sift) == {"threaded", "rows", "one_thread"}
    pnp = bench.pnp_case(400, 1)
    assert pnp["same"]["pose_bit_equal"] and pnp["same"]["covariance_max_diff_rel"] < 1e-12
    assert blas_threads._blas is before  # old's swap undone
