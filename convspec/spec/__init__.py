"""The executable specification: every formula of the notes as a function or a geometry type.

Nothing here imports the verification (:mod:`convspec.verify`) or performance
(:mod:`convspec.perf`) code; the package's public names are re-exported by :mod:`convspec`.
"""
