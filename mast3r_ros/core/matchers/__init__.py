"""Pair matchers: 2-D/3-D correspondences of a query frame against map keyframes.

`base.PairMatcher` is the protocol the `Localizer` uses; `mast3r.Mast3rMatcher` matches on MASt3R
predictions (`map_encodings`: the keyframe encodings a map caches for it), `sift.SiftMatcher` is
the weight-free baseline. Import from the submodules: the MASt3R one pulls in torch, the SIFT
one does not.
"""
