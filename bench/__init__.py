"""convspec's benchmarks: asv classes (convolution.py, machine.py) and pytest-benchmark
comparisons (test_*.py). See bench/README.md."""
