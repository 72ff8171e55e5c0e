"""The ``zhijiao`` command line: ``main`` holds the group and its commands, ``scoring`` the score's commands."""
