"""`crew eval`: a suite of features x variants x repeats, each an ordinary crew run, judged by
hidden checks on the resulting branch; pass rate, $, tokens, calls and wall time per variant.

Modules: `suite` (load and check suite.yaml), `workdir` (case repos and variant specs),
`execute` (one case: run or resume, then the hidden checks), `engine` (local threads, the
eval directory, resume), `ray_exec` (the only importer of ray), `results` (aggregation, JSON),
`html` (the self-contained report).
"""
