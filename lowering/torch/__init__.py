"""lowering/torch"""
