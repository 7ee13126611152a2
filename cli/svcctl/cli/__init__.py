"""The command-line layer: one module per command group; parsing and printing only."""
