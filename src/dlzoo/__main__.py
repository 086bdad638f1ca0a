from dlzoo.cli import main

main()
