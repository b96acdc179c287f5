from refrain.cli import main

main()
