from stylize.cli import main

main()
