"""Keep pytest out of this folder: it drives Django's own test suite through runtests.py."""

collect_ignore_glob = ["*"]
