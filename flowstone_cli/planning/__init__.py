"""Selection expressions and plans: which steps run, in what order, and why.
"""
