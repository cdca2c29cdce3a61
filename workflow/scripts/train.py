"""Stage train: train one named run (`runs.<name>`) on its split; write model, history and facts."""

from blockbench import stage, stages

if __name__ == "__main__":
    p = stage.parser(__doc__)
    p.add_argument("--run", required=True, help="name of the run in params.yaml `runs`")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    stage.main(lambda args, params: stages.train(params, args.run, args.threads), p)
