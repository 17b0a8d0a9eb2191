"""flowkit runs each step under the domain's ``threads`` setting, in that thread only."""

import torch

from pipelines.flowkit import timed_step
from shared.runs import RunContext


def _ctx(threads):
    return RunContext(domain="x", run_id="r", run_dir="/nonexistent", profile="quick", device="cpu",
                      seed=0, config={} if threads is None else {"threads": threads}).to_dict()


def test_step_sees_the_configured_thread_limit_and_it_is_restored():
    from threadpoolctl import threadpool_info

    def omp_threads():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp"]

    before, torch_before = omp_threads(), torch.get_num_threads()
    seen = timed_step(lambda ctx, prev: {"omp": omp_threads()}, _ctx(1), {}, 0)["record"]["omp"]
    assert seen and all(n == 1 for n in seen)
    assert omp_threads() == before and torch.get_num_threads() == torch_before
    unlimited = timed_step(lambda ctx, prev: {"omp": omp_threads()}, _ctx(None), {}, 0)["record"]["omp"]
    assert unlimited == before
