"""Torch-free core: names, types, path templates, file writes, provenance, logging, config.

Imports nothing else of the package; heavy libraries (torch) only inside the functions that
need them, so ``snakemake`` parsing the Snakefile and the report stay light.
"""
