"""Entry point of `pulumi up`/`preview`: the program lives in stack_program."""

from stack_program import main

main()
