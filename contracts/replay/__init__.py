"""Replayable failures: each failure's minimal sequence of requests, stored with a stable id, re-sent on demand.

``contracts replay ID`` re-sends it against a target and shows whether it STILL FAILS or NOW PASSES.

Modules: ``steps`` (a request, its bindings to earlier answers, the failure id), ``tape`` (what a suite sent),
``capture`` (artefacts for failures), ``judgement`` (what a replay re-applies), ``artefact`` (the file),
``resend`` (sending a sequence again), ``command`` (the subcommand). Kept import-light: ``tape`` is imported
by ``contracts.meter``.
"""
