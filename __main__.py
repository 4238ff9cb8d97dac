"""Entry point of `pulumi up`/`preview`: the program lives in components.program."""

from components.program import main

main()
