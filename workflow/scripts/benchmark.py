"""Stage benchmark: time training steps and inference per architecture of `benchmark.runs`."""

from blockbench import cli
from blockbench.stages import benchmark

if __name__ == "__main__":
    cli.main(lambda args, params: benchmark.run(params), cli.parser(__doc__))
