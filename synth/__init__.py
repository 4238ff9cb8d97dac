"""The offline synth: what a stack would build, without the Pulumi CLI, AWS or network
(``python -m synth``; the command line is in :mod:`synth.cli`)."""
