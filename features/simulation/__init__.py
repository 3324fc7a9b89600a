"""The simulator's steps, one module per job; ``features.simulate`` runs them in order.

codes      integer codes and the clock unit shared by every step
leads      the leads' attributes and their hidden intent
touches    organic touches and the touches a decision's outcome causes
signals    what the tables show before a decision time
decisions  MQL entry, delays to the next stage, and the true probabilities
stages     the funnel as legal stage entries
frames     contract-shaped frames, censored at the data end
metadata   parameters, true effects and achieved rates (and ``roc_auc``)
drift      shifts with a known start (sources, a field the form drops, a segment's conversion)
"""
