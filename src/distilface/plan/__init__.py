"""The experiment plan: what each objective reads and needs (:mod:`.objectives`) and the run
grid a config describes (:mod:`.grid`: variants x ablations x seeds -> runs, their ids, folders
and each rule's parameters).

Torch-free: the Snakefile, the report and ``reproduce`` read it at parse time. May import
:mod:`distilface.core` and :mod:`distilface.data`; the training loop and the report read it,
it reads neither.
"""
