from billion_songs.cli import main

main()
