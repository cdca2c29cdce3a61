"""Stage download: fetch `data.dataset` from the first of `data.sources` that serves it."""

from blockbench import stage, stages

if __name__ == "__main__":
    stage.main(lambda args, params: stages.download(params),
               stage.parser(__doc__))
