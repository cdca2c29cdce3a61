"""Stage train: train one named run (`runs.<name>`) on its split; write model, history and facts."""

from blockbench import cli
from blockbench.stages import train

if __name__ == "__main__":
    p = cli.parser(__doc__)
    p.add_argument("--run", required=True, help="name of the run (results/configs/<run>.yaml)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    cli.main(lambda args, params: train.run(params, args.run, args.threads), p)
