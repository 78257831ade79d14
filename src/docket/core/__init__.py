"""docket.core: formats, versions, migrations, policies and the registry.

No database, no command line, no file system beyond reading schema directories
(:mod:`~docket.core.documents`). Everything above it (store, backup, cli, testing) builds on it.
"""
