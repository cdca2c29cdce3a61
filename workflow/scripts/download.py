"""Stage download: fetch `data.dataset` from the first of `data.sources` that serves it."""

from blockbench import cli
from blockbench.stages import download

if __name__ == "__main__":
    p = cli.parser(__doc__)
    cli.main(lambda args, params: download.run(params), p)
