"""A Kubernetes API emulator for tests, built on kmock: no real cluster can run on our machines.

Test infrastructure only. See ``tests/kube/emulator.py`` for what it emulates and what it does not.
"""
