"""The MASt3R / DUSt3R network, checkpoint loading, preprocessing and the inference engine."""
