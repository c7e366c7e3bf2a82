"""Workflow glue the Snakemake rules call through `unav workflow-step` (steps) and the per-video job
resources they ask the scheduler for (resources)."""
