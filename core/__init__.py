"""The base every room stands on: settings, the error family, the data contract, the hand-set rules
file.

Imports no room (``features``, ``training``, ``serving``) and not the CLI; an import contract
checks it.
"""
