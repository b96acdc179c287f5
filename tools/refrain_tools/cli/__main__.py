from refrain_tools.cli import main

main()
