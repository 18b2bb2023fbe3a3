ignored: not at the root
