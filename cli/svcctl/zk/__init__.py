"""The ZooKeeper side: four-letter words, client sessions, tree reads."""
