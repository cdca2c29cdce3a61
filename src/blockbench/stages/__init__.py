"""The body of each pipeline stage, one module each: read inputs from files, compute, write outputs
atomically. A stage imports only what it uses, so its code dependencies (derived by `codedeps`)
are exactly its own."""
