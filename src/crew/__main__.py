from crew.cli.app import entry

entry()
