"""The base every room stands on: settings, the error family, the data contract and the
hand-set rules file. It imports no room and not the CLI (the import contract checks it)."""
