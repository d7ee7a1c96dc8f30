"""The logic behind ``tools/analysis_tools``: benchmarks and checks that measure a model.

Each module serves one tool and is imported by its full path (nothing here is
imported by the rest of the package, so importing :mod:`sakbox` stays light):

* :mod:`.train_benchmark` — ``benchmark_train.py`` (s/step per phase, FLOPs, memory, GEMM peak)
* :mod:`.eval_memory_benchmark` — ``benchmark_test_memory.py`` (test-time memory with and
  without teachers)
* :mod:`.dataloader_benchmark` — ``benchmark_dataloader.py``
* :mod:`.teacher_cache_benchmark` — ``benchmark_teacher_cache.py`` (online vs cached targets)
* :mod:`.synthetic_edges` — the synthetic boundary maps of ``benchmark_edge_eval.py``
* :mod:`.teacher_precision_check` — ``teacher_precision_check.py`` (bf16/fp16 vs fp32 targets)
* :mod:`.radio_distill_check` — ``radio_distill_check.py`` (a reduced RADIO distillation)
* :mod:`.router_stats` — ``router_stats.py`` (MoR router weights over a dataset)
* :mod:`.model_complexity` — ``get_flops.py`` (parameters and FLOPs per top-level submodule)
* :mod:`.dataset_browser` — ``browse_dataset.py`` (pipeline output drawn with every task's GT)
* :mod:`.log_analysis` — ``analyze_logs.py`` (curves and training time of ``scalars.json``)

Shared measuring helpers (timing, FLOPs, peak memory, tables) live in
:mod:`sakbox.utils.benchmark`.
"""
