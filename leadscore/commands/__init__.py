"""The commands of ``leadscore``, one module per family of jobs; ``leadscore.cli`` puts them on
the command line."""
