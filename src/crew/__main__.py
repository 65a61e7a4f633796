from crew.cli.app import main

main()
