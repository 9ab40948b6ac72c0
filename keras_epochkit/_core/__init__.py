"""The model-free core shared by criteria, callbacks and analysis.

Nothing here imports Keras or a deep-learning backend, so `epochkit analyze`
and the criteria replay on recorded logs with NumPy alone.
"""
